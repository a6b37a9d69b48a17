#!/usr/bin/env bash
# Traffic across data centers on real containers: two kind clusters (dc1 and dc2, one node each), an etcd
# of three members (one per data center and a witness) and one CoreDNS per data center, as Docker
# containers on a network of their own. Each data center runs the operator's image, installed with its
# Helm chart, with dataCenter.name and the etcd members set. Then tests/datacenters_kind: a client on this
# host resolves the site through the name servers and sends requests while a whole data center (its
# node, its etcd member and its name server) is killed, and after it comes back.
#
#   hack/kind-datacenters.sh [PYTEST_ARGS...]   clean up, up, the scenario, down (default: tests/datacenters_kind)
#   hack/kind-datacenters.sh up | down | env    bring up, remove everything, shell lines for the tests
#   hack/kind-datacenters.sh stop DC | start DC docker kill / docker start of DC's node, etcd member and CoreDNS
#
# KEEP=1 keeps everything after the scenario (hack/kind-datacenters.sh down removes it).
# SPOFLESS_DCK_SERIAL=1 creates the clusters one after the other (to compare; in parallel by default).
# Builds what it needs as hack/kind-e2e.sh does (cached: the node, operator and test site images, kind,
# helm, kubectl, etcd, CoreDNS); nothing is pulled. Containers and clusters are named dck-*, on the Docker network
# dck-net ($SPOFLESS_DCK_NET.0/24, default 172.30.22.0/24); state lives in $SPOFLESS_DCK_STATE.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HACK_DIR/.." && pwd)
source "$HACK_DIR/lib/tools.sh"
source "$HACK_DIR/lib/docker.sh"
source "$HACK_DIR/lib/kind.sh"
source "$HACK_DIR/lib/images.sh"
source "$HACK_DIR/lib/datacenters.sh"
cd "$ROOT"

STATE=${SPOFLESS_DCK_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/spofless/kind-datacenters}
NET=${SPOFLESS_DCK_NET:-172.30.22}
NETWORK=dck-net
ZONE=sites.spofless.test
POD_SUBNET=10.244.0.0/16
DCS=(dc1 dc2)
NAMESPACE=spofless-system
LABEL=spofless.dev/kind-datacenters
KEEP=${KEEP:-0}

usage() { sed -n '2,18s/^# \{0,1\}//p' "$0" >&2; exit "${1:-0}"; }

step() { # step LABEL CMD...: runs CMD and logs how long it took
  local label=$1 start=$SECONDS; shift
  "$@"
  log "TIME $label: $((SECONDS - start)) s"
}

# Fixed addresses for the store and the name servers (the kind nodes': .128 and .129, network() says why).
etcd_address() { case $1 in dc1) echo "$NET.11" ;; dc2) echo "$NET.12" ;; witness) echo "$NET.13" ;; *) die "no etcd member $1" ;; esac; }
dns_address() { case $1 in dc1) echo "$NET.21" ;; dc2) echo "$NET.22" ;; *) die "no data center $1" ;; esac; }
etcd_url() { echo "http://$(etcd_address "$1"):2379"; }
members() { echo "${DCS[@]}" witness; }
# own_first DC: the etcd client URLs, DC's own member first (the operator's client starts there).
own_first() {
  local m urls=("$(etcd_url "$1")")
  for m in $(members); do [[ $m == "$1" ]] || urls+=("$(etcd_url "$m")"); done
  (IFS=,; echo "${urls[*]}")
}
cluster_name() { echo "dck-$1"; }
node_container() { echo "dck-$1-control-plane"; }
kubeconfig() { echo "$STATE/$1.kubeconfig"; }
is_dc() { [[ " ${DCS[*]} " == *" $1 "* ]] || die "unknown data center '$1' (have: ${DCS[*]})"; }

tools() {
  ensure_docker
  registry_reachable || true
  export SPOFLESS_REGISTRY # for the helpers this script calls again (stop, start) and the nested builds
  step "kind, helm, kubectl, etcd, CoreDNS (cached)" build_tools
  step "node image" build_node_image
  step "operator image" build_operator_image
  step "test site image" build_small_image testsite
  # kind's docker wrapper first (see hack/kind/docker), then kind and the pinned kubectl.
  PATH="$HACK_DIR/kind:$(kind_dir):$(kube_dir):$PATH"
  export PATH
}
build_tools() { build_kind; build_helm; build_kube; build_etcd; build_coredns; }

