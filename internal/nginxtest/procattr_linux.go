// Process attributes of nginx on Linux.

package nginxtest

import "syscall"

// sysProcAttr puts nginx in a process group of its own, so that Stop can
// signal everything it started, and has the kernel kill it if the test
// process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signalGroup(pgid int, sig syscall.Signal) { syscall.Kill(-pgid, sig) }
