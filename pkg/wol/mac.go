package wol

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
)

// MAC is an EUI-48 hardware address. It is comparable (a map key) and prints and marshals
// as text in the ConfigMgr spelling, 00:15:5D:01:02:03.
type MAC [6]byte

// Errors of ParseMAC and MAC.Check, for errors.Is.
var (
	ErrMalformedMAC = errors.New("malformed MAC")
	ErrZeroMAC      = errors.New("MAC is 00:00:00:00:00:00")
	ErrBroadcastMAC = errors.New("MAC is the broadcast address FF:FF:FF:FF:FF:FF")
	ErrMulticastMAC = errors.New("MAC is a multicast (group) address")
	ErrVirtualMAC   = errors.New("MAC belongs to a virtual machine or virtual switch")
)

// ParseMAC reads a MAC in any spelling inventory and users write: 00:15:5D:01:02:03,
// 00-15-5d-01-02-03, 0015.5d01.0203 or 00155D010203 (any case, surrounding blanks
// ignored). The separator must be consistent. Anything else is ErrMalformedMAC.
func ParseMAC(s string) (MAC, error) {
	t := strings.TrimSpace(s)
	var digits string
	switch len(t) {
	case 12: // 00155D010203
		digits = t
	case 14: // 0015.5d01.0203
		if t[4] != '.' || t[9] != '.' {
			return MAC{}, fmt.Errorf("%w: %q", ErrMalformedMAC, clip(s))
		}
		digits = t[0:4] + t[5:9] + t[10:14]
	case 17: // 00:15:5D:01:02:03 or 00-15-5D-01-02-03
		sep := t[2]
		if sep != ':' && sep != '-' {
			return MAC{}, fmt.Errorf("%w: %q", ErrMalformedMAC, clip(s))
		}
		var b strings.Builder
		for i := 0; i < 17; i += 3 {
			if i > 0 && t[i-1] != sep {
				return MAC{}, fmt.Errorf("%w: %q", ErrMalformedMAC, clip(s))
			}
			b.WriteString(t[i : i+2])
		}
		digits = b.String()
	default:
		return MAC{}, fmt.Errorf("%w: %q", ErrMalformedMAC, clip(s))
	}
	var m MAC
	if n, err := hex.Decode(m[:], []byte(digits)); err != nil || n != 6 {
		return MAC{}, fmt.Errorf("%w: %q", ErrMalformedMAC, clip(s))
	}
	return m, nil
}

// clip keeps error messages about bad input to one short line.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// String is the ConfigMgr spelling, upper case with colons.
func (m MAC) String() string {
	const hexdig = "0123456789ABCDEF"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdig[x>>4], hexdig[x&0xF])
	}
	return string(b)
}

// HardwareAddr returns m as a net.HardwareAddr (a new slice).
func (m MAC) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(append([]byte(nil), m[:]...)) }

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseMAC.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Virtual names the hypervisor whose prefix (OUI) m carries, or "" for other MACs. A
// virtual machine is woken by its hypervisor, not by a magic packet on the wire, and a
// physical Hyper-V or VMware host that reports only its virtual switch adapter (the
// physical NIC is bound to the switch and has IPEnabled = 0) cannot be woken through that
// adapter's MAC either, so such adapters are skipped with ErrVirtualMAC. Prefixes:
// Hyper-V 00:15:5D; VMware 00:50:56, 00:0C:29, 00:05:69, 00:1C:14; VirtualBox 08:00:27
// (0A:00:27 host-only); QEMU/KVM 52:54:00; Xen 00:16:3E; Parallels 00:1C:42.
func (m MAC) Virtual() string {
	switch [3]byte{m[0], m[1], m[2]} {
	case [3]byte{0x00, 0x15, 0x5D}:
		return "Hyper-V"
	case [3]byte{0x00, 0x50, 0x56}, [3]byte{0x00, 0x0C, 0x29}, [3]byte{0x00, 0x05, 0x69}, [3]byte{0x00, 0x1C, 0x14}:
		return "VMware"
	case [3]byte{0x08, 0x00, 0x27}, [3]byte{0x0A, 0x00, 0x27}:
		return "VirtualBox"
	case [3]byte{0x52, 0x54, 0x00}:
		return "QEMU/KVM"
	case [3]byte{0x00, 0x16, 0x3E}:
		return "Xen"
	case [3]byte{0x00, 0x1C, 0x42}:
		return "Parallels"
	}
	return ""
}

// Check says whether m can be the target of a magic packet: not all zeros, not the
// broadcast address, not a multicast address, not a virtual adapter. The error wraps one of
// ErrZeroMAC, ErrBroadcastMAC, ErrMulticastMAC, ErrVirtualMAC.
func (m MAC) Check() error {
	switch {
	case m == MAC{}:
		return ErrZeroMAC
	case m == MAC{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}:
		return ErrBroadcastMAC
	case m[0]&1 == 1:
		return fmt.Errorf("%w (%s)", ErrMulticastMAC, m)
	}
	if v := m.Virtual(); v != "" {
		return fmt.Errorf("%w (%s, %s)", ErrVirtualMAC, v, m)
	}
	return nil
}
