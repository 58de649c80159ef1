package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// adapterMasksFix says what rests on the address and mask lists pairing by position.
const adapterMasksFix = "the Wake-on-LAN planner pairs IPAddress0 and IPSubnet0 entry by entry to find each subnet's broadcast address; " +
	"where they do not pair, a directed broadcast may go to the wrong address: wake those subnets by relay or through the site " +
	"(wol.mode relay or site), and report it with this line"

// adapterTally counts the inventory adapters by how their lists pair by position.
type adapterTally struct {
	adapters int   // adapters read
	paired   int   // lists of equal length whose every entry meets its kind of mask
	unequal  int   // lists of different length (the planner trusts no mask)
	crossed  int   // equal length, but some entry meets the wrong kind of mask
	example  int64 // ResourceID of the first crossed adapter
	exIPs    string
	exMasks  string
}

// checkAdapterMasks: whether, in hardware inventory, an adapter's address list and mask
// list pair by position, as the Wake-on-LAN planner reads them (inferred, reference 7
// "inputs"). The evidence: by position, each IPv4 address meets a dotted mask and each
// IPv6 address a prefix length.
func checkAdapterMasks(ctx context.Context, o Options) []Result {
	const check, subject = "adapter-masks", "v_GS_NETWORK_ADAPTER_CONFIGURATION"
	var t adapterTally
	err := o.Site.Each(ctx, "doctor_adapter_lists", nil, func(r *sql.Rows) error {
		var id int64
		var ips, masks string
		if err := r.Scan(&id, &ips, &masks); err != nil {
			return fmt.Errorf("read v_GS_NETWORK_ADAPTER_CONFIGURATION: %w", err)
		}
		t.add(id, ips, masks)
		return nil
	})
	if err != nil {
		return []Result{schemaResult(check, subject, "doctor_adapter_lists", err)}
	}
	r := t.judge()
	r.Check, r.Subject = check, subject
	return []Result{r}
}

// add tallies one adapter.
func (t *adapterTally) add(id int64, ips, masks string) {
	t.adapters++
	il, ml := splitList(ips), splitList(masks)
	if len(il) != len(ml) {
		t.unequal++
		return
	}
	for i := range il {
		if !masksAddress(il[i], ml[i]) {
			t.crossed++
			if t.crossed == 1 {
				t.example, t.exIPs, t.exMasks = id, ips, masks
			}
			return
		}
	}
	t.paired++
}

// judge turns the tally into a result.
func (t *adapterTally) judge() Result {
	if t.adapters == 0 {
		return Result{Status: Warn, Unconfirmed: true,
			Message: "no IP-enabled adapter with addresses in hardware inventory: cannot tell how address and mask lists pair",
			Fix:     "check that hardware inventory collects Win32_NetworkAdapterConfiguration (the wake line says more)"}
	}
	unequal := ""
	if t.unequal > 0 {
		unequal = fmt.Sprintf("; %d adapters whose lists differ in length get no mask (the planner trusts none there)", t.unequal)
	}
	if t.crossed == 0 {
		if t.paired == 0 {
			return Result{Status: Warn, Unconfirmed: true,
				Message: fmt.Sprintf("no adapter of %d has address and mask lists of the same length: cannot tell how they pair%s", t.adapters, unequal),
				Fix:     adapterMasksFix}
		}
		return Result{Status: OK, Unconfirmed: true,
			Message: fmt.Sprintf("%d of %d adapters: by position, every IPv4 address meets a dotted mask and every IPv6 address a prefix length, as the wake planner pairs them%s",
				t.paired, t.adapters, unequal)}
	}
	return Result{Status: Warn, Unconfirmed: true,
		Message: fmt.Sprintf("%d of %d adapters do not pair by position (an address meets the wrong kind of mask), e.g. ResourceID %d: %s / %s%s",
			t.crossed, t.adapters, t.example, strconv.Quote(clip80(t.exIPs)), strconv.Quote(clip80(t.exMasks)), unequal),
		Fix: adapterMasksFix}
}

// splitList splits a comma list into trimmed entries; blank is none.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// masksAddress reports whether mask is the kind of mask address takes: a dotted IPv4 mask
// (contiguous ones) for an IPv4 address, a prefix length 0..128 for an IPv6 address. An
// address that does not parse meets nothing.
func masksAddress(address, mask string) bool {
	a, err := netip.ParseAddr(address)
	if err != nil {
		return false
	}
	if a.Is6() && !a.Is4In6() {
		n, err := strconv.Atoi(mask)
		return err == nil && n >= 0 && n <= 128
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		return false
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return v&(^v>>1) == 0 // ones then zeros: no 0 bit is followed by a 1 bit
}

// clip80 bounds an example for one line.
func clip80(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
