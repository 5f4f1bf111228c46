package ldap

import (
	"errors"
	"strings"
	"testing"

	"github.com/directory-sync/directory-sync-operator/internal/directory"
)

func validConfig() Config {
	return Config{URL: "ldap://127.0.0.1:389", BaseDN: "dc=example,dc=com", BindDN: "cn=sync,dc=example,dc=com", BindPassword: "x"}
}

func TestValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		kind   directory.ErrorKind
		msg    string
	}{
		{"no url", func(c *Config) { c.URL = "" }, directory.KindInvalidConfig, "url is required"},
		{"http url", func(c *Config) { c.URL = "http://x" }, directory.KindInvalidConfig, "ldap:// or ldaps://"},
		{"starttls on ldaps", func(c *Config) { c.URL, c.StartTLS = "ldaps://x:636", true }, directory.KindInvalidConfig, "startTLS"},
		{"bad CA", func(c *Config) { c.CACertPEM = []byte("nope") }, directory.KindInvalidConfig, "caCert"},
		{"no base", func(c *Config) { c.BaseDN = "" }, directory.KindInvalidConfig, "baseDN is required"},
		{"bad base", func(c *Config) { c.BaseDN = "not a dn" }, directory.KindInvalidConfig, "baseDN"},
		{"bad scope", func(c *Config) { c.Scope = "deep" }, directory.KindInvalidConfig, "scope"},
		{"bad filter", func(c *Config) { c.UserFilter = "(&(uid=a)" }, directory.KindInvalidFilter, "does not compile"},
		{"bad attribute", func(c *Config) { c.Attributes = []string{"mail", "a b"} }, directory.KindInvalidConfig, `attribute "a b"`},
		{"negative page", func(c *Config) { c.PageSize = -1 }, directory.KindInvalidConfig, "pageSize"},
		{"unknown group mode", func(c *Config) { c.Groups.Mode = "nested" }, directory.KindInvalidConfig, "groups.mode"},
		{"bad group filter", func(c *Config) { c.Groups = GroupsConfig{Mode: GroupsRecursive, GroupFilter: "(cn="} }, directory.KindInvalidFilter, "groupFilter"},
		{"disabled attr missing", func(c *Config) { c.Disabled.Mode = DisabledAttribute }, directory.KindInvalidConfig, "disabled.attribute"},
		{"unknown disabled mode", func(c *Config) { c.Disabled.Mode = "locked" }, directory.KindInvalidConfig, "disabled.mode"},
		{"since without attribute", func(c *Config) { c.Incremental.Since = "1" }, directory.KindInvalidConfig, "incremental.attribute"},
		{"password without dn", func(c *Config) { c.BindDN = "" }, directory.KindInvalidConfig, "bindDN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if directory.KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Validate() = %v; want kind %s mentioning %q", err, tt.kind, tt.msg)
			}
			if _, nerr := New(c); !errors.Is(nerr, err) && nerr.Error() != err.Error() {
				t.Fatalf("New() = %v, want the validation error", nerr)
			}
		})
	}
}
