package runner

import (
	"slices"
	"testing"
)

// TestMachineKind: the flag wins, then a portable chassis, then a fixed one.
func TestMachineKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		virtual bool
		chassis string
		want    string
	}{
		{true, "3", KindVirtual},  // a virtual machine whose chassis says desktop
		{true, "", KindVirtual},   // no hardware inventory
		{false, "9", KindLaptop},  // Laptop
		{false, "10", KindLaptop}, // Notebook
		{false, "31", KindLaptop}, // Convertible
		{false, "3", KindDesktop}, // Desktop
		{false, "35", KindDesktop},
		{false, "12,10", KindLaptop}, // a notebook in its dock
		{false, "3 9", KindLaptop},   // two enclosures: portable wins
		{false, "{12}", KindUnknown}, // a docking station alone
		{false, "1", KindUnknown},    // Other
		{false, "", KindUnknown},     // no row
		{false, "17", KindUnknown},   // Main System Chassis (a server)
		{false, "x3y", KindDesktop},  // any run of digits counts
		{false, "013", KindDesktop},  // All in One, zero-padded
		{false, "99999999999999999999", KindUnknown},
	}
	for _, tc := range tests {
		if got := MachineKind(tc.virtual, parseChassis(tc.chassis)); got != tc.want {
			t.Errorf("MachineKind(%v, %q) = %s, want %s", tc.virtual, tc.chassis, got, tc.want)
		}
	}
	if !slices.Equal(KindNames(), []string{KindLaptop, KindDesktop, KindVirtual, KindUnknown}) {
		t.Errorf("KindNames %v", KindNames())
	}
}
