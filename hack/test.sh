#!/usr/bin/env bash
# `make test`: lint, bring the local cluster up, install the rendered chart (server-side dry run,
# then for real), and run the unit, chart and e2e suites in one pytest run with the operator running
# as the chart's ServiceAccount. Tears the cluster down even when a test fails
# (SPOFLESS_KEEP_CLUSTER=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/tools.sh
BIN=.venv/bin

log "lint: ruff, mypy, the layering contract"
make --no-print-directory lint

log "tools: helm (cached after the first build)"
build_helm
export HELM; HELM=$(helm_bin)

log "local cluster"
# A broken earlier run may have left one behind: start from a clean cluster.
hack/cluster.sh down >&2 || true
hack/cluster.sh up >/dev/null
if [[ ${SPOFLESS_KEEP_CLUSTER:-0} != 1 ]]; then
  trap 'log "tearing the cluster down"; hack/cluster.sh down >&2' EXIT
fi
eval "$(hack/cluster.sh env)"
export SPOFLESS_E2E_LOCAL_CLUSTER=1 # the suite may restart this cluster's kube-apiserver

log "install: manifests/install.yaml, server-side dry run, then applied"
# A dry run cannot create what later objects need: the CRDs and the namespace go first, for real.
kubectl apply --server-side -f crds/ >/dev/null
wait_crds_established
kubectl create namespace spofless-system >/dev/null
kubectl apply --server-side --dry-run=server -f manifests/install.yaml >/dev/null
kubectl apply --server-side -f manifests/install.yaml >/dev/null
# The e2e suite runs the operator as this account, with a token: the role must be enough.
export SPOFLESS_E2E_SERVICE_ACCOUNT=spofless-system/spofless

log "unit, chart and e2e tests"
$BIN/pytest tests "$@"
