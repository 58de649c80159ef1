//go:build linux

package wol

import (
	"context"
	"net"
	"syscall"
	"testing"
)

// TestListenSetsBroadcast reads SO_BROADCAST back from the socket Listen opens, and checks
// that the socket is IPv4 only.
func TestListenSetsBroadcast(t *testing.T) {
	t.Parallel()
	conn, err := Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if ua := conn.LocalAddr().(*net.UDPAddr); ua.IP.To4() == nil {
		t.Fatalf("local address %s is not IPv4", ua)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if v == 0 {
		t.Fatal("SO_BROADCAST is not set")
	}
	var dom int
	if err := rc.Control(func(fd uintptr) {
		dom, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_DOMAIN)
	}); err == nil && gerr == nil && dom != syscall.AF_INET {
		t.Fatalf("socket domain %d; want AF_INET", dom)
	}
}
