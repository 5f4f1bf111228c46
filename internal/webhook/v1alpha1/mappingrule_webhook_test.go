package v1alpha1_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	v1 "github.com/directory-sync/directory-sync-operator/api/v1alpha1"
	webhookv1 "github.com/directory-sync/directory-sync-operator/internal/webhook/v1alpha1"
)

// The webhook runs in a manager against a real kube-apiserver (envtest installs the generated
// ValidatingWebhookConfiguration pointing at it), so this is what `kubectl apply` would see.
func TestMappingRuleWebhookRejectsBadCEL(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`")
	}
	root := filepath.Join("..", "..", "..")
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")}},
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	wo := env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wo.LocalServingHost, Port: wo.LocalServingPort, CertDir: wo.LocalServingCertDir,
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := webhookv1.SetupMappingRuleWebhook(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()
	waitForTLS(t, fmt.Sprintf("%s:%d", wo.LocalServingHost, wo.LocalServingPort))

	c := mgr.GetClient()
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
	err = c.Create(ctx, bad)
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

func waitForTLS(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe only
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook server at %s did not start: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
