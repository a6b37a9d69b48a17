#!/usr/bin/env bash
# Builds the images the kind suite needs, cached by a version key, without a registry when none
# answers. Sourced after hack/lib/tools.sh, hack/lib/docker.sh and hack/lib/kind.sh.
#
# Every image is tagged with a key derived from what it is built from (versions, and a hash of the
# project's files under hack/images/), so a changed input builds a new image and an unchanged one is
# reused from Docker's store.

IMAGES_DIR="$HACK_DIR/images"
ROOT=${ROOT:-$(cd "$HACK_DIR/.." && pwd)}
DEBIAN_SUITE=bookworm
# The packages of the debootstrapped base; bump BASE_REVISION when the recipe changes.
BASE_PACKAGES=ca-certificates
BASE_REVISION=1

# registry_reachable: true when public images can be pulled (checked once per run, 20 s at most).
registry_reachable() {
  if [[ -z ${SPOFLESS_REGISTRY:-} ]]; then
    if timeout 20 docker pull -q "debian:$DEBIAN_SUITE-slim" >/dev/null 2>&1; then
      SPOFLESS_REGISTRY=yes
    else
      SPOFLESS_REGISTRY=no
    fi
    log "images: container registry reachable: $SPOFLESS_REGISTRY"
  fi
  [[ $SPOFLESS_REGISTRY == yes ]]
}

