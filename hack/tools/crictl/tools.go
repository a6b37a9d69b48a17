//go:build tools

// Package tools records the commands built from this module.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
