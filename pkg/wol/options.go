package wol

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Mode is how magic packets reach the machines' subnets.
type Mode string

// Delivery modes.
const (
	// ModeDirected sends a subnet-directed broadcast from this machine to each subnet
	// (routers must forward directed broadcasts). Where a NIC has no directed broadcast
	// (mask unknown, /31, /32) it is sent unicast to its last known IP instead, and the
	// plan says so.
	ModeDirected Mode = "directed"
	// ModeUnicast sends to each machine's last known IPv4 address; it misses machines that
	// moved subnet since the last inventory, and needs the router to still know the
	// sleeping machine's ARP entry.
	ModeUnicast Mode = "unicast"
	// ModeRelay asks an online client on each subnet (over WinRM, scripts/wol-relay.ps1)
	// to send the packets on its own subnet. Subnets without an online client are skipped
	// ("no route").
	ModeRelay Mode = "relay"
	// ModeSite asks the site to wake the machines through client notification
	// (SMS_SleepServer; client operation type 150): an awake client on each subnet sends.
	ModeSite Mode = "site"
	// ModeAuto relays where a subnet has an online client and sends directed broadcasts
	// elsewhere.
	ModeAuto Mode = "auto"
)

// Modes lists the modes in the order the CLI shows them.
func Modes() []Mode { return []Mode{ModeDirected, ModeUnicast, ModeRelay, ModeSite, ModeAuto} }

// Defaults. The pacing defaults keep a wake from tripping the two physical limits of an
// office network (configmgr.md section 7):
//
//   - Broadcast storm control. A subnet-directed broadcast becomes an Ethernet broadcast
//     on the last hop, and switches cut broadcast traffic above a storm-control
//     threshold; published vendor defaults range from 652 packets/s (ComNet CWGE24MS2)
//     to 3500 packets/s (PLANET WGSD-1022). That budget is shared with the subnet's own
//     broadcast background (ARP, DHCP, NetBIOS, SSDP). DefaultSubnetRate, 50 packets/s,
//     is under 8% of the lowest known default, so the wake leaves the threshold with
//     more than 90% headroom even on the strictest switch seen, and it also spaces
//     consecutive machines of one subnet at least 20 ms apart.
//   - Inrush current. A PC's power supply draws 3 to 30 times its rated current for a
//     few milliseconds when it powers on (a 580 W supply rated 2.5 A peaks at 8 to
//     60 A), and a PDU's default outlet sequencing waits 2000 ms between outlets for
//     that reason. Machines of one subnet usually share a floor and its circuits, so
//     they are woken in batches: DefaultBatch (10) machines per subnet, then
//     DefaultBatchPause (2 s, the PDU figure) before the next batch. On a 16 A
//     circuit, ten simultaneous starts at 8 A peaks each would already reach the
//     magnetic trip range of a type B breaker (3 to 5 times its rating, derived, not
//     measured); a batch's first packets go out 20 ms apart over 200 ms, so its
//     millisecond peaks are spread rather than stacked, and batches are 2 s apart.
//   - DefaultRate, 1000 packets/s in total, bounds what this machine puts on its own
//     uplink and asks its first-hop router to forward (directed broadcasts are often
//     handled by the router's CPU, not in hardware). It is about 1.2 Mbit/s on the
//     wire, far below any link, and alone it would let 10,000 machines (3 packets
//     each) go out in 30 s; in practice the per-subnet batches set the pace.
//   - DefaultRepeat (3) packets per machine, DefaultSpacing (1 s) apart: UDP is not
//     acknowledged and nothing answers a magic packet, so a lost packet is only covered
//     by sending again; a second apart rides out a short loss burst or a link that is
//     still negotiating.
//   - DefaultPort 9 (discard), the ConfigMgr legacy and wakeonlan default. The ConfigMgr
//     guidance is to allow directed broadcasts only from the site server and on a
//     non-default port (smurf risk): set Port to match the routers' rule.
//
// At these defaults one 250-machine subnet takes 25 batches of about 4.6 s (three rounds
// of 200 ms, two 1 s spacings, the 2 s pause), under two minutes, and subnets proceed in
// parallel under the global cap: the estate is woken well inside the 18:00 to 19:30
// window of the restart method. DefaultWait (5 minutes) before confirming gives machines
// time to boot and their clients time to reach the fast channel (a judgement, not a
// documented figure).
const (
	DefaultPort       = 9
	DefaultRepeat     = 3
	DefaultSpacing    = time.Second
	DefaultRate       = 1000.0 // packets per second, all subnets together
	DefaultSubnetRate = 50.0   // packets per second into any one subnet
	DefaultBatch      = 10     // machines per subnet per batch
	DefaultBatchPause = 2 * time.Second
	DefaultWait       = 5 * time.Minute // before the confirmation reads who came online

	// MaxRepeat bounds Repeat so that a typo cannot flood a subnet.
	MaxRepeat = 10
	// MaxRate bounds Rate and SubnetRate (packets per second): above it a cap caps nothing.
	MaxRate = 1_000_000
)

