#!/usr/bin/env bash
# Data centers on one machine: N local clusters (hack/cluster.sh, one per data center), one etcd cluster
# spanning them (a member per data center, plus a witness member with --witness), and one CoreDNS per data
# center answering for the sites' zone from etcd (its etcd plugin, SkyDNS layout), each on its own
# loopback address. What spofless in each data center needs comes out of `env` (and a JSON file).
#
#   hack/datacenters.sh up [--count N] [--witness] [--no-clusters]   bring everything up (N = 3)
#   hack/datacenters.sh down                                           stop and remove everything
#   hack/datacenters.sh env                                            shell lines for the tests
#   hack/datacenters.sh status                                         what runs; exits 0 if all does
#   hack/datacenters.sh stop DC | start DC     a whole data center: its cluster, etcd member and CoreDNS
#   hack/datacenters.sh pause DC | resume DC   SIGSTOP / SIGCONT of the same processes (a hung data center)
#   hack/datacenters.sh stop-member M | start-member M   one etcd member (a data center or the witness)
#
# Data center i is "${SPOFLESS_DC_PREFIX:-dc}i" (its cluster has that name) at 127.0.22.i: etcd serves
# clients on :2379 and peers on :2380 there, CoreDNS answers on :$SPOFLESS_DNS_PORT (53 as root, else 1053).
# The witness member, if any, is at 127.0.22.(N+1). State (etcd data, Corefiles, pids, logs) lives in
# $SPOFLESS_DC_STATE (default ~/.local/state/spofless/datacenters), never in the repo; the clusters live
# where hack/cluster.sh keeps them. Binaries come from the cache, built once from their pinned Go modules:
# etcd (hack/tools/etcd) and CoreDNS (hack/tools/coredns, the kind node image's build).
# Progress goes to stderr. `up` ends with the `env` lines on stdout.
set -euo pipefail

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HACK_DIR/lib/tools.sh"
source "$HACK_DIR/lib/kind.sh"
source "$HACK_DIR/lib/datacenters.sh"

PREFIX=${SPOFLESS_DC_PREFIX:-dc}
NET=${SPOFLESS_DC_NET:-127.0.22}
STATE=${SPOFLESS_DC_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/spofless/datacenters}
ZONE=${SPOFLESS_DNS_ZONE:-sites.spofless.test}
if [[ -z ${SPOFLESS_DNS_PORT:-} ]]; then
  if ((EUID == 0)); then SPOFLESS_DNS_PORT=53; else SPOFLESS_DNS_PORT=1053; fi
fi
DNS_PORT=$SPOFLESS_DNS_PORT
COUNT=3
WITNESS=0
CLUSTERS=1

usage() { sed -n '2,22s/^# \{0,1\}//p' "$0" >&2; exit "${1:-0}"; }

# The layout of a running set comes from its state directory, so every command after `up` sees the same.
load_layout() {
  [[ -f $STATE/layout ]] || die "no data centers are up (no $STATE/layout); run: hack/datacenters.sh up"
  # shellcheck source=/dev/null
  source "$STATE/layout"
}

dc_name() { echo "$PREFIX$1"; }
address() { echo "$NET.$1"; }
# members: "name index" lines, the data centers first, then the witness.
members() {
  local i
  for ((i = 1; i <= COUNT; i++)); do echo "$(dc_name "$i") $i"; done
  if ((WITNESS)); then echo "witness $((COUNT + 1))"; fi
}
member_index() { members | awk -v m="$1" '$1 == m { print $2; found = 1 } END { exit !found }'; }
dc_index() {
  local i; i=$(member_index "$1") || die "unknown data center $1 (have: $(members | awk '{print $1}' | xargs))"
  ((i <= COUNT)) || die "$1 is the witness, not a data center"
  echo "$i"
}
client_url() { echo "http://$(address "$1"):2379"; }
endpoints() { members | while read -r _ i; do client_url "$i"; done | paste -sd, -; }
pidfile() { echo "$STATE/pids/$1.pid"; }
alive() { [[ -f $(pidfile "$1") ]] && kill -0 "$(<"$(pidfile "$1")")" 2>/dev/null; }

# --- etcd ----------------------------------------------------------------------------------------

start_member() {
  local name=$1 i; i=$(member_index "$name") || die "no etcd member $name"
  alive "etcd-$name" && return 0
  local addr cluster=""
  addr=$(address "$i")
  while read -r m j; do cluster+="${cluster:+,}$m=http://$(address "$j"):2380"; done < <(members)
  mkdir -p "$STATE/etcd" "$STATE/logs" "$STATE/pids"
  local flags; mapfile -t flags < <(etcd_member_flags "$name" "$addr" "$cluster" "$STATE/etcd/$name")
  nohup "$(etcd_dir)/etcd" "${flags[@]}" >>"$STATE/logs/etcd-$name.log" 2>&1 &
  echo $! >"$(pidfile "etcd-$name")"
}

