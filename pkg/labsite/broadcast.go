package labsite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ServeBroadcasts opens a UDP socket at port on the directed-broadcast address of every
// lab subnet and on every lab host's own address (up to MaxUnicastSockets of them), so
// that magic packets a separate patchnight process sends to a lab subnet's broadcast
// (127.x.y.255) or to a host (unicast) arrive at the wake listener, which decides as the
// network would whether they reach the machine. Every lab address is a loopback address,
// so these sockets are reachable from this machine only. Binding addresses of 127.0.0.0/8
// other than 127.0.0.1 works on Linux; elsewhere it may fail, and the error says so. It
// returns how many sockets it opened.
func (s *Site) ServeBroadcasts(ctx context.Context, port int) (int, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT subnet_id, prefix_len FROM lab_subnet ORDER BY subnet_id`)
	if err != nil {
		return 0, fmt.Errorf("lab subnets: %w", err)
	}
	var prefixes []netip.Prefix
	for rows.Next() {
		var id string
		var bits int
		if err := rows.Scan(&id, &bits); err != nil {
			rows.Close()
			return 0, fmt.Errorf("lab subnets: %w", err)
		}
		a, err := netip.ParseAddr(id)
		if err != nil || !a.IsLoopback() {
			continue // only loopback subnets are ever bound
		}
		prefixes = append(prefixes, netip.PrefixFrom(a, bits))
	}
	rows.Close()
	var addrs []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, p := range prefixes {
		if b, ok := broadcastOf(p); ok && !seen[b] {
			seen[b] = true
			addrs = append(addrs, b)
		}
	}
	rows, err = s.DB.QueryContext(ctx, `SELECT DISTINCT IP_Addresses0 FROM lab_ra_ip ORDER BY IP_Addresses0`)
	if err != nil {
		return 0, fmt.Errorf("lab addresses: %w", err)
	}
	unicast := 0
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			rows.Close()
			return 0, fmt.Errorf("lab addresses: %w", err)
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() || !a.IsLoopback() || seen[a] || unicast >= MaxUnicastSockets {
			continue
		}
		seen[a] = true
		addrs = append(addrs, a)
		unicast++
	}
	rows.Close()
	n := 0
	for _, b := range addrs {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(b, uint16(port))))
		if err != nil {
			return n, fmt.Errorf("listen on lab broadcast %s:%d (binding loopback addresses other than 127.0.0.1 may not work on this system): %w", b, port, err)
		}
		n++
		s.mu.Lock()
		s.udp = append(s.udp, conn)
		s.mu.Unlock()
		go func(dst netip.Addr) {
			buf := make([]byte, 1500)
			for {
				k, _, err := conn.ReadFromUDPAddrPort(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				s.Wake.Deliver(append([]byte(nil), buf[:k]...), dst)
			}
		}(b)
	}
	return n, nil
}

// MaxUnicastSockets bounds the per-host sockets ServeBroadcasts opens.
const MaxUnicastSockets = 10000

func broadcastOf(p netip.Prefix) (netip.Addr, bool) {
	if !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Addr{}, false
	}
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
