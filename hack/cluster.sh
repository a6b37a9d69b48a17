#!/usr/bin/env bash
# A real local control plane for e2e tests, without Docker: etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler run as local processes (kwokctl's binary runtime) and KWOK fakes the nodes and their pods.
#
#   hack/cluster.sh up [--zones N] [--nodes-per-zone M] [--name NAME] [--download] [--no-metrics-server]
#                      [--pod-writers N]   KWOK writes pods' status with N workers (hack/kwok/pod-writers.yaml)
#   hack/cluster.sh down | status | kubeconfig | env         [--name NAME]
#   hack/cluster.sh stop [COMPONENT...]  kill components (e.g. kube-apiserver), or stop the whole cluster
#   hack/cluster.sh start                start whatever is stopped, keeping all data
#
# Binaries are built from the versions pinned in hack/tools/*/go.mod into $SPOFLESS_CACHE (hack/lib/tools.sh).
# --download (or SPOFLESS_DOWNLOAD=1) is for users with internet access but no Go: nothing is built, kwokctl
# must be on PATH and downloads the release binaries of the same versions itself (kubectl is taken from PATH).
# `up` also runs metrics-server (built from hack/tools/metrics-server) as the resource metrics API, fed by
# KWOK's simulated usage (hack/kwok/metrics.yaml); --no-metrics-server (SPOFLESS_METRICS_SERVER=0) leaves it out.
# Progress goes to stderr; `up` prints `export KUBECONFIG=...` as its last line on stdout; `status` exits 0
# only if the cluster serves.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HACK_DIR/lib/tools.sh"

NAME=${SPOFLESS_CLUSTER:-spofless}
ZONES=${SPOFLESS_ZONES:-3}
NODES_PER_ZONE=${SPOFLESS_NODES_PER_ZONE:-3}
DOWNLOAD=${SPOFLESS_DOWNLOAD:-0}
METRICS_SERVER=${SPOFLESS_METRICS_SERVER:-1}
POD_WRITERS=""  # KWOK's default (4)
# kwokctl keeps each cluster (config, pids, logs, etcd data, kubeconfig) in $KWOK_WORKDIR/clusters/NAME:
# in the cache, never in the repo.
export KWOK_WORKDIR=$SPOFLESS_CACHE

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit "${1:-0}"; }

