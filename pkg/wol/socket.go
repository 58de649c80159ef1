package wol

import (
	"context"
	"fmt"
	"net"
	"syscall"
)

// PacketConn is what a Sender writes through: a *net.UDPConn from Listen in the product,
// or a wrapper (such as the lab's redirect to its listener) that sees every intended
// destination. WriteTo must be safe for concurrent use.
type PacketConn interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
}

// Listen opens the IPv4 UDP socket magic packets are sent from: "udp4" on 0.0.0.0 with an
// ephemeral port and SO_BROADCAST set explicitly. mdlayher/wol's own client opens a
// dual-stack ("udp", ":0") socket, and Go on Windows sets SO_BROADCAST only on non-IPv6
// sockets, so directed broadcasts from it fail there (go-libraries.md section 4); this
// socket is IPv4-only and sets the option itself on every platform. The caller closes it.
func Listen(ctx context.Context) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setBroadcast(fd) }); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("set SO_BROADCAST: %w", serr)
		}
		return nil
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		return nil, fmt.Errorf("open the IPv4 UDP socket for magic packets: %w", err)
	}
	return pc.(*net.UDPConn), nil
}
