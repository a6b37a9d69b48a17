#!/usr/bin/env bash
# The e2e suite on a real kind cluster: the operator's image installed with its Helm chart
# (2 replicas, real probes, Pod Security "restricted"), test sites running a real HTTP server, and
# zones that die for real (their node containers are paused). Builds what it needs, cached by
# version (hack/images.sh): kind, the node image, the operator's, test site's and traffic images.
#
#   hack/kind-e2e.sh [PYTEST_ARGS...]    default: tests/e2e
#   hack/kind-e2e.sh --bench [ARGS...]   bench/zone_outage.py instead of the suite
#
# The cluster: 1 control plane and 1 worker in each of zones a, b and c (sized for 2 cores).
# KEEP=1 keeps it (kind delete cluster --name spofless-kind removes it); KIND_CLUSTER names it.
# SPOFLESS_NODE_GRACE=12s tunes how soon a silent node turns NotReady (kube-controller-manager's
# node-monitor-grace-period, and the kubelet's lease to match); unset, Kubernetes' default (50 s).
# SPOFLESS_NODE_LEASE=12s sets only the kubelets' node Lease duration (renewed every quarter of it;
# 40 s by default): the silent-zone detector's threshold follows it, the node controller's does not.
# SPOFLESS_REGISTRY=no builds everything locally even when a registry answers.
# Then, once this cluster is deleted (one set of clusters at a time on 2 cores), traffic across data
# centers on two more kind clusters (hack/kind-datacenters.sh); SPOFLESS_KIND_DATACENTERS=0 leaves it
# out, as do --bench, KEEP=1 and pytest arguments of your own (unless SPOFLESS_KIND_DATACENTERS=1).
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HACK_DIR/.." && pwd)
source "$HACK_DIR/lib/tools.sh"
source "$HACK_DIR/lib/docker.sh"
source "$HACK_DIR/lib/kind.sh"
source "$HACK_DIR/lib/images.sh"
cd "$ROOT"

