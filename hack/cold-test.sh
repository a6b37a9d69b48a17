#!/usr/bin/env bash
# `make test` as a fresh machine runs it, on this one: a clone of HEAD, an empty tool cache
# (SPOFLESS_CACHE), empty Go and pip caches, no Docker images, and neither docker.io nor debootstrap
# installed. Everything make test needs is then installed and built from scratch, and timed.
#
#   hack/cold-test.sh [--keep]      --keep: leave the work directory (caches, logs) behind
#
# It changes this machine: it stops a running dockerd and removes the docker.io and debootstrap
# packages (make test installs them again). Docker's usual image store (/var/lib/docker) is left
# alone: the run uses an empty one of its own, in the work directory, and stops its dockerd at the end.
# The work directory needs about 30 GB. Prints the times of each part and of the whole run.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HACK_DIR/.." && pwd)
source "$HACK_DIR/lib/tools.sh"

KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1
WORK=$(mktemp -d /tmp/spofless-cold.XXXXXX)
mkdir -p "$WORK/logs"
log "cold run in $WORK (log: $WORK/logs/make-test.log)"

stop_dockerd() {
  local pid
  for pid in $(pgrep -x dockerd || true); do
    log "stopping dockerd (pid $pid)"
    kill "$pid"
    wait_for_pid "$pid" 60 || kill -KILL "$pid"
  done
}

# What a fresh machine lacks.
stop_dockerd
for package in docker.io debootstrap; do
  if dpkg -s "$package" >/dev/null 2>&1; then
    log "removing $package (make test installs it again)"
    DEBIAN_FRONTEND=noninteractive quietly "$WORK/logs/remove-$package.log" apt-get remove -y -q "$package"
  fi
done
git clone -q "$ROOT" "$WORK/repo"
export SPOFLESS_CACHE=$WORK/cache XDG_CACHE_HOME=$WORK/xdg GOCACHE=$WORK/go-build GOMODCACHE=$WORK/go-mod
export GOFLAGS=-modcacherw PIP_NO_CACHE_DIR=1 SPOFLESS_DOCKER_DATA_ROOT=$WORK/docker

# shellcheck disable=SC2329 # run by the EXIT trap
finish() {
  local rc=$?
  stop_dockerd # the run's own, on its empty image store
  if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK/cache" "$WORK/go-build" "$WORK/go-mod" "$WORK/docker" "$WORK/repo"; fi
  exit "$rc"
}
trap finish EXIT

start=$SECONDS
rc=0
(cd "$WORK/repo" && bash .ci/run) 2>&1 | tee "$WORK/logs/make-test.log" || rc=$?
log "the parts' times:"
grep -E 'TIME|built in' "$WORK/logs/make-test.log" >&2 || true
log "TIME cold make test: $((SECONDS - start)) s, exit $rc (log: $WORK/logs/make-test.log)"
exit "$rc"
