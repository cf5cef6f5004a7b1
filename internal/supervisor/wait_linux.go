package supervisor

import (
	"errors"
	"syscall"
	"unsafe"
)

// pPID is waitid's P_PID id type on Linux.
const pPID = 1

// waitExited blocks until the child pid has exited, without reaping it, so
// the pid stays reserved until cmd.Wait reaps it.
func waitExited(pid int) error {
	var info [128]byte // siginfo_t; its contents are not needed
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch {
		case errno == 0:
			return nil
		case errors.Is(errno, syscall.EINTR):
			continue
		default:
			return errno
		}
	}
}