// Options are the inputs of a wake: what to wake, how, and how fast. Build them with
// DefaultOptions and change what the user set; Validate refuses what cannot be right.
type Options struct {
	// Selection. At least one of Collection, Hosts, Subnets or All is required; filters
	// combine (a collection's members on some subnets, say).
	Collection string   // CollectionID or collection name
	Hosts      []string // NetBIOS names (FQDNs are matched on their first label)
	Subnets    []string // IPv4 CIDRs: keep only adapters whose address lies inside
	All        bool     // every machine of the site (cannot be combined with Collection)

	Mode Mode // delivery mode; "" means ModeDirected
	Port int  // UDP destination port, 1-65535
	// SecureOn is the NIC password, 4 or 6 bytes in hex ("" = none). It is never printed,
	// logged or put in the plan. Relay and site delivery cannot carry it.
	SecureOn string `json:"-"`

	Repeat     int           // packets per machine, 1-MaxRepeat
	Spacing    time.Duration // between the repeats to one machine
	Rate       float64       // global cap, packets per second (> 0)
	SubnetRate float64       // cap per destination subnet, packets per second (> 0)
	Batch      int           // machines per subnet per batch (>= 1)
	BatchPause time.Duration // pause after each batch of a subnet

	// WakeOnline also sends to machines the site sees online already. By default they
	// are left alone and reported as already online.
	WakeOnline bool
}

// DefaultOptions returns Options with every default set and nothing selected.
func DefaultOptions() Options {
	return Options{
		Mode:       ModeDirected,
		Port:       DefaultPort,
		Repeat:     DefaultRepeat,
		Spacing:    DefaultSpacing,
		Rate:       DefaultRate,
		SubnetRate: DefaultSubnetRate,
		Batch:      DefaultBatch,
		BatchPause: DefaultBatchPause,
	}
}

var hostNameRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,253})$`)

// Validate refuses options that cannot be right, with one line that says what is wrong
// and what to do (exit code 64).
func (o Options) Validate() error {
	if o.Collection == "" && len(o.Hosts) == 0 && len(o.Subnets) == 0 && !o.All {
		return exit.Usagef("give --collection ID|NAME, --host a,b, --subnet CIDR or --all", "no machines selected")
	}
	if o.All && o.Collection != "" {
		return exit.Usagef("use either --all or --collection", "--all and --collection both given")
	}
	if strings.TrimSpace(o.Collection) != o.Collection || len(o.Collection) > 256 {
		return exit.Usagef("give the CollectionID (e.g. ABC00012) or the exact name", "collection %q is not a valid ID or name", clip(o.Collection))
	}
	for _, h := range o.Hosts {
		if !hostNameRE.MatchString(strings.TrimSpace(h)) {
			return exit.Usagef("give host names separated by commas, e.g. --host PC001,PC002", "host name %q is not valid", clip(h))
		}
	}
	if _, err := o.subnets(); err != nil {
		return err
	}
	if !o.mode().valid() {
		return exit.Usagef("use one of directed, unicast, relay, site, auto", "unknown mode %q", clip(string(o.Mode)))
	}
	if o.Port < 1 || o.Port > 65535 {
		return exit.Usagef("use a UDP port from 1 to 65535 (default 9)", "port %d is out of range", o.Port)
	}
	pw, err := ParsePassword(o.SecureOn)
	if err != nil {
		return exit.Usagef("give 4 or 6 bytes in hex, e.g. 01:02:03:04:05:06", "the SecureOn password is not valid")
	}
	if len(pw) > 0 && (o.mode() == ModeRelay || o.mode() == ModeSite) {
		return exit.Usagef("use --mode directed, unicast or auto with a SecureOn password", "mode %s cannot carry a SecureOn password", o.mode())
	}
	if o.Repeat < 1 || o.Repeat > MaxRepeat {
		return exit.Usagef(fmt.Sprintf("use 1 to %d packets per machine (default %d)", MaxRepeat, DefaultRepeat), "repeat %d is out of range", o.Repeat)
	}
	if o.Spacing < 0 || o.Spacing > time.Minute {
		return exit.Usagef("use a spacing from 0 to 1m (default 1s)", "spacing %s is out of range", o.Spacing)
	}
	if !(o.Rate > 0) || o.Rate > MaxRate {
		return exit.Usagef(fmt.Sprintf("give a positive packets-per-second rate (default %g)", DefaultRate), "rate %g is not a positive number up to %g", o.Rate, float64(MaxRate))
	}
	if !(o.SubnetRate > 0) || o.SubnetRate > MaxRate {
		return exit.Usagef(fmt.Sprintf("give a positive packets-per-second rate per subnet (default %g)", DefaultSubnetRate), "subnet rate %g is not a positive number up to %g", o.SubnetRate, float64(MaxRate))
	}
	if o.Batch < 1 {
		return exit.Usagef(fmt.Sprintf("give at least 1 machine per batch (default %d)", DefaultBatch), "batch %d is not positive", o.Batch)
	}
	if o.BatchPause < 0 || o.BatchPause > 10*time.Minute {
		return exit.Usagef("use a batch pause from 0 to 10m (default 2s)", "batch pause %s is out of range", o.BatchPause)
	}
	return nil
}

func (o Options) mode() Mode {
	if o.Mode == "" {
		return ModeDirected
	}
	return o.Mode
}

func (m Mode) valid() bool {
	for _, x := range Modes() {
		if m == x {
			return true
		}
	}
	return false
}

// subnets parses Options.Subnets.
func (o Options) subnets() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range o.Subnets {
		p, err := ParseSubnet(s)
		if err != nil {
			return nil, exit.Usagef("give IPv4 subnets in CIDR form, e.g. --subnet 10.1.2.0/24,10.1.4.0/23", "%s", err.Error())
		}
		out = append(out, p)
	}
	return out, nil
}

// selection turns the options into the query selection.
func (o Options) selection() (Selection, error) {
	sn, err := o.subnets()
	if err != nil {
		return Selection{}, err
	}
	hosts := make([]string, 0, len(o.Hosts))
	for _, h := range o.Hosts {
		hosts = append(hosts, strings.TrimSpace(h))
	}
	return Selection{Collection: o.Collection, Hosts: hosts, Subnets: sn}, nil
}
