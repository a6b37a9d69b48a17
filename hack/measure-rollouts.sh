#!/usr/bin/env bash
# `make bench-rollouts`: the rollout figures docs/mechanisms/rollouts.md quotes, measured on the local cluster by the
# e2e scenarios themselves (tests/e2e/test_rollout.py prints them), RUNS times, medians at the end:
# how long a 3-zone rollout of 6 replicas takes with a given bake, the time from a bad template to
# the halt, and the lowest total of ready pods during a good rollout and during two drains in two zones.
# Usage: hack/measure-rollouts.sh [RUNS (default 5)] [BAKE_SECONDS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/tools.sh
runs=${1:-5}
export SPOFLESS_E2E_BAKE_SECONDS=${2:-3}

hack/cluster.sh up >/dev/null
eval "$(hack/cluster.sh env)"
out=$(mktemp)
for ((i = 1; i <= runs; i++)); do
  log "run $i of $runs"
  .venv/bin/pytest tests/e2e/test_rollout.py -q -s -p no:cacheprovider \
    -k "good_template or bad_template_halts or two_drains" | grep -oE '(3-zone rollout|bad template -> halt|two drains in two zones).*' | tee -a "$out"
done
.venv/bin/python - "$out" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
def med(pattern):
    values = [float(v) for v in re.findall(pattern, text)]
    return f"median {statistics.median(values):g} (min {min(values):g}, max {max(values):g}, {len(values)} runs)" if values else "no sample"
print("3-zone rollout of 6 replicas, seconds:", med(r"bake \d+ s: ([\d.]+) s"))
print("lowest ready pods during it:          ", med(r"lowest ready (\d+)\b(?! of)"))
print("bad template to halt, seconds:        ", med(r"bad template -> halt: ([\d.]+) s"))
print("lowest ready during two drains (of 3):", med(r"two drains in two zones: lowest ready (\d+)"))
PY