# files_key PATH...: a short hash of the project's files an image is built from.
files_key() {
  find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sed "s|$HACK_DIR/||" | sha256sum | cut -c1-12
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# timed LABEL CMD...: runs CMD with progress lines, and reports how long it took.
timed() { with_heartbeat "$@"; }

# docker_build TAG CONTEXT [ARGS...]: docker build on the host network (apt and pip reach their
# registries from inside the build that way), quiet unless it fails.
docker_build() {
  local tag=$1 context=$2; shift 2
  local logf="$SPOFLESS_CACHE/logs/build-${tag//[:\/]/_}.log"
  mkdir -p "$SPOFLESS_CACHE/logs"
  if ! DOCKER_BUILDKIT=0 docker build --network host -t "$tag" "$@" "$context" >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2
    die "docker build of $tag failed (log: $logf)"
  fi
}

# The Debian base: public when a registry answers, else debootstrap + docker import.
debian_image() {
  if registry_reachable; then echo "debian:$DEBIAN_SUITE-slim"; else echo "spofless-local/debian:$DEBIAN_SUITE-$BASE_REVISION"; fi
}

# debian_mirror [ETC]: the mirror apt itself uses for $DEBIAN_SUITE, read the way apt reads its sources
# (ETC defaults to /etc/apt): one-line entries in sources.list and sources.list.d/*.list, and deb822
# stanzas in sources.list.d/*.sources, whose "Enabled: no" is honoured. Missing files are no error.
# Prints nothing when no source names the suite: debootstrap then uses its own default mirror.
debian_mirror() {
  local etc=${1:-/etc/apt} f files=()
  [[ -f $etc/sources.list ]] && files+=("$etc/sources.list")
  for f in "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  awk -v suite="$DEBIAN_SUITE" -f "$HACK_DIR/lib/apt-sources.awk" "${files[@]}"
}

build_debian() {
  local tag; tag=$(debian_image)
  if have_image "$tag"; then log "images: $tag cached"; return 0; fi
  registry_reachable && { docker pull -q "$tag" >/dev/null; return 0; }
  if ! command -v debootstrap >/dev/null; then
    log "images: installing Debian's debootstrap (no registry answers: the base image is built locally)"
    apt_install debootstrap
  fi
  local dir="$SPOFLESS_CACHE/debian-$DEBIAN_SUITE-$BASE_REVISION"
  if [[ ! -f $dir/.done ]]; then
    local mirror; mirror=$(debian_mirror)
    log "images: debootstrap $DEBIAN_SUITE from ${mirror:-the default mirror of debootstrap} (1-4 min)"
    rm -rf "$dir" && mkdir -p "$dir"
    timed "debootstrap" quietly "$dir/debootstrap.log" debootstrap --variant=minbase \
      --include="$BASE_PACKAGES" "$DEBIAN_SUITE" "$dir/rootfs" ${mirror:+"$mirror"}
    # Smaller, and no cached package lists that would go stale in the image.
    rm -rf "$dir"/rootfs/var/cache/apt/archives/*.deb "$dir"/rootfs/var/lib/apt/lists/*
    tar -C "$dir/rootfs" -cf "$dir/rootfs.tar" . && rm -rf "$dir/rootfs"
    touch "$dir/.done"
  fi
  docker import "$dir/rootfs.tar" "$tag" >/dev/null
  log "images: $tag imported"
}

# python_image: python:3.11-slim when a registry answers, else the local stand-in built on the base.
python_image() {
  if registry_reachable; then echo "python:3.11-slim"; else echo "spofless-local/python:3.11-$(python_key)"; fi
}
python_key() { echo "$BASE_REVISION-$(files_key "$IMAGES_DIR/python")"; }

build_python() {
  local tag; tag=$(python_image)
  if have_image "$tag"; then log "images: $tag cached"; return 0; fi
  if registry_reachable; then docker pull -q "$tag" >/dev/null; return 0; fi
  build_debian
  local ctx="$SPOFLESS_CACHE/context/python"
  rm -rf "$ctx" && mkdir -p "$ctx" && cp "$IMAGES_DIR/python/Dockerfile" "$ctx/"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
  timed "image $tag" docker_build "$tag" "$ctx" --build-arg "BASE_IMAGE=$(debian_image)"
}

# small_image NAME: an image of hack/images/NAME on the Python base, tagged by its files' hash.
small_image() { echo "spofless-$1:$(files_key "$IMAGES_DIR/$1")-${BASE_REVISION}"; }

build_small_image() {
  local tag; tag=$(small_image "$1")
  if have_image "$tag"; then log "images: $tag cached"; return 0; fi
  build_python
  timed "image $tag" docker_build "$tag" "$IMAGES_DIR/$1" --build-arg "PYTHON_IMAGE=$(python_image)"
}

# The operator's image, from the repo's Dockerfile (python:3.11-slim unless no registry answers).
OPERATOR_IMAGE=spofless:dev
build_operator_image() {
  build_python
  timed "image $OPERATOR_IMAGE" docker_build "$OPERATOR_IMAGE" "$ROOT" --build-arg "PYTHON_IMAGE=$(python_image)"
}

# --- The kind node image -------------------------------------------------------------------------

node_image() {
  if registry_reachable; then
    echo "kindest/node:$(module_version kube k8s.io/kubernetes)"
  else
    local key
    key=$(module_version kind sigs.k8s.io/kind)-$(module_version containerd github.com/containerd/containerd/v2)
    key+=-$(module_version coredns github.com/coredns/coredns)-$(files_key "$IMAGES_DIR/node" "$IMAGES_DIR/cni" "$IMAGES_DIR/pause")
    echo "spofless-local/kind-node:$(module_version kube k8s.io/kubernetes)-$(sha256sum <<<"$key-$BASE_REVISION" | cut -c1-12)"
  fi
}

# binary_image TAG FROM DIR BIN [PACKAGES]: an image with BIN from DIR in /usr/local/bin (and Debian
# PACKAGES), its entrypoint BIN: the images kubeadm runs, which no registry supplies here.
binary_image() {
  local tag=$1 from=$2 dir=$3 bin=$4 packages=${5:-}
  local ctx="$SPOFLESS_CACHE/context/${tag//[:\/]/_}"
  rm -rf "$ctx" && mkdir -p "$ctx" && cp "$dir/$bin" "$ctx/"
  {
    echo "FROM $from"
    [[ -z $packages ]] || echo "RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages && rm -rf /var/lib/apt/lists/*"
    echo "COPY $bin /usr/local/bin/$bin"
    echo "ENTRYPOINT [\"/usr/local/bin/$bin\"]"
  } >"$ctx/Dockerfile"
  docker_build "$tag" "$ctx"
}

# kubeadm_images: the images kubeadm of the pinned version runs, as "name:tag" lines.
kubeadm_images() {
  "$(kube_node_dir)/kubeadm" config images list --kubernetes-version "$(module_version kube k8s.io/kubernetes)" 2>/dev/null
}

build_kubeadm_images() {
  local base image name kube_v; base=$(debian_image)
  kube_v=$(module_version kube k8s.io/kubernetes)
  for image in $(kubeadm_images); do
    have_image "$image" && continue
    name=${image##*/}; name=${name%%:*}
    case $name in
      kube-apiserver | kube-controller-manager | kube-scheduler) binary_image "$image" "$base" "$(kube_dir)" "$name" ;;
      kube-proxy) binary_image "$image" "$base" "$(kube_node_dir)" kube-proxy "iptables nftables conntrack" ;;
      etcd) binary_image "$image" "$base" "$(etcd_dir)" etcd ;;
      coredns) binary_image "$image" "$base" "$(coredns_dir)" coredns ;;
      pause)
        local ctx="$SPOFLESS_CACHE/context/pause"
        rm -rf "$ctx" && mkdir -p "$ctx"
        go -C "$IMAGES_DIR/pause" build -trimpath -ldflags "-s -w" -o "$ctx/pause" .
        printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$ctx/Dockerfile"
        docker_build "$image" "$ctx"
        ;;
      *) die "kubeadm $kube_v expects $image, which hack/lib/images.sh does not know how to build" ;;
    esac
    log "images: $image built"
  done
}

