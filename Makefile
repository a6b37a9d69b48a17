# The few targets a person needs. `make demo` and `make test` set up everything themselves.
SHELL := bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help demo test lint unit e2e e2e-kind bench-kind images cluster-up cluster-down crd manifests bench bench-rollouts clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(BIN)/spofless: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

demo: $(BIN)/spofless ## bring up a local 3-zone cluster, run the operator, apply examples/ and watch
	hack/demo.sh

test: $(BIN)/spofless ## lint, unit and e2e tests on a local KWOK cluster, the data-center scenarios, then the e2e suite on kind (real containers)
	hack/test.sh

lint: $(BIN)/spofless ## ruff, mypy, the layering contract (the core imports no cluster library), shellcheck on hack/, the docs site
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/shellcheck -x -P SCRIPTDIR $$(grep -rlE '^#!/usr/bin/env bash' hack) hack/lib/*.sh plugins/krew/kubectl-spofless
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict  # into build/site (ignored): broken links fail

unit: $(BIN)/spofless ## the pure-core tests, no cluster needed
	$(BIN)/pytest tests/unit

e2e: $(BIN)/spofless ## the e2e suite against the cluster in KUBECONFIG (kind included)
	$(BIN)/pytest tests/e2e

e2e-kind: $(BIN)/spofless ## the e2e suite on a kind cluster with real containers (Docker; builds and caches its images)
	hack/kind-e2e.sh

bench-kind: $(BIN)/spofless ## requests through a zone outage and an operator kill, on kind (SPOFLESS_NODE_GRACE=12s to tune)
	hack/kind-e2e.sh --bench

images: ## build (cached) the operator, test site, traffic and kind node images (Docker)
	hack/images.sh

cluster-up: ## build (cached) and start the local cluster; prints the KUBECONFIG line
	hack/cluster.sh up

cluster-down: ## stop and remove the local cluster
	hack/cluster.sh down

crd: $(BIN)/spofless ## regenerate crds/ (and the chart's copy, and install.yaml) from the models
	$(BIN)/spofless crd > crds/resilientsite.yaml
	cp crds/resilientsite.yaml manifests/crds/resilientsite.yaml
	hack/render-manifests.sh

manifests: ## re-render manifests/install.yaml from the chart (helm is built and cached)
	hack/render-manifests.sh

bench: $(BIN)/spofless ## latency, scale, failure and steady-state benchmarks on the local cluster
	hack/bench.sh

bench-rollouts: $(BIN)/spofless ## rollout duration, time to a halt, lowest ready pods (RUNS=5 BAKE=3)
	hack/measure-rollouts.sh $(or $(RUNS),5) $(or $(BAKE),3)

clean: ## remove the virtualenv and caches in the repo (the tool cache outside it stays)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
