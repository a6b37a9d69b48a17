#!/usr/bin/env bash
# Builds what the kind e2e cluster needs from Go modules, cached by version outside the repo like the
# local cluster's tools (hack/lib/tools.sh). Versions live in hack/tools/*/go.mod (with go.sum).
# Sourced after hack/lib/tools.sh.

kind_dir() { echo "$SPOFLESS_CACHE/kind-$(module_version kind sigs.k8s.io/kind)"; }
kind_bin() { echo "$(kind_dir)/kind"; }
containerd_dir() { echo "$SPOFLESS_CACHE/containerd-$(module_version containerd github.com/containerd/containerd/v2)"; }
coredns_dir() { echo "$SPOFLESS_CACHE/coredns-$(module_version coredns github.com/coredns/coredns)"; }
# The node's Kubernetes binaries: apart from kube_dir, whose .done the control-plane build owns.
kube_node_dir() { echo "$SPOFLESS_CACHE/kube-node-$(module_version kube k8s.io/kubernetes)"; }

build_kind() {
  build_into "$(kind_dir)" "kind $(module_version kind sigs.k8s.io/kind)" kind -ldflags "-s -w" sigs.k8s.io/kind
}

build_containerd() {
  local v; v=$(module_version containerd github.com/containerd/containerd/v2)
  local m=github.com/containerd/containerd/v2
  build_into "$(containerd_dir)" "containerd $v" containerd -tags "no_aufs no_zfs no_btrfs no_devmapper" \
    -ldflags "-s -w -X $m/version.Version=$v -X $m/version.Package=$m" \
    "$m/cmd/containerd" "$m/cmd/ctr" "$m/cmd/containerd-shim-runc-v2"
}

build_coredns() {
  build_into "$(coredns_dir)" "coredns $(module_version coredns github.com/coredns/coredns)" coredns \
    -ldflags "-s -w" github.com/coredns/coredns
}

# The kubelet, kubeadm and kube-proxy, with the same version stamps as the control plane (kubeadm
# compares its own version with the kubelet's and picks image tags from it).
build_kube_node() {
  local v; v=$(module_version kube k8s.io/kubernetes)
  build_into "$(kube_node_dir)" "kubelet/kubeadm/kube-proxy $v" kube -tags selinux,notest,grpcnotrace \
    -ldflags "-s -w$(kube_version_ldflags)" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-proxy
}

crictl_dir() { echo "$SPOFLESS_CACHE/crictl-$(module_version crictl sigs.k8s.io/cri-tools)"; }

build_crictl() {
  local v; v=$(module_version crictl sigs.k8s.io/cri-tools)
  build_into "$(crictl_dir)" "crictl $v" crictl -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$v" \
    sigs.k8s.io/cri-tools/cmd/crictl
}
