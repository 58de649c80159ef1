//go:build unix

package wol

import "syscall"

// setBroadcast sets SO_BROADCAST on a Unix socket descriptor.
func setBroadcast(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
}
