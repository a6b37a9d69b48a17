#!/usr/bin/env bash
# `make test`: lint, bring the local cluster up, run the unit and e2e suites in one pytest run, and tear
# the cluster down even when a test fails. With SPOFLESS_KEEP_CLUSTER=1 the cluster is left running.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== lint" >&2
$BIN/ruff check operator tests
$BIN/ruff format --check operator tests
$BIN/mypy

echo "== local cluster" >&2
# A broken earlier run may have left one: start from a clean one.
hack/cluster.sh down >&2 || true
env_line=$(hack/cluster.sh up | tail -n 1)
if [[ ${SPOFLESS_KEEP_CLUSTER:-0} != 1 ]]; then trap 'echo "== tearing the cluster down" >&2; hack/cluster.sh down >&2' EXIT; fi
eval "$env_line"
export SPOFLESS_E2E_LOCAL_CLUSTER=1  # the suite may restart this cluster's kube-apiserver
eval "$(hack/cluster.sh env)"

echo "== unit and e2e tests" >&2
$BIN/pytest tests "$@"