CLUSTER=${KIND_CLUSTER:-spofless-kind}
NAMESPACE=spofless-system
KEEP=${KEEP:-0}
GRACE=${SPOFLESS_NODE_GRACE:-}
LEASE=${SPOFLESS_NODE_LEASE:-}
BENCH=0
if [[ ${1:-} == --bench ]]; then BENCH=1; shift; fi
DATACENTERS=${SPOFLESS_KIND_DATACENTERS:-}
# By default the whole suite, with its slowest tests listed: where the suite's time goes.
if (($#)) || ((BENCH)); then PYTEST_ARGS=("$@"); DATACENTERS=${DATACENTERS:-0}; else PYTEST_ARGS=(tests/e2e --durations=15); fi
[[ -x .venv/bin/pytest ]] || die ".venv is missing: run make (or: python3 -m venv .venv && .venv/bin/pip install -e '.[test]')"

step() { # step LABEL CMD...: runs CMD and logs how long it took (the figures docs/development/kind.md quotes)
  local label=$1 start=$SECONDS; shift
  "$@"
  log "TIME $label: $((SECONDS - start)) s"
}

ensure_docker
registry_reachable || true
step "kind" build_kind
step "helm" build_helm
step "kubectl" build_kube
step "node image" build_node_image
step "operator image" build_operator_image
step "test site image" build_small_image testsite
step "traffic image" build_small_image traffic
NODE_IMAGE=$(node_image)
HELM=$(helm_bin)
# kind's docker wrapper first (see hack/kind/docker), then kind and the pinned kubectl.
PATH="$HACK_DIR/kind:$(kind_dir):$(kube_dir):$PATH"
export PATH

WORK=$(mktemp -d /tmp/spofless-kind.XXXXXX)
export KUBECONFIG=$WORK/kubeconfig # the cluster's own kubeconfig: ~/.kube/config is left alone
mkdir -p "$WORK/audit" "$WORK/audit-policy"
cp "$HACK_DIR/kwok/audit-policy.yaml" "$WORK/audit-policy/policy.yaml"

# cleanup RC: the operator's state when RC says the run failed, then the cluster goes (unless KEEP=1).
cleanup() {
  local rc=$1
  if ((rc != 0)) && [[ -s $KUBECONFIG ]]; then
    log "failed (exit $rc); the operator's state and logs:"
    kubectl get nodes -o wide >&2 || true
    kubectl -n "$NAMESPACE" get all -o wide >&2 || true
    kubectl -n "$NAMESPACE" logs -l app.kubernetes.io/component=operator --all-containers --prefix --tail=100 >&2 || true
  fi
  docker ps -q --filter "label=io.x-k8s.kind.cluster=$CLUSTER" | xargs -r docker unpause >/dev/null 2>&1 || true
  if [[ $KEEP == 1 ]]; then
    log "keeping cluster $CLUSTER (KUBECONFIG=$KUBECONFIG); remove it with: kind delete cluster --name $CLUSTER"
  else
    log "deleting cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" >&2 || true
    rm -rf "$WORK"
  fi
}
finish() {
  local rc=$?
  cleanup "$rc"
  exit "$rc"
}
trap finish EXIT

# kind_config: the cluster, with the API server's audit log on the host for the least-privilege test.
kind_config() {
  local zone
  cat <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatchesJSON6902:
- group: kubeadm.k8s.io
  version: v1beta4
  kind: ClusterConfiguration
  patch: |
    - {op: add, path: /apiServer/extraArgs/-, value: {name: audit-policy-file, value: /etc/kubernetes/audit/policy.yaml}}
    - {op: add, path: /apiServer/extraArgs/-, value: {name: audit-log-path, value: /var/log/kubernetes/audit/audit.log}}
    - op: add
      path: /apiServer/extraVolumes
      value:
      - {name: audit-policy, hostPath: /etc/kubernetes/audit, mountPath: /etc/kubernetes/audit, readOnly: true, pathType: Directory}
      - {name: audit-log, hostPath: /var/log/kubernetes/audit, mountPath: /var/log/kubernetes/audit, pathType: DirectoryOrCreate}
YAML
  if [[ -n $GRACE ]]; then
    cat <<YAML
    - {op: add, path: /controllerManager/extraArgs/-, value: {name: node-monitor-grace-period, value: "$GRACE"}}
    - {op: add, path: /controllerManager/extraArgs/-, value: {name: node-monitor-period, value: 2s}}
YAML
  fi
  local lease=${LEASE:-$GRACE}
  if [[ -n $lease ]]; then
    printf 'kubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  nodeLeaseDurationSeconds: %s\n' "${lease%s}"
    if [[ -n $GRACE ]]; then echo "  nodeStatusUpdateFrequency: 3s"; fi
  fi
  cat <<YAML
nodes:
- role: control-plane
  extraMounts:
  - {hostPath: $WORK/audit-policy, containerPath: /etc/kubernetes/audit, readOnly: true}
  - {hostPath: $WORK/audit, containerPath: /var/log/kubernetes/audit}
YAML
  for zone in a b c; do
    echo "- {role: worker, labels: {topology.kubernetes.io/region: region-1, topology.kubernetes.io/zone: zone-$zone}}"
  done
}

create_cluster() {
  kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  kind_config >"$WORK/kind.yaml"
  kind create cluster --name "$CLUSTER" --config "$WORK/kind.yaml" --kubeconfig "$KUBECONFIG" \
    --image "$NODE_IMAGE" --wait 300s >&2
  kubectl wait --for=condition=Ready nodes --all --timeout=180s >/dev/null
  kubectl get nodes -L topology.kubernetes.io/zone >&2
}

load_images() {
  kind load docker-image --name "$CLUSTER" "$OPERATOR_IMAGE" "$(small_image testsite)" "$(small_image traffic)" >&2
}

install_chart() {
  # The namespace enforces Pod Security "restricted", as manifests/install.yaml does.
  kubectl create namespace "$NAMESPACE" >/dev/null
  kubectl label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted >/dev/null
  "$HELM" install spofless manifests --namespace "$NAMESPACE" --set replicas=2 \
    --set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE#*:}" --set image.pullPolicy=Never >&2
  kubectl -n "$NAMESPACE" rollout status deployment/spofless --timeout=300s >&2
  kubectl -n "$NAMESPACE" get pods -o wide >&2
}

log "kind cluster $CLUSTER: node image $NODE_IMAGE, node monitor grace ${GRACE:-default}, node lease ${LEASE:-${GRACE:-default}}"
step "cluster creation" create_cluster
step "image loading" load_images
step "chart install" install_chart

export SPOFLESS_E2E_OPERATOR=external SPOFLESS_E2E_KIND=1 SPOFLESS_KIND_CLUSTER=$CLUSTER
export SPOFLESS_E2E_SITE_IMAGE; SPOFLESS_E2E_SITE_IMAGE=$(small_image testsite)
export SPOFLESS_E2E_TRAFFIC_IMAGE; SPOFLESS_E2E_TRAFFIC_IMAGE=$(small_image traffic)
export SPOFLESS_E2E_SERVICE_ACCOUNT=$NAMESPACE/spofless SPOFLESS_AUDIT_LOG=$WORK/audit/audit.log
export SPOFLESS_NODE_GRACE=$GRACE SPOFLESS_NODE_LEASE=$LEASE
if ((BENCH)); then
  log "benchmark: bench/zone_outage.py ${PYTEST_ARGS[*]}"
  step "zone outage benchmark" .venv/bin/python -m bench.zone_outage "${PYTEST_ARGS[@]}"
else
  log "e2e suite against the in-cluster operator: pytest ${PYTEST_ARGS[*]}"
  step "kind e2e suite" .venv/bin/pytest "${PYTEST_ARGS[@]}"
fi

if ((BENCH)) || [[ ${DATACENTERS:-1} == 0 || $KEEP == 1 ]]; then
  log "data centers on kind: not run (SPOFLESS_KIND_DATACENTERS=0, --bench, KEEP=1 or pytest arguments given)"
  exit 0
fi
trap - EXIT
cleanup 0 # this cluster goes first
export SPOFLESS_REGISTRY
step "data centers on kind (hack/kind-datacenters.sh)" hack/kind-datacenters.sh