# pinned DIR MODULE: the version hack/tools/DIR/go.mod pins, read without Go (for --download).
pinned() { awk -v m="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m { print $2; exit }' "$TOOLS_DIR/$1/go.mod"; }
# Where tools.sh builds (or has built) kubectl and kwokctl. First on PATH: kwokctl runs the first kubectl
# there, and the built one matches the server where an older one might not. (--download: PATH's own.)
KUBE_BIN=$SPOFLESS_CACHE/kube-$(pinned kube k8s.io/kubernetes)
PATH=$KUBE_BIN:$SPOFLESS_CACHE/kwok-$(pinned kwok sigs.k8s.io/kwok):$PATH
export PATH

cluster_dir() { echo "$KWOK_WORKDIR/clusters/$NAME"; }
kubeconfig() { echo "$(cluster_dir)/kubeconfig.yaml"; }
kubectl() { KUBECONFIG=$(kubeconfig) command kubectl "$@"; }
# kwokctl logs JSON when not on a terminal; keep its warnings and errors, our log() says the rest.
kwokctl() { command kwokctl -v WARN --name "$NAME" "$@"; }

# Points kwokctl at the locally built binaries (KWOK_* variables are its documented overrides).
use_built_binaries() {
  build_cluster_tools
  KWOK_KUBE_BINARY_PREFIX=$(kube_dir) # kube-apiserver, kube-controller-manager, kube-scheduler
  KWOK_ETCD_BINARY=$(etcd_dir)/etcd
  KWOK_CONTROLLER_BINARY=$(kwok_dir)/kwok
  export KWOK_KUBE_BINARY_PREFIX KWOK_ETCD_BINARY KWOK_CONTROLLER_BINARY
}

running() { [[ -f "$(cluster_dir)/kwok.yaml" ]] && kubectl get --raw /readyz >/dev/null 2>&1; }

# wait_until SECONDS WHAT CMD...: polls CMD once a second.
wait_until() {
  local timeout=$1 what=$2; shift 2
  wait_until_quietly "$timeout" "$@" || die "timed out after ${timeout} s waiting for $what"
}

# wait_until_quietly SECONDS CMD...: polls CMD once a second; false if it never succeeds.
wait_until_quietly() {
  local timeout=$1 i; shift
  for ((i = 0; i < timeout; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

# Plain Node objects, Ready once KWOK picks them up (the binary runtime's kwok manages all nodes; the
# annotation is for KWOK deployed elsewhere with its default selector). No taint, so pods need no toleration.
node_manifests() {
  local letters=abcdefghijklmnopqrstuvwxyz z i zone node
  for ((z = 0; z < ZONES; z++)); do
    zone=zone-${letters:z:1}
    for ((i = 1; i <= NODES_PER_ZONE; i++)); do
      node=kwok-$zone-$i
      cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    kwok.x-k8s.io/node: fake
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/$node/metrics/resource
  labels:
    type: kwok
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/region: region-1
    topology.kubernetes.io/zone: $zone
spec:
  providerID: kwok://$node
status:
  # Both address types: KWOK's node-initialize stage, re-run when a node comes back from the chaos stage,
  # wipes the addresses of a node that lacks one of them. metrics-server scrapes KWOK at the InternalIP.
  addresses: [{type: InternalIP, address: 127.0.0.1}, {type: Hostname, address: $node}]
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
    done
  done
}

# metrics-server runs beside the control plane (kwokctl does not manage it): its pid, certificates and log
# live in the cluster's directory. The aggregated API reaches it through an ExternalName Service.
metrics_server_pidfile() { echo "$(cluster_dir)/metrics-server/pid"; }

metrics_server_running() {
  local pidfile; pidfile=$(metrics_server_pidfile)
  [[ -f $pidfile ]] && kill -0 "$(<"$pidfile")" 2>/dev/null
}

start_metrics_server() {
  metrics_server_running && return 0
  local dir port bin
  dir=$(cluster_dir)/metrics-server
  bin=$(metrics_server_dir)/metrics-server
  mkdir -p "$dir"
  # Below the ephemeral range: a port found free there can become an outgoing connection's before
  # metrics-server binds it (tests/e2e/ports.py says more).
  port=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from tests.e2e.ports import free_port; print(free_port())' "$HACK_DIR/..")
  kubectl apply -f "$HACK_DIR/kwok/metrics.yaml" >/dev/null
  # --kubelet-*: KWOK serves every node's resource metrics on its own port (the node's status port), with a
  # certificate of its own; the nodes' annotation gives the path.
  nohup "$bin" --kubeconfig="$(kubeconfig)" --authentication-kubeconfig="$(kubeconfig)" \
    --authorization-kubeconfig="$(kubeconfig)" --bind-address=127.0.0.1 --secure-port="$port" \
    --cert-dir="$dir" --kubelet-insecure-tls --kubelet-use-node-status-port \
    --kubelet-preferred-address-types=InternalIP --kubelet-request-timeout=5s --metric-resolution=10s >"$dir/log" 2>&1 &
  echo $! >"$(metrics_server_pidfile)"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec: {type: ExternalName, externalName: localhost}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {name: metrics-server, namespace: kube-system, port: $port}
YAML
  if ! wait_until_quietly 60 kubectl get --raw /apis/metrics.k8s.io/v1beta1/nodes; then
    tail -n 20 "$dir/log" >&2
    die "metrics-server did not serve the metrics API within 60 s (log: $dir/log)"
  fi
  log "metrics-server serves the metrics API (port $port, log $dir/log)"
}

stop_metrics_server() {
  metrics_server_running || return 0
  local pidfile; pidfile=$(metrics_server_pidfile)
  kill "$(<"$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

cmd_up() {
  ((ZONES >= 1 && ZONES <= 26 && NODES_PER_ZONE >= 1)) || die "need 1-26 zones and at least 1 node per zone"
  if [[ $DOWNLOAD == 1 ]]; then
    type -P kwokctl >/dev/null || die "--download needs kwokctl on PATH"
    KWOK_KUBE_VERSION=$(pinned kube k8s.io/kubernetes) KWOK_ETCD_VERSION=$(pinned etcd go.etcd.io/etcd/server/v3)
    export KWOK_KUBE_VERSION KWOK_ETCD_VERSION
    METRICS_SERVER=0 # nothing is built
  else
    use_built_binaries
    if [[ $METRICS_SERVER == 1 ]]; then build_metrics_server; fi
  fi
  local start=$SECONDS
  if [[ -f "$(cluster_dir)/kwok.yaml" ]]; then
    log "cluster $NAME exists; starting any stopped component"
    kwokctl start cluster >&2
  else
    log "creating cluster $NAME in $(cluster_dir)"
    # --kubeconfig "": leave ~/.kube/config alone; the cluster has its own kubeconfig.
    local configs=(--config "$HACK_DIR/kwok/kwokctl.yaml" --config "$HACK_DIR/kwok/stages.yaml")
    if [[ -n $POD_WRITERS ]]; then
      mkdir -p "$SPOFLESS_CACHE/kwok-configs"
      local writers="$SPOFLESS_CACHE/kwok-configs/pod-writers-$POD_WRITERS.yaml"
      sed "s/@WRITERS@/$POD_WRITERS/" "$HACK_DIR/kwok/pod-writers.yaml" >"$writers"
      configs+=(--config "$writers")
      log "KWOK writes pods' status with $POD_WRITERS workers"
    fi
    kwokctl "${configs[@]}" create cluster --kubeconfig "" --kube-audit-policy "$HACK_DIR/kwok/audit-policy.yaml" >&2
  fi
  wait_until 60 "kube-apiserver" kubectl get --raw /readyz
  log "waiting for $((ZONES * NODES_PER_ZONE)) nodes in $ZONES zones to be Ready"
  node_manifests | kubectl apply -f - >/dev/null
  kubectl wait --for=condition=Ready node -l type=kwok --timeout=60s >/dev/null
  # Pods are rejected until the service account controller has created the namespace's "default" account.
  wait_until 60 "the default service account" kubectl get serviceaccount default
  if [[ $METRICS_SERVER == 1 ]]; then start_metrics_server; fi
  log "cluster $NAME is up ($((SECONDS - start)) s)"
  echo "export KUBECONFIG=$(kubeconfig) SPOFLESS_AUDIT_LOG=$(cluster_dir)/logs/audit.log"
}

cmd_down() {
  local dir pids pid
  dir=$(cluster_dir)
  [[ -d $dir ]] || { log "no cluster $NAME"; return 0; }
  stop_metrics_server
  pids=$(awk 1 "$dir"/pids/*.pid 2>/dev/null || true) # one pid a line (the files lack a newline)
  # --kubeconfig: kwokctl would otherwise remove its context from ~/.kube/config, where it never added one.
  kwokctl delete cluster --kubeconfig "$(kubeconfig)" >&2
  for pid in $pids; do # kwokctl kills them; make sure none lingers (a zombie awaiting its reaper is gone)
    if [[ $(ps -o stat= -p "$pid" || true) == [^Z]* ]]; then log "killing leftover pid $pid"; kill -KILL "$pid"; fi
  done
  rm -rf "$dir"
}

# stop COMPONENT... kills components the way kwokctl does (SIGKILL) and drops their pid files, so that
# `start` (kwokctl start cluster: starts what is not running) brings them back with the same flags and ports.
# Without the pid file kwokctl would mistake a killed process not yet reaped (a zombie) for a running one.
# gone PID SECONDS: true once PID has exited (a zombie counts as exited: nothing of it holds a port).
gone() {
  local pid=$1 i state
  for ((i = 0; i < $2 * 10; i++)); do
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 0
    [[ $state == Z* ]] && return 0
    sleep 0.1
  done
  return 1
}

cmd_stop() {
  [[ -f "$(cluster_dir)/kwok.yaml" ]] || die "no cluster $NAME"
  if (($# == 0)); then stop_metrics_server; kwokctl stop cluster >&2; return; fi
  local component pidfile pid
  for component; do
    pidfile="$(cluster_dir)/pids/$component.pid"
    [[ -f $pidfile ]] || die "$component is not running (no $pidfile)"
    pid=$(<"$pidfile")
    kill -KILL "$pid" 2>/dev/null || true
    # SIGKILL is delivered, not done: a start right after must not find the old process still holding
    # its port (a busy machine takes a moment to tear a large process down).
    gone "$pid" 30 || die "$component (pid $pid) still runs 30 s after SIGKILL"
    rm -f "$pidfile"
    log "stopped $component (pid $pid)"
  done
}

cmd_start() {
  [[ -f "$(cluster_dir)/kwok.yaml" ]] || die "no cluster $NAME; run: hack/cluster.sh up"
  kwokctl start cluster >&2
  wait_until 60 "kube-apiserver" kubectl get --raw /readyz
  # A cluster that ran metrics-server gets it back (stop without components stops it too).
  if [[ -d "$(cluster_dir)/metrics-server" ]]; then start_metrics_server; fi
}

# status exits 0 only if the cluster serves.
cmd_status() {
  [[ -d "$(cluster_dir)" ]] || { echo "cluster $NAME: absent"; return 1; }
  running || { echo "cluster $NAME: not serving (hack/cluster.sh start)"; return 1; }
  echo "cluster $NAME: running"
  echo "kubeconfig: $(kubeconfig)"
  kubectl get nodes -L topology.kubernetes.io/zone
}

cmd_env() {
  # shellcheck disable=SC2016 # $PATH is for the shell that evals this line
  if [[ -x $KUBE_BIN/kubectl ]]; then printf 'export PATH=%s:$PATH; ' "$KUBE_BIN"; fi
  echo "export KUBECONFIG=$(kubeconfig) SPOFLESS_AUDIT_LOG=$(cluster_dir)/logs/audit.log"
}

command=${1:-}
[[ -n $command ]] || usage 1
shift
args=()
while (($#)); do
  case $1 in
    --zones) ZONES=$2; shift 2 ;;
    --nodes-per-zone) NODES_PER_ZONE=$2; shift 2 ;;
    --name) NAME=$2; shift 2 ;;
    --download) DOWNLOAD=1; shift ;;
    --no-metrics-server) METRICS_SERVER=0; shift ;;
    --pod-writers)
      POD_WRITERS=${2:-}
      [[ $POD_WRITERS =~ ^[1-9][0-9]*$ ]] || die "--pod-writers takes a positive number, not '$POD_WRITERS'"
      shift 2 ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) args+=("$1"); shift ;;
  esac
done

case $command in
  up) cmd_up ;;
  down) cmd_down ;;
  stop) cmd_stop "${args[@]}" ;;
  start) cmd_start ;;
  status) cmd_status ;;
  kubeconfig) kubeconfig ;;
  env) cmd_env ;;
  -h | --help | help) usage ;;
  *) usage 1 ;;
esac
