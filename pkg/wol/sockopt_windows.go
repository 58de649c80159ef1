//go:build windows

package wol

import "syscall"

// setBroadcast sets SO_BROADCAST on a Windows socket handle.
func setBroadcast(fd uintptr) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
}
