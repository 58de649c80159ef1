// Package lab is patchnight's site-in-a-box: a SQLite double of a ConfigMgr site database
// with a seeded synthetic fleet (Generate), and a simulator that applies client actions to
// that fleet (Sim), which the lab's WS-Man endpoint and wake listener call.
//
// The database carries the real ConfigMgr view names and columns (schema.sql), so the
// product's queries run on it unchanged. Only this package touches the lab_* tables behind
// the views. Every lab address is a loopback address in 127.0.0.0/8 (IPv6 addresses are
// link-local fe80::/64 inventory data only), so that no lab traffic ever leaves the machine.
package lab

import (
	"errors"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Sentinel errors of the simulator; match them with errors.Is.
var (
	// ErrUnknownHost: no lab host has that name, FQDN or address.
	ErrUnknownHost = errors.New("unknown lab host")
	// ErrOffline: the host is powered off or restarting and does not answer.
	ErrOffline = errors.New("host is offline")
	// ErrNoClient: the host has no ConfigMgr client, so client actions cannot run on it.
	ErrNoClient = errors.New("host has no ConfigMgr client")
)

// Lab-wide constants. The catalog version is the top SUP's SyncCatalogVersion; how a real
// SyncCatalogVersion increments is unconfirmed (reference 3), the lab assumes two
// versions a month.
const (
	CatalogVersion   = 412                   // current SyncCatalogVersion of the lab's SUPs
	Domain           = "LAB"                 // NetBIOS domain of every lab host and user
	DNSSuffix        = "lab.patchnight.test" // FQDN = lower-case name + "." + DNSSuffix
	versionsPerMonth = 2
	maxHosts         = 1_000_000
	maxUpdates       = 10_000
)

// Options say what lab Generate builds. A zero field takes its default (DefaultOptions).
// The same Options always give the same data.
type Options struct {
	Hosts        int       // machines in the fleet, 1..1,000,000 (default 2,000)
	Seed         int64     // seed of every random choice
	Updates      int       // software update CIs, 1..10,000 (default 40)
	PatchTuesday time.Time // date of the Patch Tuesday the lab is built for (default 2026-12-08); the time of day is ignored
	SiteCode     string    // three letters or digits (default "LAB")
	Force        bool      // replace an existing file at the path
	// Faults is the fault mix (docs/lab.md); nil means DefaultFaults().
	Faults *FaultRates
}

// FaultRates is the lab's fault model: what goes wrong on the night, each as a share of
// the clients (0 to 1) that it happens to. Which hosts are drawn from the seed, so the same
// seed and rates always give the same faults. Every default is the lab's assumption unless
// docs/lab.md names a source.
type FaultRates struct {
	// InstallFault: every install fails, whatever the night does (a hopeless machine).
	InstallFault float64 `json:"install_fault"`
	// Transient: the first one or two install attempts fail with a real error code, a
	// later attempt passes.
	Transient float64 `json:"transient"`
	// Chain: one of this month's updates is applicable only once another is installed and
	// the machine restarted (the servicing stack before the cumulative update, .NET after
	// the OS update); a scan after that restart finds it required.
	Chain float64 `json:"chain"`
	// Away: laptops that leave the network during the night (taken home, lid shut) and
	// come back hours later; desktops (switched off by their user) at a quarter of it.
	Away float64 `json:"away"`
	// Slow: machines whose installs take two and a half times as long (slow disks), so a
	// cumulative update takes most of an hour.
	Slow float64 `json:"slow"`
	// NoComeBack: machines that do not come back after a restart (lab_host.NoComeBack).
	NoComeBack float64 `json:"no_come_back"`
	// Home: laptops taken home in the evening and brought back on a later morning, once or
	// twice in the four weeks from Patch Tuesday (lab_away, kind home).
	Home float64 `json:"home"`
	// Closet: desktops in a closet, off but for a few hours on some weekdays (lab_away,
	// kind closet).
	Closet float64 `json:"closet"`
	// Holiday: physical machines (laptops and desktops) switched off for a holiday, from
	// an evening before Patch Tuesday until a morning days after it (lab_away, kind holiday).
	Holiday float64 `json:"holiday"`
	// RepairFix: of the machines with a hopeless install or a failed scan, the share whose
	// fault a client repair clears (an assumption, repair.go and docs/lab.md).
	RepairFix float64 `json:"repair_fix"`
	// NoRepairMethod: the clients' SMS_Client class has no RepairClient method (the method
	// is unconfirmed; by default the lab assumes the community scripts are right).
	NoRepairMethod bool `json:"no_repair_method,omitempty"`
}

// DefaultFaults is the default mix (docs/lab.md says where each figure comes from),
// machines away for days included: laptops taken home (0.1 of laptops), desktops in a
// closet (0.03 of desktops) and machines off for a holiday (0.03), all assumptions.
func DefaultFaults() FaultRates {
	return FaultRates{InstallFault: 0.03, Transient: 0.08, Chain: 0.15, Away: 0.25, Slow: 0.2, NoComeBack: 0.005,
		Home: 0.1, Closet: 0.03, Holiday: 0.03, RepairFix: DefaultRepairFix}
}

// NoFaults is a fleet without night faults (scan faults and inventory defects stay).
func NoFaults() FaultRates { return FaultRates{} }

func (f FaultRates) valid() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"install-fault", f.InstallFault}, {"transient", f.Transient}, {"chain", f.Chain}, {"away", f.Away},
		{"slow", f.Slow}, {"no-come-back", f.NoComeBack}, {"home", f.Home}, {"closet", f.Closet},
		{"holiday", f.Holiday}, {"repair-fix", f.RepairFix}} {
		if !(r.v >= 0 && r.v <= 1) {
			return exit.Usagef("a rate is a share from 0 to 1, like 0.05", "fault rate %s %v is out of range", r.name, r.v)
		}
	}
	return nil
}