# --- the store and the name servers -----------------------------------------------------------------

network() {
  docker network inspect "$NETWORK" >/dev/null 2>&1 && return 0
  # --ip-range: the two kind nodes take the two addresses of .128/31, the fixed ones stay free. With no
  # other address to take, a node killed and started again gets its own back (Docker would otherwise
  # hand out the next one, and the node come back elsewhere).
  docker network create "$NETWORK" --subnet "$NET.0/24" --gateway "$NET.1" --ip-range "$NET.128/31" \
    --label "$LABEL=1" >/dev/null
}

start_etcd() {
  local name=$1 m cluster="" flags
  for m in $(members); do cluster+="${cluster:+,}$m=http://$(etcd_address "$m"):2380"; done
  mapfile -t flags < <(etcd_member_flags "$name" "$(etcd_address "$name")" "$cluster" "/var/lib/etcd/$name")
  # The data stays in the container's own layer: a killed member starts again with it (docker start).
  docker run -d --name "dck-etcd-$name" --hostname "dck-etcd-$name" --network "$NETWORK" --ip "$(etcd_address "$name")" \
    --label "$LABEL=1" -v "$(etcd_dir):/opt/etcd:ro" --entrypoint /opt/etcd/etcd "$(debian_image)" "${flags[@]}" >/dev/null
}

start_dns() {
  local dc=$1
  mkdir -p "$STATE/dns"
  dc_corefile "$ZONE" 53 "$(dns_address "$dc")" "$(etcd_url "$dc")" >"$STATE/dns/$dc.Corefile"
  docker run -d --name "dck-dns-$dc" --network "$NETWORK" --ip "$(dns_address "$dc")" --label "$LABEL=1" \
    -v "$(coredns_dir):/opt/coredns:ro" -v "$STATE/dns/$dc.Corefile:/etc/coredns/Corefile:ro" \
    --entrypoint /opt/coredns/coredns "$(debian_image)" -conf /etc/coredns/Corefile >/dev/null
}

store_and_dns() {
  local m dc
  build_debian
  network
  for m in $(members); do start_etcd "$m"; done
  for m in $(members); do wait_until 60 "etcd member $m" etcd_healthy "$(etcd_url "$m")"; done
  for dc in "${DCS[@]}"; do start_dns "$dc"; done
  for dc in "${DCS[@]}"; do wait_until 30 "CoreDNS of $dc" dns_serves_at "$(dns_address "$dc")" 53 "$ZONE"; done
}

# --- the clusters ------------------------------------------------------------------------------------

kind_config() {
  cat <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  podSubnet: $POD_SUBNET
nodes:
- role: control-plane
  labels: {topology.kubernetes.io/region: $1, topology.kubernetes.io/zone: zone-a}
YAML
}

create_cluster() {
  local dc=$1 logf="$STATE/logs/kind-create-$1.log"
  mkdir -p "$STATE/logs"
  kind_config "$dc" >"$STATE/$dc.kind.yaml"
  # kind puts the nodes on the network this names, created above: the store and the name servers are there.
  KIND_EXPERIMENTAL_DOCKER_NETWORK=$NETWORK quietly "$logf" kind create cluster --name "$(cluster_name "$dc")" \
    --config "$STATE/$dc.kind.yaml" --kubeconfig "$(kubeconfig "$dc")" --image "$(node_image)" --wait 300s
}

# masquerade DC: the nodes' CNI does not masquerade pods' traffic leaving the cluster (kind's own does):
# the operator's pod reaches the etcd members through its node's address, so their answers find it.
masquerade() {
  local node; node=$(node_container "$1")
  local rule=(POSTROUTING -s "$POD_SUBNET" -d "$NET.0/24" -j MASQUERADE)
  docker exec "$node" iptables -t nat -C "${rule[@]}" 2>/dev/null || docker exec "$node" iptables -t nat -A "${rule[@]}"
}

