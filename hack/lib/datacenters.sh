#!/usr/bin/env bash
# What the two data-center set-ups share: the etcd member's flags and the name server's Corefile
# (hack/datacenters.sh runs them as local processes on loopback addresses, hack/kind-datacenters.sh as
# Docker containers beside kind clusters), and the check that a name server answers.
# Sourced after hack/lib/tools.sh.

# etcd_member_flags NAME ADDRESS CLUSTER DATA_DIR: the flags of one member, one per line, serving
# clients on ADDRESS:2379 and peers on ADDRESS:2380; CLUSTER is etcd's --initial-cluster list.
# Timings for one machine: a 100 ms heartbeat and a 1 s election timeout (etcd's defaults) fail a
# leader over in about a second. The minimum lease TTL follows from them (1.5 s, rounded up to 2 s).
etcd_member_flags() {
  local name=$1 addr=$2 cluster=$3 data=$4
  printf '%s\n' --name "$name" --data-dir "$data" \
    --listen-client-urls "http://$addr:2379" --advertise-client-urls "http://$addr:2379" \
    --listen-peer-urls "http://$addr:2380" --initial-advertise-peer-urls "http://$addr:2380" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token spofless-datacenters \
    --listen-metrics-urls "http://$addr:2381" --log-level warn
}

# dc_corefile ZONE PORT BIND ENDPOINT: one name server for the sites' zone, on BIND:PORT, reading the
# records spofless publishes in etcd (its etcd plugin, SkyDNS layout) from ENDPOINT.
# - etcd: its own data center's member only. Given every member, its client also sends queries to a member
#   that hangs (its connection looks alive for the keepalive's 5 + 20 s), and answers stale meanwhile: a
#   hung data center stayed in the others' answers for more than 15 s (a scenario's first run). A name
#   server whose own member is down serves its last answers until it is back.
# - cache: answers are kept 1 s (MINTTL 0: the default would keep them 5 s), and CoreDNS counts that age in
#   whole seconds, so an answer is served until it is 2 s old: a record that leaves etcd leaves DNS within
#   2 s (measured: 0.2 to 2.0 s after its key went). The TTL a client gets is the record's, capped at 1 s.
#   0 s would not cache at all, and then nothing is left to serve stale.
# - serve_stale ... immediate: when etcd cannot answer (no quorum, unreachable) the last answers are served
#   for up to an hour instead of SERVFAIL, so an unreachable store never empties DNS. An expired answer is
#   served at once (TTL 0) while etcd is asked in the background, whose answer then replaces it: a change
#   reaches a name one query late. `verify` (ask etcd first) would hold every query for the etcd plugin's
#   fixed 5 s timeout while the store has no quorum: clients time out, which is what stale answers avoid.
# - servfail 0: a failed refresh is not cached (by default for 5 s), so the stale answer keeps being served;
#   with the default, 18 of 30 queries in 15 s got SERVFAIL once the store lost its quorum (dnspython, one
#   record, two of three members stopped), against 0 of 30 with it.
dc_corefile() {
  local zone=$1 port=$2 bind=$3 endpoint=$4
  cat <<EOF
$zone:$port {
    bind $bind
    etcd {
        path /skydns
        endpoint $endpoint
    }
    cache 1 {
        success 9984 1 0
        denial 9984 1 0
        serve_stale 1h immediate
        servfail 0
        keepttl
    }
    errors
}
EOF
}

# dns_serves_at HOST PORT ZONE: the name server answers for the zone's SOA (its own record: no etcd
# needed). Python's stdlib cannot ask a given server, so this is a raw UDP query.
dns_serves_at() {
  python3 - "$1" "$2" "$3" <<'PY'
import socket, struct, sys
host, port, zone = sys.argv[1], int(sys.argv[2]), sys.argv[3]
name = b"".join(bytes([len(p)]) + p.encode() for p in zone.split(".")) + b"\0"
query = struct.pack(">HHHHHH", 0x5f22, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 6, 1)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(1)
    s.sendto(query, (host, port))
    reply = s.recv(512)
sys.exit(0 if reply[:2] == query[:2] and reply[3] & 0x0F != 2 else 1)  # answered, not SERVFAIL
PY
}

# etcd_healthy URL: the member at URL answers its health endpoint (true only while the cluster has a leader).
etcd_healthy() { curl -fsS --max-time 1 "$1/health" | grep -q '"health":"true"'; }

# wait_until SECONDS WHAT CMD...: polls CMD every 0.2 s; fails naming WHAT after SECONDS.
wait_until() {
  local timeout=$1 what=$2 i; shift 2
  for ((i = 0; i < timeout * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "timed out after $timeout s waiting for $what"
}