// DefaultOptions returns the defaults: 2,000 hosts, seed 1, 40 updates, Patch Tuesday
// 2026-12-08, site code LAB.
func DefaultOptions() Options {
	return Options{
		Hosts:        2000,
		Seed:         1,
		Updates:      40,
		PatchTuesday: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC),
		SiteCode:     "LAB",
	}
}

// normalize fills zero fields from the defaults and refuses values out of range.
func (o Options) normalize() (Options, error) {
	d := DefaultOptions()
	if o.Hosts == 0 {
		o.Hosts = d.Hosts
	}
	if o.Updates == 0 {
		o.Updates = d.Updates
	}
	if o.PatchTuesday.IsZero() {
		o.PatchTuesday = d.PatchTuesday
	}
	if o.SiteCode == "" {
		o.SiteCode = d.SiteCode
	}
	if o.Faults == nil {
		f := DefaultFaults()
		o.Faults = &f
	}
	if err := o.Faults.valid(); err != nil {
		return o, err
	}
	if o.Hosts < 1 || o.Hosts > maxHosts {
		return o, exit.Usagef("pass a number of hosts from 1 to 1000000", "lab hosts %d is out of range", o.Hosts)
	}
	if o.Updates < 1 || o.Updates > maxUpdates {
		return o, exit.Usagef("pass a number of updates from 1 to 10000", "lab updates %d is out of range", o.Updates)
	}
	o.SiteCode = strings.ToUpper(o.SiteCode)
	if !validSiteCode(o.SiteCode) {
		return o, exit.Usagef("a site code is three letters or digits, like LAB or P01", "site code %q is not valid", o.SiteCode)
	}
	y, m, day := o.PatchTuesday.Date()
	o.PatchTuesday = time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
	if y < 2018 || y > 2200 {
		return o, exit.Usagef("pass a Patch Tuesday date like 2026-12-08", "Patch Tuesday %s is out of range", o.PatchTuesday.Format(time.DateOnly))
	}
	return o, nil
}

func validSiteCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Now is the lab's "now" for a Patch Tuesday date: 15:00 UTC that day.
func labNow(patchTuesday time.Time) time.Time {
	y, m, d := patchTuesday.Date()
	return time.Date(y, m, d, 15, 0, 0, 0, time.UTC)
}

// Summary describes a lab that Generate built, for `lab init` output.
type Summary struct {
	Path           string    `json:"path"`
	SiteCode       string    `json:"site_code"`
	Seed           int64     `json:"seed"`
	Hosts          int       `json:"hosts"`           // machines (v_R_System rows)
	Clients        int       `json:"clients"`         // machines with a ConfigMgr client
	Updates        int       `json:"updates"`         // update CIs (CIType_ID 1)
	UpdateGroups   int       `json:"update_groups"`   // software update groups (CIType_ID 9)
	Deployments    int       `json:"deployments"`     // v_CIAssignment rows
	Collections    int       `json:"collections"`     // v_Collection rows
	Subnets        int       `json:"subnets"`         // lab_subnet rows
	Locations      int       `json:"locations"`       // offices
	StateRows      int64     `json:"state_rows"`      // applicable host x update pairs
	CatalogVersion int       `json:"catalog_version"` // current SyncCatalogVersion
	PatchTuesday   time.Time `json:"patch_tuesday"`
	Now            time.Time `json:"now"` // the lab's clock at build time: Patch Tuesday 15:00 UTC
	// AwayForDays counts the machines away for days by kind (home, closet, holiday).
	AwayForDays map[string]int `json:"away_for_days,omitempty"`
}

// timeText formats t the way the lab stores times (site.SQLiteTimeLayout, UTC).
func timeText(t time.Time) string { return t.UTC().Format(timeLayout) }

// timeLayout is site.SQLiteTimeLayout; repeated here so that lab does not import site.
const timeLayout = "2006-01-02 15:04:05"

// Error codes the lab uses, as the signed 32-bit values SQL stores (HRESULT - 2^32). Their
// meanings are not asserted here.
const (
	installFaultCode = int32(0x80070643 - 1<<32) // install failure (MSI 1603 as HRESULT)
	scanFaultCode    = int32(0x8024401E - 1<<32) // WSUS HTTP error as WUA reports it
	scanFaultCode2   = int32(0x80072EE2 - 1<<32) // WinINet timeout
)

// transientCodes are the HRESULTs of the lab's transient install failures: each one fails
// an attempt and lets a later one pass. Windows Update Agent codes are from Microsoft's
// "Windows Update error codes by component" (learn.microsoft.com, windows/deployment/update/
// windows-update-error-reference); E_ACCESSDENIED is winerror.h's.
var transientCodes = [...]int32{
	int32(0x80240022 - 1<<32), // WU_E_ALL_UPDATES_FAILED: operation failed for all the updates
	int32(0x8024200D - 1<<32), // WU_E_UH_NEEDANOTHERDOWNLOAD: the update needs to be downloaded again
	int32(0x80070005 - 1<<32), // E_ACCESSDENIED: a file in use (antivirus scanning it)
	int32(0x80246007 - 1<<32), // WU_E_DM_NOTDOWNLOADED: the update has not been downloaded
}

// noComeBackUntil is OfflineUntil of a host that did not come back after a restart: never.
const noComeBackUntil = "9999-12-31 23:59:59"
