package wol

import (
	"errors"
	"testing"
)

func TestParseMAC(t *testing.T) {
	t.Parallel()
	want := MAC{0x00, 0x15, 0x5D, 0x0A, 0xBC, 0xEF}
	for _, s := range []string{
		"00:15:5D:0A:BC:EF", "00:15:5d:0a:bc:ef", "00-15-5D-0A-BC-EF", "0015.5d0a.bcef",
		"00155D0ABCEF", "  00:15:5D:0A:BC:EF\t",
	} {
		got, err := ParseMAC(s)
		if err != nil || got != want {
			t.Errorf("ParseMAC(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"", "00:15:5D:0A:BC", "00:15:5D:0A:BC:EF:7F", "00:15:5D-0A:BC:EF", "00:15:5G:0A:BC:EF",
		"0015.5d0a-bcef", "00155D0ABCE", "00155D0ABCEFG", "00:15:5D:0A:BC:E", "::::::::::::::::",
		"00 15 5D 0A BC EF", "00:15:5D:0A:BC:EF:00:00", "0x:15:5D:0A:BC:EF", "+0:15:5D:0A:BC:EF",
	} {
		if _, err := ParseMAC(s); !errors.Is(err, ErrMalformedMAC) {
			t.Errorf("ParseMAC(%q) error = %v; want ErrMalformedMAC", s, err)
		}
	}
}

func TestMACString(t *testing.T) {
	t.Parallel()
	m := MAC{0x00, 0x0c, 0x29, 0xab, 0x01, 0xff}
	if got := m.String(); got != "00:0C:29:AB:01:FF" {
		t.Fatalf("String = %q", got)
	}
	b, _ := m.MarshalText()
	var back MAC
	if err := back.UnmarshalText(b); err != nil || back != m {
		t.Fatalf("text round trip: %v %v", back, err)
	}
	if hw := m.HardwareAddr(); len(hw) != 6 || hw[5] != 0xff {
		t.Fatalf("HardwareAddr = %v", hw)
	}
}

func TestMACCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mac  string
		want error
		virt string
	}{
		{"00:00:00:00:00:00", ErrZeroMAC, ""},
		{"FF:FF:FF:FF:FF:FF", ErrBroadcastMAC, ""},
		{"01:00:5E:00:00:FB", ErrMulticastMAC, ""},
		{"33:33:00:00:00:01", ErrMulticastMAC, ""},
		{"00:15:5D:01:02:03", ErrVirtualMAC, "Hyper-V"},
		{"00:50:56:01:02:03", ErrVirtualMAC, "VMware"},
		{"00:0C:29:01:02:03", ErrVirtualMAC, "VMware"},
		{"00:05:69:01:02:03", ErrVirtualMAC, "VMware"},
		{"00:1C:14:01:02:03", ErrVirtualMAC, "VMware"},
		{"08:00:27:01:02:03", ErrVirtualMAC, "VirtualBox"},
		{"0A:00:27:01:02:03", ErrVirtualMAC, "VirtualBox"},
		{"52:54:00:01:02:03", ErrVirtualMAC, "QEMU/KVM"},
		{"00:16:3E:01:02:03", ErrVirtualMAC, "Xen"},
		{"00:1C:42:01:02:03", ErrVirtualMAC, "Parallels"},
		{"3C:52:82:01:02:03", nil, ""},
		{"02:00:00:01:02:03", nil, ""}, // locally administered unicast is allowed
	}
	for _, c := range cases {
		m, err := ParseMAC(c.mac)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Check(); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: Check = %v; want %v", c.mac, err, c.want)
		}
		if v := m.Virtual(); v != c.virt {
			t.Errorf("%s: Virtual = %q; want %q", c.mac, v, c.virt)
		}
	}
}

// FuzzParseMAC: never panics; whatever parses prints in the canonical form and parses back
// to the same value.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"00:15:5D:0A:BC:EF", "0015.5d0a.bcef", "00155D0ABCEF", "00-15-5d-0a-bc-ef", "", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedMAC) {
				t.Fatalf("ParseMAC(%q): unexpected error kind %v", s, err)
			}
			return
		}
		txt := m.String()
		if len(txt) != 17 {
			t.Fatalf("String() = %q", txt)
		}
		back, err := ParseMAC(txt)
		if err != nil || back != m {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
		_ = m.Check()
	})
}
