#!/usr/bin/env bash
# `make test`: lint, bring the local cluster up, install the rendered chart (server-side dry run,
# then for real), and run the unit, chart and e2e suites in one pytest run with the operator running
# as the chart's ServiceAccount. Tears the cluster down even when a test fails
# (SPOFLESS_KEEP_CLUSTER=1 keeps it). Then the data-center scenarios (tests/datacenters) on three
# small local clusters with etcd and CoreDNS (hack/datacenters.sh). Then the kind suite
# (hack/kind-e2e.sh): real containers, the operator's image installed with the chart, zones that
# really die. It needs Docker, installed and
# started here if missing; where Docker cannot run, this fails and says so. SPOFLESS_KIND=0 runs
# everything but the kind suite, and says that too.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/tools.sh
BIN=.venv/bin

KIND=${SPOFLESS_KIND:-1}
if [[ $KIND != 0 ]]; then
  # First, so a machine where Docker cannot run fails now rather than after the KWOK suite.
  source hack/lib/docker.sh
  ensure_docker
fi

log "lint: ruff, mypy, the layering contract"
make --no-print-directory lint

log "tools: chromium (Debian's), for the screenshot of spofless audit -o html"
command -v chromium >/dev/null || apt_install chromium
export SPOFLESS_REQUIRE_CHROMIUM=1 # the screenshot tests fail, rather than skip, without it

log "tools: helm and kube-score (cached after the first build), promtool and prometheus (Debian's)"
build_helm
export HELM; HELM=$(helm_bin)
build_kube_score
export KUBE_SCORE; KUBE_SCORE=$(kube_score_bin)
ensure_prometheus

log "local cluster"
# A broken earlier run may have left one behind: start from a clean cluster.
hack/cluster.sh down >&2 || true
hack/cluster.sh up >/dev/null
teardown() {
  [[ ${SPOFLESS_KEEP_CLUSTER:-0} == 1 ]] && return 0
  log "tearing the cluster down"
  hack/cluster.sh down >&2
}
trap teardown EXIT
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
start=$SECONDS
$BIN/pytest tests --ignore=tests/datacenters --ignore=tests/datacenters_kind --durations=15 "$@"
log "TIME KWOK suite (unit, chart, e2e): $((SECONDS - start)) s"
trap - EXIT
teardown # the local cluster goes before the next ones come up: 2 cores are enough for one set at a time

log "data-center scenarios: three small local clusters, one etcd across them, one CoreDNS each (hack/datacenters.sh)"
start=$SECONDS
hack/datacenters.sh down >&2 || true
eval "$(hack/datacenters.sh up)"
datacenters_down() {
  [[ ${SPOFLESS_KEEP_CLUSTER:-0} == 1 ]] && return 0
  hack/datacenters.sh down >&2
}
trap datacenters_down EXIT
$BIN/pytest tests/datacenters -rA "$@"
trap - EXIT
datacenters_down
log "TIME data-center scenarios: $((SECONDS - start)) s"

if [[ $KIND == 0 ]]; then
  log "WARNING: the kind suite did NOT run (SPOFLESS_KIND=0): nothing ran on real containers"
else
  log "kind suite: hack/kind-e2e.sh (a cold first run builds its images: about 25 minutes on 2 cores)"
  hack/kind-e2e.sh
fi
