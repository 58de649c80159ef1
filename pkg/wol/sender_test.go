package wol

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// wantPacket is the magic packet format written out by hand: 6 x 0xFF, 16 x the MAC, then
// the password.
func wantPacket(mac MAC, pw []byte) []byte {
	b := bytes.Repeat([]byte{0xFF}, 6)
	for range 16 {
		b = append(b, mac[:]...)
	}
	return append(b, pw...)
}

// capture opens a plain UDP socket on 127.0.0.1.
func capture(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPacketsOnTheWire sends through the product socket (Listen) to a plain UDP listener
// on loopback and compares the captured bytes with the format.
func TestPacketsOnTheWire(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cap := capture(t)
	s, err := NewSender(conn, cap.LocalAddr().(*net.UDPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := ParseMAC("3C:52:82:0A:BC:EF")
	for _, c := range []struct {
		name string
		pw   []byte
		size int
	}{
		{"no password", nil, 102},
		{"4-byte password", []byte{0xDE, 0xAD, 0xBE, 0xEF}, 106},
		{"6-byte password", []byte{1, 2, 3, 4, 5, 6}, 108},
	} {
		pkt, err := Packet(mac, c.pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(pkt, netip.MustParseAddr("127.0.0.1")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		_ = cap.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := cap.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got, want := buf[:n], wantPacket(mac, c.pw); n != c.size || !bytes.Equal(got, want) {
			t.Errorf("%s: captured %d bytes %x; want %d bytes %x", c.name, n, got, c.size, want)
		}
		if !from.Addr().Unmap().Is4() {
			t.Errorf("%s: sent from %s, not IPv4", c.name, from)
		}
	}
	if _, err := Packet(mac, []byte{1, 2, 3}); err == nil {
		t.Error("3-byte password accepted")
	}
}

func TestSenderRefusesAddresses(t *testing.T) {
	t.Parallel()
	conn, err := Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := NewSender(conn, 9)
	if err != nil {
		t.Fatal(err)
	}
	pkt := wantPacket(MAC{0x3c, 0x52, 0x82, 1, 2, 3}, nil)
	for _, a := range []string{"255.255.255.255", "0.0.0.0", "224.0.0.1", "239.1.2.3", "ff02::1", "::1"} {
		if err := s.Send(pkt, netip.MustParseAddr(a)); !errors.Is(err, ErrBadDestination) {
			t.Errorf("Send to %s: %v; want ErrBadDestination", a, err)
		}
	}
	if err := s.Send(pkt, netip.Addr{}); !errors.Is(err, ErrBadDestination) {
		t.Errorf("Send to the zero address: %v", err)
	}
	for _, p := range []int{0, -1, 65536} {
		if _, err := NewSender(conn, p); err == nil {
			t.Errorf("port %d accepted", p)
		}
	}
	if _, err := NewSender(nil, 9); err == nil {
		t.Error("nil conn accepted")
	}
}
