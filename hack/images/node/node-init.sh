#!/bin/sh
# Runs before kind's entrypoint. On a host whose capability bounding set lacks CAP_SYS_RESOURCE,
# Docker cannot start a --privileged container, so hack/kind/docker starts the node with every other
# capability instead. Such a container gets /sys and the cgroup v1 hierarchies read-only and no
# /dev/kmsg: make them what a --privileged node would see. Harmless on a privileged node.
set -u
mount -o remount,rw /sys 2>/dev/null || true
for m in /sys/fs/cgroup $(awk '$3 == "cgroup" {print $2}' /proc/self/mounts); do
  mount -o remount,bind,rw "$m" 2>/dev/null || true
done
[ -e /dev/kmsg ] || mknod /dev/kmsg c 1 11 2>/dev/null || true
exec "$@"
