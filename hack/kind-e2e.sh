#!/usr/bin/env bash
# The e2e suite against the operator's image, installed with its Helm chart on a real kind cluster
# (3 zones x 2 workers, hack/kind-config.yaml). Needs Docker, kind, kubectl and, for helm, Go (or helm
# on PATH, or HELM=/path/to/helm). Not what `make test` runs: that needs no Docker.
#
#   hack/kind-e2e.sh [PYTEST_ARGS...]    default: tests/e2e without test_failover.py
#
# KEEP=1 keeps the cluster (kind delete cluster --name spofless-e2e removes it); KIND_CLUSTER names it;
# KIND_NODE_IMAGE picks the node image. The zone-outage tests (test_failover.py) need KWOK's
# node-not-ready stage, which only the local KWOK cluster (hack/cluster.sh) has; pass tests/e2e to run
# them anyway.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HACK_DIR/.." && pwd)
# shellcheck source=SCRIPTDIR/lib/tools.sh
source "$HACK_DIR/lib/tools.sh"
cd "$ROOT"

CLUSTER=${KIND_CLUSTER:-spofless-e2e}
NAMESPACE=spofless-system
IMAGE=spofless:dev
KEEP=${KEEP:-0}
if (($#)); then PYTEST_ARGS=("$@"); else PYTEST_ARGS=(tests/e2e --ignore=tests/e2e/test_failover.py); fi

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
[[ -x .venv/bin/pytest ]] || die ".venv is missing: run make (or: python3 -m venv .venv && .venv/bin/pip install -e '.[test]')"
if [[ -z ${HELM:-} ]]; then
  if command -v helm >/dev/null; then HELM=$(command -v helm); else build_helm; HELM=$(helm_bin); fi
fi

WORK=$(mktemp -d)
export KUBECONFIG=$WORK/kubeconfig # the cluster's own kubeconfig: ~/.kube/config is left alone

finish() {
  local rc=$?
  if ((rc != 0)) && [[ -s $KUBECONFIG ]]; then
    log "failed (exit $rc); the operator's state and logs:"
    kubectl -n "$NAMESPACE" get all -o wide >&2 || true
    kubectl -n "$NAMESPACE" logs -l app.kubernetes.io/component=operator --all-containers --prefix --tail=100 >&2 || true
  fi
  if [[ $KEEP == 1 ]]; then
    log "keeping cluster $CLUSTER (KUBECONFIG=$KUBECONFIG); remove it with: kind delete cluster --name $CLUSTER"
  else
    log "deleting cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" >&2 || true
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap finish EXIT

log "creating kind cluster $CLUSTER"
kind create cluster --name "$CLUSTER" --config "$HACK_DIR/kind-config.yaml" --kubeconfig "$KUBECONFIG" \
  ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"} --wait 180s >&2
kubectl get nodes -L topology.kubernetes.io/zone >&2

log "building $IMAGE"
docker build -t "$IMAGE" . >&2
kind load docker-image "$IMAGE" --name "$CLUSTER" >&2

log "installing the chart"
# The namespace enforces Pod Security "restricted", as manifests/install.yaml does.
kubectl create namespace "$NAMESPACE"
kubectl label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted
"$HELM" install spofless manifests --namespace "$NAMESPACE" \
  --set image.repository=spofless --set image.tag=dev --set image.pullPolicy=Never >&2
kubectl -n "$NAMESPACE" rollout status deployment/spofless --timeout=180s >&2
kubectl -n "$NAMESPACE" get pods -o wide >&2

log "running the e2e suite against the in-cluster operator: pytest ${PYTEST_ARGS[*]}"
SPOFLESS_E2E_OPERATOR=external .venv/bin/pytest "${PYTEST_ARGS[@]}"
