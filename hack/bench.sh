#!/usr/bin/env bash
# `make bench`: brings up the local cluster, installs the chart's RBAC (so the operator runs as its
# ServiceAccount and the audit log counts its requests), runs bench/run.py (as `python -m bench.run`) and leaves the results in
# bench/results/ (not committed). Arguments go to bench/run.py (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/tools.sh

# Size the cluster so the two zones left after losing one hold every pod (bench/blast.py: sizing).
blast=300 scale=300 latency=20 takeover=0 profiling=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --blast-sites) blast=${args[i + 1]} ;;
    --takeover-sites) takeover=${args[i + 1]} ;;
    --scale-sites) scale=${args[i + 1]} ;;
    --latency-sites) latency=${args[i + 1]} ;;
    --profile) profiling=1 ;;
  esac
done
# The takeover scenario is a blast of its own, after the first: the larger of the two sizes the zones.
((takeover > blast)) && blast=$takeover
read -r nodes summary < <(.venv/bin/python -c "
from bench.blast import sizing
s = sizing($blast, other_pods=3 * $scale + 6 * $latency + 6)
print(s['nodes_per_zone'], f\"{s['zones']} zones x {s['nodes_per_zone']} nodes x {s['pods_per_node']} pods: \"
      f\"{s['slots_after_losing_a_zone']} slots left after losing a zone for {s['pods']} pods\")")
# --profile: py-spy (PyPI) samples the operator (bench/profile.py); only the bench needs it.
if ((profiling)) && [[ ! -x .venv/bin/py-spy ]]; then
  log "installing py-spy into .venv for --profile"
  .venv/bin/pip install --quiet "py-spy>=0.4,<1"
fi
log "cluster sized for $blast blast sites, $scale scale sites: $summary"
# KWOK plays a kubelet per node more closely with 32 status writers than with its 4 (hack/kwok/pod-writers.yaml).
hack/cluster.sh up --nodes-per-zone "$nodes" --pod-writers 32 >/dev/null
eval "$(hack/cluster.sh env)"
kubectl apply --server-side -f crds/ >/dev/null
wait_crds_established
kubectl apply --server-side -f manifests/install.yaml >/dev/null
# The chart's operator pods are KWOK's fakes here; the operator under test runs below, as that account.
kubectl -n spofless-system scale deployment spofless --replicas=0 >/dev/null
log "benchmarks (several minutes; progress below)"
# One log directory per cluster: two benches may run side by side on one machine.
export SPOFLESS_BENCH_LOGS=${SPOFLESS_BENCH_LOGS:-$SPOFLESS_CACHE/bench-${SPOFLESS_CLUSTER:-spofless}}
mkdir -p "$SPOFLESS_BENCH_LOGS"
.venv/bin/python -u -m bench.run --service-account spofless-system/spofless "$@"