# member_serves M: the member answers its health endpoint (true only while the cluster has a leader).
member_serves() { etcd_healthy "$(client_url "$(member_index "$1")")"; }

stop_process() {
  local what=$1 pid
  alive "$what" || { rm -f "$(pidfile "$what")"; return 0; }
  pid=$(<"$(pidfile "$what")")
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$(pidfile "$what")"
  log "stopped $what (pid $pid)"
}

# --- CoreDNS -------------------------------------------------------------------------------------

# corefile DC_INDEX: the name server of data center i (hack/lib/datacenters.sh says why it is so).
corefile() { dc_corefile "$ZONE" "$DNS_PORT" "$(address "$1")" "$(client_url "$1")"; }

start_dns() {
  local name=$1 i; i=$(dc_index "$name")
  alive "dns-$name" && return 0
  mkdir -p "$STATE/dns" "$STATE/logs" "$STATE/pids"
  corefile "$i" >"$STATE/dns/$name.Corefile"
  nohup "$(coredns_dir)/coredns" -conf "$STATE/dns/$name.Corefile" >>"$STATE/logs/dns-$name.log" 2>&1 &
  echo $! >"$(pidfile "dns-$name")"
}

# dns_serves DC: CoreDNS answers for the zone.
dns_serves() { dns_serves_at "$(address "$(dc_index "$1")")" "$DNS_PORT" "$ZONE"; }

# --- clusters ------------------------------------------------------------------------------------

