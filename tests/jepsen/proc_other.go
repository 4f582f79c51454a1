//go:build !linux

package main

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent's; here
// the harness's own cleanup (and the nodes reading EOF on stdin) must do.
func dieWithParent(cmd *exec.Cmd) {}