# in_parallel CMD ARG...: CMD ARG for each ARG at once; fails if any fails.
in_parallel() {
  local cmd=$1 arg pids=() rc=0 pid; shift
  for arg in "$@"; do "$cmd" "$arg" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  return "$rc"
}

# for_each CMD ARG...: CMD ARG for each ARG, one after the other.
for_each() {
  local cmd=$1 arg; shift
  for arg in "$@"; do "$cmd" "$arg"; done
}

load_images() {
  quietly "$STATE/logs/kind-load-$1.log" kind load docker-image --name "$(cluster_name "$1")" \
    "$OPERATOR_IMAGE" "$(small_image testsite)"
}

install_chart() {
  local dc=$1
  export KUBECONFIG; KUBECONFIG=$(kubeconfig "$dc")
  masquerade "$dc"
  kubectl create namespace "$NAMESPACE" >/dev/null
  kubectl label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=restricted >/dev/null
  # One replica: two data centers on 2 cores. leaseSeconds 5: the default, what the targets count on.
  quietly "$STATE/logs/helm-$dc.log" "$(helm_bin)" install spofless manifests --namespace "$NAMESPACE" --set replicas=1 \
    --set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE#*:}" --set image.pullPolicy=Never \
    --set dataCenter.name="$dc" --set "dataCenter.etcd.endpoints={$(own_first "$dc")}" --set dataCenter.etcd.leaseSeconds=5
  quietly "$STATE/logs/rollout-$dc.log" kubectl -n "$NAMESPACE" rollout status deployment/spofless --timeout=300s
}

write_json() {
  local dc first=1
  {
    printf '{"zone": "%s", "dns_port": 53, "witness": "%s", "site_image": "%s", "script": "%s", "datacenters": [' \
      "$ZONE" "$(etcd_url witness)" "$(small_image testsite)" "$HACK_DIR/kind-datacenters.sh"
    for dc in "${DCS[@]}"; do
      ((first)) || printf ', '
      first=0
      printf '{"name": "%s", "kubeconfig": "%s", "dns": "%s", "etcd": "%s", "node": "%s"}' \
        "$dc" "$(kubeconfig "$dc")" "$(dns_address "$dc")" "$(etcd_url "$dc")" "$(node_container "$dc")"
    done
    printf ']}\n'
  } >"$STATE/kind-datacenters.json"
}

cmd_up() {
  mkdir -p "$STATE"
  step "etcd (3 members) and CoreDNS (2) in containers" store_and_dns
  if [[ ${SPOFLESS_DCK_SERIAL:-0} == 1 ]]; then
    step "kind clusters (2, one after the other)" for_each create_cluster "${DCS[@]}"
  else
    step "kind clusters (2, created in parallel)" in_parallel create_cluster "${DCS[@]}"
  fi
  step "image loading" in_parallel load_images "${DCS[@]}"
  step "chart installs" in_parallel install_chart "${DCS[@]}"
  write_json
  log "data centers on kind up: ${DCS[*]} (KUBECONFIGs in $STATE), etcd at $(own_first dc1), name servers at $(dns_address dc1) and $(dns_address dc2)"
}

cmd_env() {
  [[ -f $STATE/kind-datacenters.json ]] || die "no data centers on kind are up ($STATE/kind-datacenters.json is missing)"
  echo "export SPOFLESS_KIND_DATACENTERS_FILE=$STATE/kind-datacenters.json KUBECTL=$(kube_dir)/kubectl"
}

