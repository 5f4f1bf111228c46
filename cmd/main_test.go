package main

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/directory-sync/directory-sync-operator/controllers"
)

func TestParseFlags(t *testing.T) {
	f, err := parseFlags([]string{
		"--leader-elect", "--leader-election-namespace=ops", "--watch-namespaces=team-a, team-b,,team-a",
		"--metrics-bind-address=:9443", "--metrics-secure=false", "--zap-log-level=debug",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := f.manager
	if !m.LeaderElect || m.LeaderElectionNamespace != "ops" || m.MetricsAddr != ":9443" || m.SecureMetrics {
		t.Errorf("parsed %+v", m)
	}
	if !reflect.DeepEqual(m.WatchNamespaces, []string{"team-a", "team-b"}) {
		t.Errorf("watch namespaces %q", m.WatchNamespaces)
	}
	d, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !d.manager.SecureMetrics || d.manager.MetricsAddr != ":8443" || d.manager.WatchNamespaces != nil {
		t.Errorf("defaults %+v: metrics must be secure on :8443 and all namespaces watched", d.manager)
	}
	if _, err := parseFlags([]string{"stray"}, io.Discard); err == nil {
		t.Error("a stray argument was accepted")
	}
}

// Regression: out of cluster, --leader-elect failed with controller-runtime's "please specify
// LeaderElectionNamespace" and there was no flag to do so; the error now names the flag.
func TestLeaderElectionOutOfClusterNamesTheFlag(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	_, err := controllers.NewManager(cfg, controllers.ManagerConfig{LeaderElect: true, MetricsAddr: "0", ProbeAddr: "0", SkipNameValidation: true})
	if err == nil || !strings.Contains(err.Error(), "--leader-election-namespace") {
		t.Fatalf("want an error naming --leader-election-namespace, got %v", err)
	}
}
