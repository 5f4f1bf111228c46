package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
)

// The webhook runs in a manager against a real kube-apiserver (envtest installs the generated
// ValidatingWebhookConfiguration pointing at it), so this is what `kubectl apply` would see.
func TestMappingRuleWebhookRejectsBadCEL(t *testing.T) {
	ctx := context.Background()
	c := k8s
	rule := func(name string, fields ...v1.FieldMapping) *v1.MappingRule {
		return &v1.MappingRule{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: v1.MappingRuleSpec{Fields: fields}}
	}
	good := rule("good", v1.FieldMapping{Target: "userName", From: "uid"},
		v1.FieldMapping{Target: "displayName", Expression: "record.attrs.givenName + ' ' + record.attrs.sn"})
	if err := c.Create(ctx, good); err != nil {
		t.Fatalf("a valid rule was rejected: %v", err)
	}

	bad := rule("bad", v1.FieldMapping{Target: "userName", From: "uid"},
		v1.FieldMapping{Target: "email", Expression: "record.attrs.mail +"})
	err := c.Create(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "spec.fields[email].expression") || !strings.Contains(err.Error(), "Syntax error") {
		t.Fatalf("want a rejection naming spec.fields[email].expression with the CEL syntax error, got %v", err)
	}
	t.Logf("kubectl apply would print: %v", err)

	wrongType := rule("wrong-type", v1.FieldMapping{Target: "userName", From: "uid"})
	wrongType.Spec.Scope = "record.attrs.uid"
	if err := c.Create(ctx, wrongType); err == nil || !strings.Contains(err.Error(), "spec.scope") {
		t.Fatalf("want a rejection of a scope that is not bool, got %v", err)
	}

	// Attribute paths are checked: syntax by the CRD, meaning by the compiler.
	unknownAttr := rule("unknown-attr", v1.FieldMapping{Target: "userName", From: "uid"},
		v1.FieldMapping{Target: "shoeSize", From: "shoe"})
	if err := c.Create(ctx, unknownAttr); err == nil || !strings.Contains(err.Error(), "spec.fields[shoeSize].target") ||
		!strings.Contains(err.Error(), "extension URN") {
		t.Fatalf("want a rejection of an attribute the core schema lacks, got %v", err)
	}
	wrongAttrType := rule("wrong-attr-type", v1.FieldMapping{Target: "userName", From: "uid"},
		v1.FieldMapping{Target: "nickName", From: "nick", Type: "integer"})
	if err := c.Create(ctx, wrongAttrType); err == nil || !strings.Contains(err.Error(), "spec.fields[nickName].type") {
		t.Fatalf("want a rejection of a type the RFC contradicts, got %v", err)
	}
	paths := rule("paths", v1.FieldMapping{Target: "userName", From: "uid"},
		v1.FieldMapping{Target: `phoneNumbers[type eq "mobile"].value`, From: "mobile"},
		v1.FieldMapping{Target: "urn:example:acme:2.0:User:startDate", From: "whenCreated", Type: "dateTime"})
	if err := c.Create(ctx, paths); err != nil {
		t.Fatalf("a rule with attribute paths was rejected: %v", err)
	}

	// Updates are checked too.
	good.Spec.Fields[1].Expression = "undefinedVariable"
	if err := c.Update(ctx, good); err == nil || !strings.Contains(err.Error(), "spec.fields[displayName].expression") {
		t.Fatalf("want an update with an undeclared variable rejected, got %v", err)
	}
}
