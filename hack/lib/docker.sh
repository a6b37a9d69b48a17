#!/usr/bin/env bash
# Makes a Docker engine available for the kind suite: installs Debian's docker.io when there is no
# dockerd, starts dockerd in the background when `docker info` fails, and stops with a message
# naming the command for the other suites when Docker cannot run here at all.
# Sourced after hack/lib/tools.sh.

DOCKER_WAIT=${DOCKER_WAIT:-60}

# docker_unavailable REASON: the kind suite cannot run on this machine; say what still can.
docker_unavailable() {
  die "Docker cannot run on this machine ($1), so the kind suite cannot run.
  The other suites run without Docker: SPOFLESS_KIND=0 make test (lint, unit, chart and KWOK e2e)."
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  mkdir -p "$SPOFLESS_CACHE"
  if ! command -v dockerd >/dev/null; then
    command -v apt-get >/dev/null || docker_unavailable "no dockerd and no apt-get to install docker.io"
    log "docker: installing Debian's docker.io (no dockerd on this machine)"
    apt_install docker.io
  fi
  command -v docker >/dev/null || docker_unavailable "no docker client"
  if ! docker info >/dev/null 2>&1; then
    log "docker: starting dockerd in the background (log: $SPOFLESS_CACHE/dockerd.log)"
    # setsid: dockerd outlives this script, and a Ctrl-C in the test run does not stop it.
    # SPOFLESS_DOCKER_DATA_ROOT: an image store of its own (hack/cold-test.sh starts from an empty one).
    setsid dockerd ${SPOFLESS_DOCKER_DATA_ROOT:+--data-root "$SPOFLESS_DOCKER_DATA_ROOT"} \
      >>"$SPOFLESS_CACHE/dockerd.log" 2>&1 </dev/null &
    local i
    for ((i = 0; i < DOCKER_WAIT; i++)); do
      docker info >/dev/null 2>&1 && break
      kill -0 $! 2>/dev/null || docker_unavailable "dockerd exited: see the end of $SPOFLESS_CACHE/dockerd.log"
      sleep 1
    done
    docker info >/dev/null 2>&1 || docker_unavailable "dockerd did not answer within ${DOCKER_WAIT} s: see $SPOFLESS_CACHE/dockerd.log"
  fi
  log "docker: $(docker version -f 'engine {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"
}
