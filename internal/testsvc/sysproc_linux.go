package testsvc

import "syscall"

// sysProcAttr runs a server as cred, and kills it if the test binary dies
// before its cleanup runs (a panic, a timeout, ^C), so no server outlives
// the test.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