build_node_image() {
  local tag; tag=$(node_image)
  if have_image "$tag"; then log "images: $tag cached"; return 0; fi
  if registry_reachable; then docker pull -q "$tag" >/dev/null; return 0; fi
  build_kube_node
  build_containerd
  build_crictl
  build_coredns
  build_etcd
  build_kube
  build_debian
  build_small_image cni
  timed "kubeadm's images" build_kubeadm_images
  local ctx="$SPOFLESS_CACHE/context/node" kind_mod pause cni_image
  kind_mod=$(go -C "$TOOLS_DIR/kind" list -m -f '{{.Dir}}' sigs.k8s.io/kind)
  pause=$(kubeadm_images | grep /pause:) ; cni_image=$(small_image cni)
  rm -rf "$ctx" && mkdir -p "$ctx/bin" "$ctx/kube" "$ctx/kind-files"
  cp -r "$kind_mod/images/base/files/." "$ctx/kind-files/" && chmod -R u+w "$ctx/kind-files"
  rm -rf "$ctx/kind-files/LICENSES" "$ctx/kind-files/etc/containerd"
  cp "$(containerd_dir)"/{containerd,ctr,containerd-shim-runc-v2} "$(crictl_dir)/crictl" "$ctx/bin/"
  cp "$(kube_node_dir)"/{kubelet,kubeadm} "$(kube_dir)/kubectl" "$ctx/kube/"
  cp "$IMAGES_DIR"/node/* "$ctx/"
  sed -i "s|PAUSE_IMAGE|$pause|" "$ctx/containerd-config.toml"
  sed -i "s|CNI_IMAGE|$cni_image|" "$ctx/default-cni.yaml"
  module_version kube k8s.io/kubernetes >"$ctx/version"
  timed "node base image" docker_build "$tag-base" "$ctx" --build-arg "BASE_IMAGE=$(debian_image)"
  timed "node image: preloading $(kubeadm_images | wc -l) images and the CNI" preload_images "$tag" "$cni_image"
  docker rmi "$tag-base" >/dev/null
}

# preload_images TAG EXTRA...: TAG is TAG-base with kubeadm's images (and EXTRA) already in its
# containerd, imported unpacked-on-demand, so nodes start without any registry.
preload_images() {
  local tag=$1; shift
  local tar="$SPOFLESS_CACHE/context/node/images.tar" name="spofless-preload-$$"
  # shellcheck disable=SC2046
  docker save -o "$tar" $(kubeadm_images) "$@"
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --network none --cap-add=ALL --cap-drop=SYS_RESOURCE \
    -v "$tar:/images.tar:ro" --entrypoint containerd "$tag-base" >/dev/null
  local i
  for ((i = 0; i < 60; i++)); do docker exec "$name" ctr version >/dev/null 2>&1 && break; sleep 1; done
  docker exec "$name" ctr -n k8s.io images import --no-unpack --digests /images.tar >/dev/null \
    || { docker logs "$name" | tail -n 20 >&2; docker rm -f "$name" >/dev/null; die "preloading images failed"; }
  docker exec "$name" ctr -n k8s.io images ls -q >&2
  # containerd ignores the image's stop signal (SIGRTMIN+3, for systemd): ask it with SIGTERM.
  docker kill -s TERM "$name" >/dev/null && docker wait "$name" >/dev/null
  docker commit --change 'ENTRYPOINT ["/usr/local/bin/spofless-node-init", "/usr/local/bin/entrypoint", "/sbin/init"]' \
    --change 'CMD []' "$name" "$tag" >/dev/null # the base image's STOPSIGNAL (for systemd) stays
  docker rm "$name" >/dev/null
  rm -f "$tar"
}
