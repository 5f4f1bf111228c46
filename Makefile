# directory-sync operator. `make help` lists the targets.

K8S_VERSION ?= 1.37.2
IMG ?= directory-sync-operator:dev
KUBECTL ?= kubectl
# A kustomize build command; kubectl's embedded kustomize by default.
KUSTOMIZE ?= $(KUBECTL) kustomize
# Overlay deployed by make deploy/undeploy: config/default, config/with-webhook or config/namespaced.
OVERLAY ?= config/default
# Where make release-manifests writes install.yaml (not committed: built per release).
DIST ?= dist
CONTROLLER_GEN = go tool controller-gen
# Envtest binaries built from source by hack/setup-envtest.sh (the usual download is not reachable).
ENVTEST_ASSETS = $(CURDIR)/bin/k8s/$(K8S_VERSION)
SCIM_SERVER_DIR = test/scim-server
GO_TEST_FLAGS ?= -race -count=1
FUZZTIME ?= 10s
GOLANGCI_LINT_VERSION ?= v2.15.0
# Built from the Go module proxy by hack/install-golangci-lint.sh (cached per machine).
GOLANGCI_LINT = $(CURDIR)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: all
all: build

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate CRDs and RBAC from the kubebuilder markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd:allowDangerousTypes=false webhook \
		paths="./api/..." paths="./controllers/..." paths="./internal/webhook/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac \
		output:webhook:artifacts:config=config/webhook
	hack/sync-manifests.sh

.PHONY: generate
generate: ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files differ from the committed ones.
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make manifests generate' and commit"; exit 1; }

.PHONY: tidy
tidy: ## go mod tidy.
	go mod tidy

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (.golangci.yml: standard linters plus depguard layering rules).
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	hack/install-golangci-lint.sh $(GOLANGCI_LINT_VERSION) $@

.PHONY: verify
verify: tidy generate manifests fmt lint ## Fail unless go.mod is tidy, generated files current, code formatted and lint clean.
	@git diff --exit-code || { echo "make verify changed files: run 'make tidy generate manifests fmt', fix 'make lint', commit"; exit 1; }

.PHONY: envtest
envtest: $(ENVTEST_ASSETS)/kube-apiserver ## Build kube-apiserver and etcd for envtest (cached under bin/).
$(ENVTEST_ASSETS)/kube-apiserver:
	K8S_VERSION=$(K8S_VERSION) hack/setup-envtest.sh

.PHONY: test-deps
test-deps: envtest ## Install what the tests need: envtest binaries, slapd, the SCIM test server's packages.
	hack/install-deps.sh

.PHONY: test
test: test-deps vet ## Run all tests: unit, envtest (real kube-apiserver+etcd), slapd and SCIM server integration.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test $(GO_TEST_FLAGS) ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each.
	hack/fuzz.sh $(FUZZTIME)

.PHONY: bench
BENCH_FLAGS ?=
bench: test-deps ## Run every benchmark beside its floor; rewrites test/bench/RESULTS.md and README's Performance figures.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./test/bench -results test/bench/RESULTS.md -readme README.md $(BENCH_FLAGS)

##@ Build

.PHONY: build
build: generate ## Build the manager binary.
	go build -o bin/manager ./cmd

.PHONY: run
run: manifests generate ## Run the manager against the cluster in ~/.kube/config.
	go run ./cmd

.PHONY: demo
demo: test-deps ## Run the whole sync loop locally, no cluster needed (the README's main command).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go run ./cmd/demo

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster in ~/.kube/config.
	kubectl apply -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs.
	kubectl delete -k config/crd --ignore-not-found

# deploy renders the overlay with IMG set in a temporary overlay (no tracked file changes) and fails
# when rendering fails.
.PHONY: deploy
deploy: manifests ## Deploy the operator (CRDs, RBAC, manager) from OVERLAY with image IMG.
	KUSTOMIZE="$(KUSTOMIZE)" KUBECTL="$(KUBECTL)" hack/deploy.sh $(OVERLAY) $(IMG)

.PHONY: undeploy
undeploy: ## Remove the operator: custom resources first (while the manager runs), then the rest.
	KUSTOMIZE="$(KUSTOMIZE)" KUBECTL="$(KUBECTL)" hack/undeploy.sh $(OVERLAY)

.PHONY: release-manifests
release-manifests: ## Write $(DIST)/install.yaml (CRDs, RBAC, manager) for `kubectl apply -f`, image IMG.
	@mkdir -p $(DIST)
	KUSTOMIZE="$(KUSTOMIZE)" hack/render.sh config/default $(IMG) > $(DIST)/install.yaml.tmp
	mv $(DIST)/install.yaml.tmp $(DIST)/install.yaml
	@echo "wrote $(DIST)/install.yaml"