cluster() { "$HACK_DIR/cluster.sh" "$@"; }
cluster_pids() { awk 1 "$KWOK_WORKDIR/clusters/$1"/pids/*.pid 2>/dev/null || true; }
export KWOK_WORKDIR=$SPOFLESS_CACHE

# --- commands ------------------------------------------------------------------------------------

write_layout() {
  mkdir -p "$STATE"
  printf 'COUNT=%s\nWITNESS=%s\nCLUSTERS=%s\nDNS_PORT=%s\nZONE=%s\n' "$COUNT" "$WITNESS" "$CLUSTERS" "$DNS_PORT" "$ZONE" \
    >"$STATE/layout"
}

cmd_up() {
  ((COUNT >= 1 && COUNT <= 9)) || die "need 1 to 9 data centers"
  if [[ -f $STATE/layout ]]; then
    log "data centers are up already (or were left behind): starting whatever is stopped"
    load_layout
  fi
  ((COUNT + WITNESS >= 3)) || log "warning: $((COUNT + WITNESS)) etcd member(s): losing one loses the store's majority (--witness adds one)"
  local start=$SECONDS name i
  build_etcd
  build_coredns
  write_layout
  while read -r name _; do start_member "$name"; done < <(members)
  while read -r name _; do wait_until 60 "etcd member $name" member_serves "$name"; done < <(members)
  log "etcd: $((COUNT + WITNESS)) members serve ($(endpoints)) ($((SECONDS - start)) s)"
  for ((i = 1; i <= COUNT; i++)); do start_dns "$(dc_name "$i")"; done
  for ((i = 1; i <= COUNT; i++)); do wait_until 30 "CoreDNS of $(dc_name "$i")" dns_serves "$(dc_name "$i")"; done
  log "CoreDNS: $COUNT name servers for $ZONE on port $DNS_PORT ($((SECONDS - start)) s)"
  if ((CLUSTERS)); then
    for ((i = 1; i <= COUNT; i++)); do
      cluster up --name "$(dc_name "$i")" --zones 2 --nodes-per-zone 2 --no-metrics-server >/dev/null
    done
  fi
  write_json
  log "data centers up ($((SECONDS - start)) s): $(members | awk '{print $1}' | xargs)"
  cmd_env
}

# write_json: what the tests read, in one file.
write_json() {
  local i name kubeconfig first=1
  {
    printf '{"zone": "%s", "dns_port": %s, "etcd_endpoints": "%s", "witness": %s, "members": [' \
      "$ZONE" "$DNS_PORT" "$(endpoints)" "$( ((WITNESS)) && echo true || echo false)"
    members | awk '{ printf "%s\"%s\"", (NR > 1 ? ", " : ""), $1 }'
    printf '], "datacenters": ['
    for ((i = 1; i <= COUNT; i++)); do
      name=$(dc_name "$i")
      kubeconfig=""
      if ((CLUSTERS)); then kubeconfig=$(cluster kubeconfig --name "$name"); fi
      ((first)) || printf ', '
      first=0
      printf '{"name": "%s", "address": "%s", "etcd": "%s", "dns": "%s:%s", "kubeconfig": "%s"}' \
        "$name" "$(address "$i")" "$(client_url "$i")" "$(address "$i")" "$DNS_PORT" "$kubeconfig"
    done
    printf ']}\n'
  } >"$STATE/datacenters.json"
}

cmd_env() {
  load_layout
  local kube_bin; kube_bin=$(kube_dir)
  # shellcheck disable=SC2016 # $PATH is for the shell that evals this line
  if [[ -x $kube_bin/kubectl ]]; then printf 'export PATH=%s:$PATH\n' "$kube_bin"; fi # the pinned kubectl first
  echo "export SPOFLESS_DATACENTERS_FILE=$STATE/datacenters.json SPOFLESS_ETCD_ENDPOINTS=$(endpoints)"
  echo "export SPOFLESS_DATACENTERS='$(members | awk -v n="$COUNT" '$2 <= n {print $1}' | xargs)' SPOFLESS_DNS_ZONE=$ZONE SPOFLESS_DNS_PORT=$DNS_PORT"
}

cmd_down() {
  [[ -f $STATE/layout ]] || { log "no data centers (no $STATE/layout)"; return 0; }
  load_layout
  local name i
  for ((i = 1; i <= COUNT; i++)); do
    stop_process "dns-$(dc_name "$i")"
    if ((CLUSTERS)); then cluster down --name "$(dc_name "$i")"; fi
  done
  while read -r name _; do stop_process "etcd-$name"; done < <(members)
  rm -rf "$STATE"
  log "data centers down"
}

cmd_status() {
  load_layout
  local name i ok=0
  while read -r name _; do
    if member_serves "$name"; then echo "etcd $name: serving"; else echo "etcd $name: NOT serving"; ok=1; fi
  done < <(members)
  for ((i = 1; i <= COUNT; i++)); do
    name=$(dc_name "$i")
    if dns_serves "$name"; then echo "dns $name: answering"; else echo "dns $name: NOT answering"; ok=1; fi
    ((CLUSTERS)) || continue
    if cluster status --name "$name" >/dev/null 2>&1; then echo "cluster $name: running"; else echo "cluster $name: NOT running"; ok=1; fi
  done
  return "$ok"
}

# signal_dc DC SIGNAL: every process of a data center (its cluster's, its etcd member, its CoreDNS).
signal_dc() {
  local name=$1 sig=$2 pid pids
  pids="$(cluster_pids "$name") $(cat "$(pidfile "etcd-$name")" "$(pidfile "dns-$name")" 2>/dev/null || true)"
  for pid in $pids; do kill "-$sig" "$pid" 2>/dev/null || true; done
  log "$name: SIG$sig sent to $(wc -w <<<"$pids") processes"
}

cmd_stop() {
  load_layout
  local name=$1; dc_index "$name" >/dev/null
  stop_process "dns-$name"
  stop_process "etcd-$name"
  if ((CLUSTERS)); then cluster stop --name "$name"; fi
}

cmd_start() {
  load_layout
  local name=$1; dc_index "$name" >/dev/null
  build_etcd
  build_coredns
  if ((CLUSTERS)); then cluster start --name "$name" >&2; fi
  start_member "$name"
  start_dns "$name"
  wait_until 30 "CoreDNS of $name" dns_serves "$name"
  log "$name started"
}

command=${1:-}
[[ -n $command ]] || usage 1
shift
args=()
while (($#)); do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --witness) WITNESS=1; shift ;;
    --no-clusters) CLUSTERS=0; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) args+=("$1"); shift ;;
  esac
done
one_arg() { ((${#args[@]} == 1)) || die "$command needs one name"; }

case $command in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  stop) one_arg; cmd_stop "${args[0]}" ;;
  start) one_arg; cmd_start "${args[0]}" ;;
  pause) one_arg; load_layout; dc_index "${args[0]}" >/dev/null; signal_dc "${args[0]}" STOP ;;
  resume) one_arg; load_layout; dc_index "${args[0]}" >/dev/null; signal_dc "${args[0]}" CONT ;;
  stop-member) one_arg; load_layout; member_index "${args[0]}" >/dev/null || die "no etcd member ${args[0]}"; stop_process "etcd-${args[0]}" ;;
  start-member) one_arg; load_layout; start_member "${args[0]}" ;;
  -h | --help | help) usage ;;
  *) usage 1 ;;
esac
