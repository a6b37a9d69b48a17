#!/usr/bin/env bash
# Builds the local cluster's pinned tools from Go modules into a cache outside the repo,
# keyed by version, and reuses what is already there. Sourced by hack/cluster.sh.
# The versions live in one place: hack/tools/*/go.mod (with go.sum).

HACK_DIR=${HACK_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TOOLS_DIR="$HACK_DIR/tools"
SPOFLESS_CACHE=${SPOFLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spofless}
export CGO_ENABLED=0

log() { printf '[spofless %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; SPOFLESS_FAILURE_REPORTED=1; exit 1; }

# No silent death under `set -e`: the first command that fails says what it was, where it ran, the
# calls that led there. A step whose output goes to a log runs through `quietly`, which names the log.
# errtrace carries the trap into functions, command substitutions and subshells.
set -o errtrace
on_error() {
  local rc=$? i where=""
  [[ ${SPOFLESS_FAILURE_REPORTED:-0} == 1 ]] && return "$rc"
  SPOFLESS_FAILURE_REPORTED=1
  for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
    where+=" ${FUNCNAME[i]:-main}@${BASH_SOURCE[i]#"$PWD/"}:${BASH_LINENO[i - 1]}"
  done
  log "error: '$BASH_COMMAND' failed (exit $rc) at${where}; its own output, if any, is above"
  return "$rc"
}
trap on_error ERR

# quietly LOG CMD...: runs CMD with its output in LOG; a failure prints LOG's last lines and names it.
quietly() {
  local logf=$1 rc=0; shift
  mkdir -p "$(dirname "$logf")"
  "$@" >"$logf" 2>&1 || rc=$?
  if ((rc != 0)); then
    log "error: '$*' failed (exit $rc); its log: $logf, the last lines:"
    tail -n 20 "$logf" >&2 || true
    SPOFLESS_FAILURE_REPORTED=1
  fi
  return "$rc"
}

# apt_install PACKAGE...: Debian packages, installed with their log in the cache; the package lists are
# refreshed once when a package is not found (a fresh machine may have none yet).
apt_install() {
  local logf="$SPOFLESS_CACHE/logs/apt-install-${*: -1}.log"
  command -v apt-get >/dev/null || die "apt-get is needed to install $* (Debian packages)"
  mkdir -p "$(dirname "$logf")"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$logf" 2>&1 && return 0
  log "apt-get: refreshing the package lists, then installing $* again"
  quietly "$logf" bash -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"' _ "$@" \
    || die "could not install the Debian packages $* (log: $logf)"
}

# module_version DIR MODULE: the version DIR's go.mod pins for MODULE.
module_version() {
  go -C "$TOOLS_DIR/$1" list -m -f '{{.Version}}' "$2"
}

# with_heartbeat LABEL CMD...: runs CMD, printing a progress line every 30 s so a
# cold build (many minutes on 2 cores) never looks hung.
with_heartbeat() {
  local label=$1; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  while ! wait_for_pid "$pid" 30; do
    log "$label: still building ($((SECONDS - start)) s)"
  done
  wait "$pid" || die "$label failed (exit $?)"
  log "$label: built in $((SECONDS - start)) s"
}

# wait_for_pid PID SECONDS: true once PID has exited, false if it still runs after SECONDS.
wait_for_pid() {
  local pid=$1 i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 1
  done
  ! kill -0 "$pid" 2>/dev/null
}

# build_into DEST LABEL MODULE_DIR GO_BUILD_ARGS...: go build into DEST unless DEST/.done exists.
# Two runs sharing a cache (two checkouts, a helper's worktree) take turns on one build: the second
# waits on the lock, then finds it done.
build_into() {
  local dest=$1 label=$2 dir=$3; shift 3
  mkdir -p "$(dirname "$dest")"
  exec {lock_fd}>"$dest.lock"
  if ! flock -n "$lock_fd"; then
    log "$label: another run is building it; waiting for it"
    flock "$lock_fd"
  fi
  if [[ -f "$dest/.done" ]]; then
    log "$label: cached in $dest"
    exec {lock_fd}>&-
    return 0
  fi
  log "$label: building into $dest (a cold build takes many minutes; later runs reuse it)"
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  with_heartbeat "$label" go -C "$TOOLS_DIR/$dir" build -trimpath -o "$dest.tmp/" "$@"
  touch "$dest.tmp/.done"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  exec {lock_fd}>&-
}

kube_dir() { echo "$SPOFLESS_CACHE/kube-$(module_version kube k8s.io/kubernetes)"; }
etcd_dir() { echo "$SPOFLESS_CACHE/etcd-$(module_version etcd go.etcd.io/etcd/server/v3)"; }
kwok_dir() { echo "$SPOFLESS_CACHE/kwok-$(module_version kwok sigs.k8s.io/kwok)"; }
helm_dir() { echo "$SPOFLESS_CACHE/helm-$(module_version helm helm.sh/helm/v3)"; }
helm_bin() { echo "$(helm_dir)/helm"; }
kube_score_dir() { echo "$SPOFLESS_CACHE/kube-score-$(module_version kube-score github.com/zegl/kube-score)"; }
kube_score_bin() { echo "$(kube_score_dir)/kube-score"; }
metrics_server_dir() { echo "$SPOFLESS_CACHE/metrics-server-$(module_version metrics-server sigs.k8s.io/metrics-server)"; }

# kube_version_ldflags: the -X flags that stamp the pinned Kubernetes version into its binaries.
# Without them, /version reports v0.0.0-master and kwokctl and kubectl misjudge the server.
kube_version_ldflags() {
  local v; v=$(module_version kube k8s.io/kubernetes)
  local major=${v#v}; major=${major%%.*}
  local minor=${v#v*.}; minor=${minor%%.*}
  local ldflags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ldflags"
}

build_kube() {
  local v; v=$(module_version kube k8s.io/kubernetes)
  build_into "$(kube_dir)" "kubernetes $v" kube -tags selinux,notest,grpcnotrace -ldflags "-s -w$(kube_version_ldflags)" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local dest; dest=$(etcd_dir)
  build_into "$dest" "etcd $(module_version etcd go.etcd.io/etcd/server/v3)" etcd -ldflags "-s -w" \
    go.etcd.io/etcd/server/v3
  # go build names the binary after the path element before /v3, i.e. "server"; kwokctl wants "etcd".
  [[ -x "$dest/etcd" ]] || mv "$dest/server" "$dest/etcd"
}

build_kwok() {
  local v; v=$(module_version kwok sigs.k8s.io/kwok)
  build_into "$(kwok_dir)" "kwok $v" kwok -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$v" \
    sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
}

build_helm() {
  local v minor ldflags pkg
  v=$(module_version helm helm.sh/helm/v3)
  # As helm's own Makefile does: charts see the Kubernetes version helm was built against (client-go
  # v0.N is Kubernetes 1.N), not the 1.20 it reports otherwise.
  minor=$(module_version helm k8s.io/client-go); minor=${minor#v0.}; minor=${minor%%.*}
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$v"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
  done
  build_into "$(helm_dir)" "helm $v" helm -ldflags "$ldflags" helm.sh/helm/v3/cmd/helm
}

# metrics-server serves the resource metrics API (kubectl top, HorizontalPodAutoscaler) from KWOK's
# simulated usage; hack/cluster.sh runs it beside the control plane.
build_metrics_server() {
  local v; v=$(module_version metrics-server sigs.k8s.io/metrics-server)
  build_into "$(metrics_server_dir)" "metrics-server $v" metrics-server \
    -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$v" sigs.k8s.io/metrics-server/cmd/metrics-server
}

# kube-score, the checker the chart tests hold the rendered chart to (no critical on spofless's objects).
build_kube_score() {
  local v; v=$(module_version kube-score github.com/zegl/kube-score)
  build_into "$(kube_score_dir)" "kube-score $v" kube-score -ldflags "-s -w -X main.version=$v" \
    github.com/zegl/kube-score/cmd/kube-score
}

# promtool (the alerting rules' unit tests) and prometheus (the e2e suite runs a real one, as a local
# process of its own), from Debian. Without recommends: node-exporter is no use here. Debian's
# packaging starts its own daemon only where the machine's policy-rc.d lets services start.
ensure_prometheus() {
  command -v promtool >/dev/null && command -v prometheus >/dev/null && return 0
  log "prometheus and promtool: installing Debian's package"
  apt_install --no-install-recommends prometheus
}

build_cluster_tools() {
  command -v go >/dev/null || die "Go is needed to build the local cluster (or see docs/development/local-cluster.md: kwokctl can download release binaries)"
  build_etcd
  build_kwok
  build_kube
}

# wait_crds_established: until every CRD is Established (60 s at most). kubectl wait fails at once,
# rather than waiting, while a CRD just applied has no status conditions yet.
wait_crds_established() {
  local i
  for ((i = 0; i < 60; i++)); do
    kubectl wait --for=condition=Established crd --all --timeout=5s >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "the CRDs were not Established within 60 s"
}
