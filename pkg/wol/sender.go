package wol

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	mwol "github.com/mdlayher/wol"
)

// ErrBadPassword is returned for a SecureOn password that is not 4 or 6 bytes of hex. The
// error never repeats the password.
var ErrBadPassword = errors.New("SecureOn password must be 4 or 6 bytes in hex, like 01:02:03:04:05:06")

// ParsePassword reads a SecureOn password: 4 or 6 bytes in hex, optionally separated by
// ':' or '-' (01:02:03:04:05:06, 01-02-03-04, 010203040506). "" is no password.
func ParsePassword(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	if len(t) > 2 && (t[2] == ':' || t[2] == '-') {
		parts := strings.Split(t, t[2:3])
		for _, p := range parts {
			if len(p) != 2 {
				return nil, ErrBadPassword
			}
		}
		t = strings.Join(parts, "")
	}
	pw, err := hex.DecodeString(t)
	if err != nil || (len(pw) != 4 && len(pw) != 6) {
		return nil, ErrBadPassword
	}
	return pw, nil
}

// Packet builds the magic packet for mac with mdlayher/wol's MarshalBinary:
//
//	offset 0     6 x 0xFF                      synchronisation stream
//	offset 6     16 x the 6-byte MAC           96 bytes
//	offset 102   SecureOn password, if any     0, 4 or 6 bytes
//
// 102 bytes without a password, 106 or 108 with one.
func Packet(mac MAC, password []byte) ([]byte, error) {
	p := &mwol.MagicPacket{Target: mac.HardwareAddr(), Password: password}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("build magic packet for %s: %w", mac, err)
	}
	return b, nil
}

// ErrBadDestination is returned by Sender.Send for an address no magic packet may go to.
var ErrBadDestination = errors.New("refusing to send a magic packet to this address")

// Sender writes magic packets through one socket to one UDP port. It is safe for
// concurrent use when its PacketConn is (a *net.UDPConn is).
type Sender struct {
	conn PacketConn
	port uint16
}

// NewSender returns a Sender that writes through conn to port (1-65535).
func NewSender(conn PacketConn, port int) (*Sender, error) {
	if conn == nil {
		return nil, errors.New("wol: no socket to send from")
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("wol: port %d is not 1-65535", port)
	}
	return &Sender{conn: conn, port: uint16(port)}, nil
}

// Send writes one packet to dst on the Sender's port. dst must be a unicast or
// subnet-directed broadcast IPv4 address: the unspecified address, the limited broadcast
// 255.255.255.255, multicast and IPv6 are refused with ErrBadDestination, so that nothing
// but a planned address is ever written to.
func (s *Sender) Send(pkt []byte, dst netip.Addr) error {
	if !dst.Is4() || dst.IsUnspecified() || dst.IsMulticast() || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%w: %s", ErrBadDestination, dst)
	}
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, s.port))
	if _, err := s.conn.WriteTo(pkt, to); err != nil {
		return fmt.Errorf("send magic packet to %s: %w", to, err)
	}
	return nil
}
