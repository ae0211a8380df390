// Process attributes of nginx on Unix systems other than Linux.

//go:build unix && !linux

package nginxtest

import "syscall"

// sysProcAttr puts nginx in a process group of its own, so that Stop can
// signal everything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func signalGroup(pgid int, sig syscall.Signal) { syscall.Kill(-pgid, sig) }
