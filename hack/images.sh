#!/usr/bin/env bash
# Builds the images the kind suite needs, cached by version (Docker's store, and ~/.cache/spofless
# for the debootstrapped base and the Go builds). Starts Docker first, installing it if needed.
#
#   hack/images.sh [all|base|operator|testsite|traffic|node]...    default: all
#
# With a reachable registry it uses python:3.11-slim, debian:bookworm-slim and kindest/node; without
# one it builds their equivalents from Debian packages and Go modules. SPOFLESS_REGISTRY=no forces
# the local builds. Prints the tags it built, one "name=tag" a line, on stdout.
set -euo pipefail
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HACK_DIR/lib/tools.sh"
source "$HACK_DIR/lib/docker.sh"
source "$HACK_DIR/lib/kind.sh"
source "$HACK_DIR/lib/images.sh"

ensure_docker
registry_reachable || true # decided once, here, for every step below
(($#)) || set -- all
# No `build_x && echo`: bash ignores set -e in everything a && list calls, so a failed step would pass.
for what in "$@"; do
  case $what in
    base) build_debian; build_python ;;
    operator) build_operator_image; echo "operator=$OPERATOR_IMAGE" ;;
    testsite | traffic) build_small_image "$what"; echo "$what=$(small_image "$what")" ;;
    node) build_node_image; echo "node=$(node_image)" ;;
    all) "$0" base operator testsite traffic node ;;
    *) die "unknown image '$what' (all, base, operator, testsite, traffic, node)" ;;
  esac
done
