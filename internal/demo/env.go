package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const modulePath = "github.com/directory-sync/directory-sync-operator"

// moduleRoot finds the repository root: walking up from this source file (go run, go test) and
// then from the working directory (a built binary run inside the checkout).
func moduleRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			if isModuleRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find the directory-sync source tree (go.mod of " + modulePath +
		"); run the demo from inside the repository")
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == modulePath
		}
	}
	return false
}

// envtestAssets returns the directory holding kube-apiserver and etcd: KUBEBUILDER_ASSETS, or the
// newest version under bin/k8s that `make test-deps` builds.
func envtestAssets(root string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if err := hasControlPlane(dir); err != nil {
			return "", fmt.Errorf("KUBEBUILDER_ASSETS=%s: %w; run `make test-deps`", dir, err)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "*"))
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, dir := range dirs {
		if hasControlPlane(dir) == nil {
			return dir, nil
		}
	}
	return "", errors.New("kube-apiserver and etcd not found: set KUBEBUILDER_ASSETS or run `make test-deps` " +
		"(it builds them into bin/k8s), or simply run `make demo`")
}

func hasControlPlane(dir string) error {
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return fmt.Errorf("no %s there", bin)
		}
	}
	return nil
}

var placeholder = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)

// loadManifests reads the YAML files of dir in name order, fills in ${NAME} placeholders from vars
// and decodes every document. An unknown placeholder is an error.
func loadManifests(dir string, vars map[string]string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", dir)
	}
	sort.Strings(files)
	var objs []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var missing []string
		data = placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
			name := string(placeholder.FindSubmatch(m)[1])
			v, ok := vars[name]
			if !ok {
				missing = append(missing, name)
				return m
			}
			return []byte(v)
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s: unknown placeholders %v", f, missing)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

// applyAll creates the objects in namespace ns, in order.
func applyAll(ctx context.Context, c client.Client, ns string, objs []*unstructured.Unstructured) ([]string, error) {
	var names []string
	for _, obj := range objs {
		obj.SetNamespace(ns)
		if err := c.Create(ctx, obj); err != nil {
			return names, fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		names = append(names, obj.GetKind()+"/"+obj.GetName())
	}
	return names, nil
}
