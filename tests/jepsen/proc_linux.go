package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel SIGKILL the node when the harness dies: a
// node outlives no harness (a paused one would never read the EOF of its
// stdin).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