# save_logs: the store's, the name servers' and each spofless' logs, and how the clusters came up, beside the
# test's figures.
save_logs() {
  local dir=${SPOFLESS_E2E_LOGS:-/tmp/spofless-e2e}/datacenters-kind name
  mkdir -p "$dir"
  for name in $(docker ps -a --filter "label=$LABEL=1" --format '{{.Names}}'); do
    docker logs "$name" >"$dir/$name.log" 2>&1 || true
  done
  cp "$STATE"/logs/*.log "$dir/" 2>/dev/null || true
  for name in "${DCS[@]}"; do
    [[ -f $(kubeconfig "$name") ]] || continue
    KUBECONFIG=$(kubeconfig "$name") kubectl -n "$NAMESPACE" logs deployment/spofless --request-timeout=10s \
      >"$dir/spofless-$name.log" 2>&1 || true
  done
}

# cmd_down: everything this script starts, whatever state a broken run left it in.
cmd_down() {
  local dc ids
  for dc in "${DCS[@]}"; do kind delete cluster --name "$(cluster_name "$dc")" >/dev/null 2>&1 || true; done
  mapfile -t ids < <(docker ps -aq --filter "label=$LABEL=1")
  ((${#ids[@]} == 0)) || docker rm -f "${ids[@]}" >/dev/null
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  rm -rf "$STATE"
  log "data centers on kind: down"
}

cmd_stop() {
  local dc=$1; is_dc "$dc"
  # One docker kill for the three: a power cut of the whole data center, not a graceful stop.
  docker kill "$(node_container "$dc")" "dck-etcd-$dc" "dck-dns-$dc" >/dev/null
  log "$dc killed: its node, its etcd member and its name server"
}

kube_proxy_rules() { docker exec "$1" iptables -t nat -S POSTROUTING | grep -q KUBE-POSTROUTING; }

cmd_start() {
  local dc=$1; is_dc "$dc"
  docker start "dck-etcd-$dc" "dck-dns-$dc" "$(node_container "$dc")" >/dev/null
  # The node's network namespace is new: its rules are gone. The node's entrypoint rewrites the nat
  # table (iptables-save | iptables-restore) as it starts, which drops a rule added meanwhile (seen
  # once: dc1's spofless never reached the store again). kube-proxy's chain comes after that rewrite.
  wait_until 90 "$dc's kube-proxy rules" kube_proxy_rules "$(node_container "$dc")"
  masquerade "$dc"
  wait_until 60 "etcd member $dc" etcd_healthy "$(etcd_url "$dc")"
  wait_until 30 "CoreDNS of $dc" dns_serves_at "$(dns_address "$dc")" 53 "$ZONE"
  log "$dc started: its node, its etcd member and its name server"
}

cmd_run() {
  ((${#PYTEST_ARGS[@]})) || PYTEST_ARGS=(tests/datacenters_kind)
  [[ -x .venv/bin/pytest ]] || die ".venv is missing: run make (or: python3 -m venv .venv && .venv/bin/pip install -e '.[test]')"
  local start=$SECONDS
  step "clean-up of an earlier run" cmd_down
  finish() {
    local rc=$?
    if ((rc != 0)); then
      log "failed (exit $rc); the operators' last lines:"
      for dc in "${DCS[@]}"; do
        KUBECONFIG=$(kubeconfig "$dc") kubectl -n "$NAMESPACE" logs deployment/spofless --tail=40 --prefix >&2 2>/dev/null || true
      done
    fi
    save_logs
    if [[ $KEEP == 1 ]]; then
      log "keeping the data centers (hack/kind-datacenters.sh env, then down to remove them)"
    else
      cmd_down
    fi
    exit "$rc"
  }
  trap finish EXIT
  cmd_up
  # shellcheck disable=SC2046 # the env line's words
  export $(cmd_env | sed 's/^export //')
  log "scenario: pytest ${PYTEST_ARGS[*]}"
  step "data-center traffic scenario" .venv/bin/pytest -rA "${PYTEST_ARGS[@]}"
  log "TIME data centers on kind, in all: $((SECONDS - start)) s"
}

command=run
case ${1:-} in
  up | down | env | stop | start) command=$1; shift ;;
  -h | --help | help) usage ;;
esac
PYTEST_ARGS=("$@")
case $command in
  run) tools; cmd_run ;;
  up) tools; cmd_down; cmd_up ;;
  down) PATH="$HACK_DIR/kind:$(kind_dir):$PATH"; cmd_down ;;
  env) cmd_env ;;
  stop) (($# == 1)) || usage 1; cmd_stop "$1" ;;
  start) (($# == 1)) || usage 1; cmd_start "$1" ;;
esac
