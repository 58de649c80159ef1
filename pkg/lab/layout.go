package lab

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"strconv"
	"time"
)

// Independent PRNG streams, so that adding a draw to one part of the generator does not
// change the others. Each is PCG(seed ^ stream, key).
const (
	streamLayout  = 0x6c61796f75740001
	streamHost    = 0x686f737473000002
	streamCatalog = 0x636174616c6f6703
	streamState   = 0x7374617465730004
	streamFaults  = 0x6661756c74730005
)

func newRand(seed int64, stream, key uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^stream, key))
}

// Form factors.
const (
	formDesktop uint8 = iota
	formLaptop
	formVirtual
)

var formNames = [...]string{"desktop", "laptop", "virtual"}
var formPrefix = [...]string{"PC", "LT", "VM"}

// Builds (Build01) of the fleet, with the bit an update uses to say where it applies.
var builds = [...]struct {
	build, wua string
	share      float64
}{
	{"10.0.19045", "10.0.19041.6456", 0.30}, // Windows 10 22H2
	{"10.0.22631", "10.0.22621.6199", 0.35}, // Windows 11 23H2
	{"10.0.26100", "10.0.26100.7171", 0.35}, // Windows 11 24H2
}

const (
	build19045 uint8 = 1 << iota
	build22631
	build26100
)

// Vendors: manufacturer, desktop and laptop models, and a MAC prefix in their style. The
// prefixes were not checked against the IEEE registry; 00:15:5D is Hyper-V's (reference 1.1).
var vendors = [...]struct {
	manufacturer, desktop, laptop string
	oui                           uint32
}{
	{"Dell Inc.", "OptiPlex 7010", "Latitude 5440", 0xB07B25},
	{"HP", "HP EliteDesk 800 G6 Small Form Factor PC", "HP EliteBook 840 G9 Notebook PC", 0x6C02E0},
	{"LENOVO", "ThinkCentre M70q Gen 4", "ThinkPad T14 Gen 3", 0x8C1645},
}

const (
	ouiHyperV   = 0x00155D
	ouiWiFi     = 0xF48C50 // the second (wireless) adapter of docked laptops
	ouiDisabled = 0x3CA9F4 // a disabled adapter (Bluetooth PAN style)
)

var locationNames = [...]string{
	"Amsterdam", "Berlin", "Chicago", "Dublin", "Edinburgh", "Frankfurt",
	"Geneva", "Helsinki", "Istanbul", "Johannesburg", "Kyoto", "Lisbon",
}

var surnames = [...]string{
	"smith", "jones", "garcia", "miller", "davis", "martin", "brown", "wilson", "moore", "taylor",
	"anderson", "thomas", "jackson", "white", "harris", "clark", "lewis", "walker", "hall", "young",
	"king", "wright", "lopez", "hill", "scott", "green", "adams", "baker", "nelson", "carter",
	"mitchell", "perez", "roberts", "turner", "phillips", "campbell", "parker", "evans", "edwards", "collins",
}

// userName is the account name of user number u: LAB\jdoe, LAB\jdoe2, ...
func userName(u int32) string {
	n := int(u)
	per := 26 * len(surnames)
	name := Domain + `\` + string(rune('a'+n%26)) + surnames[(n/26)%len(surnames)]
	if k := n / per; k > 0 {
		name += strconv.Itoa(k + 1)
	}
	return name
}

// Inventory defects (a small share of clients each; see pickDefects).
const (
	badNone uint8 = iota
	badMalformedMAC
	badZeroMAC
	badDupMAC // repeats the MAC of host dupOf
	badNonContiguousMask
	badSlash31
	badSlash32
	badIPv6Only
	badNoInventory // no hardware inventory at all: only discovery data
)

// Scan buckets of clients against the publishing update source.
const (
	scanCurrent uint8 = iota
	scanBehind1
	scanBehind
	scanNever
	scanFailed
)

type subnet struct {
	net    uint32 // network address
	prefix int
	loc    int
}

// hostSpec is everything about one host that the rows are made from.
type hostSpec struct {
	rid          int64
	loc          int
	form, vendor uint8
	build        int
	client       bool
	active       bool
	healthy      bool
	on           bool
	wol          bool
	dual         bool // a second enabled adapter
	disabledNIC  bool
	bad          uint8
	dupOf        int32 // badDupMAC: the host whose MAC this one repeats
	installFault bool
	earlyPending bool // installed some of this month's updates early and waits for a restart
	// Night faults (FaultRates), drawn from their own stream.
	transientFails int   // install attempts that fail before one passes
	transientCode  int32 // the HRESULT they fail with
	pace           int   // install duration in % of the normal
	awayAt         int64 // unix seconds it leaves the network; 0 = stays
	awayUntil      int64 // unix seconds it is back
	noComeBack     bool
	chain          bool // one of its updates is chained behind another
	scan           uint8
	scanVer        int
	scanFault      int32
	legacyScan     bool // also has an old scan row for the legacy update source
	sub, sub2      int32
	addr, addr2    uint32
	v6             uint64 // link-local interface identifier
	v6b            uint64 // of the second adapter
	primaryUser    int32  // -1 = none
	lastUser       int32
	currentUser    int32
	scanTime       int64 // unix seconds
	lastOnline     int64 // 0 = NULL
	lastOffline    int64
	lastDDR        int64
	lastHW         int64
	lastPolicy     int64
	guid           [2]uint64

	// Away for days (drawAwayDays), each kind from its own stream.
	absences   []absence // time order
	offSince   int64     // under way at generation: left then (0 = not away at generation)
	offUntil   int64     // ... and is back on then (OfflineUntil)
	closetLast [2]int64  // a closet machine's last time on before Patch Tuesday: from, to
}

// fleet is the generated layout of the lab's machines and network.
type fleet struct {
	now       time.Time
	locations []string
	subnets   []subnet
	hosts     []hostSpec
	macMask   uint32
	clients   int
}

const firstResourceID = 16777220

// layoutFleet draws the machines, their network and their inventory defects.
func layoutFleet(opt Options) *fleet {
	now := labNow(opt.PatchTuesday)
	lr := newRand(opt.Seed, streamLayout, 0)
	f := &fleet{now: now, macMask: uint32(lr.Uint64()) & 0xFFFFFF}

	nLoc := min(max(6+bits.Len(uint(opt.Hosts/1000)), 6), len(locationNames))
	names := locationNames
	lr.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	f.locations = append([]string(nil), names[:nLoc]...)
	cum := make([]float64, nLoc)
	total := 0.0
	for i := range cum {
		total += 0.4 + lr.Float64()
		cum[i] = total
	}

	f.hosts = make([]hostSpec, opt.Hosts)
	nUsers := max(10, opt.Hosts*9/10)
	for i := range f.hosts {
		f.hosts[i] = drawHost(opt.Seed, i, now, cum, nUsers, *opt.Faults)
		drawFaults(&f.hosts[i], opt.Seed, i, now, *opt.Faults)
		drawAwayDays(&f.hosts[i], opt.Seed, i, now, *opt.Faults)
		if f.hosts[i].client {
			f.clients++
		}
	}
	f.pickDefects(lr)
	f.allocateAddresses(lr)
	return f
}

// drawHost draws host number i (0-based) from its own PRNG stream.
func drawHost(seed int64, i int, now time.Time, cum []float64, nUsers int, rates FaultRates) hostSpec {
	r := newRand(seed, streamHost, uint64(i))
	h := hostSpec{rid: int64(firstResourceID + i), primaryUser: -1, lastUser: -1, currentUser: -1}
	x := r.Float64() * cum[len(cum)-1]
	for h.loc < len(cum)-1 && x >= cum[h.loc] {
		h.loc++
	}
	switch u := r.Float64(); {
	case u < 0.03:
		h.form = formVirtual
	case u < 0.33:
		h.form = formLaptop
	default:
		h.form = formDesktop
	}
	h.vendor = uint8(r.IntN(len(vendors)))
	for u := r.Float64(); h.build < len(builds)-1 && u >= builds[h.build].share; h.build++ {
		u -= builds[h.build].share
	}
	h.client = r.Float64() >= 0.01
	h.active = h.client && r.Float64() >= 0.03
	h.healthy = r.Float64() >= 0.02
	h.on = (h.active || !h.client) && r.Float64() >= 0.175
	h.wol = h.form != formVirtual && r.Float64() >= 0.07
	h.dual = h.form == formLaptop && r.Float64() < 0.15
	h.disabledNIC = r.Float64() < 0.15
	h.installFault = h.client && r.Float64() < rates.InstallFault
	h.earlyPending = h.active && !h.installFault && r.Float64() < 0.06
	h.v6, h.v6b = r.Uint64(), r.Uint64()
	h.guid = [2]uint64{r.Uint64(), r.Uint64()}

	if r.Float64() < 0.85 {
		h.primaryUser = int32(r.IntN(nUsers))
	}
	if r.Float64() < 0.9 {
		h.lastUser = h.primaryUser
		if h.lastUser < 0 || r.Float64() >= 0.8 {
			h.lastUser = int32(r.IntN(nUsers))
		}
	}
	if h.on && r.Float64() < 0.5 {
		switch {
		case h.lastUser >= 0:
			h.currentUser = h.lastUser
		case h.primaryUser >= 0:
			h.currentUser = h.primaryUser
		default:
			h.currentUser = int32(r.IntN(nUsers))
		}
	}

	const hour, day = 3600, 86400
	t := now.Unix()
	sync412, sync411 := t-3*hour, t-27*hour
	switch {
	case !h.client:
	case !h.active:
		h.lastOnline = t - 35*day - r.Int64N(85*day)
		h.lastOffline = h.lastOnline + 60 + r.Int64N(600)
	case h.on:
		h.lastOffline = t - 14*hour - r.Int64N(48*hour)
		h.lastOnline = h.lastOffline + 600 + r.Int64N(10*hour)
	default:
		h.lastOnline = t - 2*hour - r.Int64N(72*hour)
		h.lastOffline = h.lastOnline + 60 + r.Int64N(600)
	}
	if h.client {
		h.lastDDR = min(h.lastOnline, t) - r.Int64N(7*day)
		h.lastHW = min(h.lastOnline, t) - r.Int64N(7*day)
		h.lastPolicy = h.lastOnline - r.Int64N(hour)
	} else {
		h.lastDDR = t - r.Int64N(7*day) // AD System Discovery
	}

	if !h.client {
		return h
	}
	switch u := r.Float64(); {
	case u < 0.02:
		h.scan = scanNever
	case u < 0.04:
		h.scan = scanFailed
		h.scanVer = CatalogVersion - r.IntN(7)
		h.scanTime = t - r.Int64N(20*hour)
		h.scanFault = scanFaultCode
		if r.Float64() < 0.3 {
			h.scanFault = scanFaultCode2
		}
	case u < 0.12:
		h.scan = scanBehind1
	case u < 0.16:
		h.scan = scanBehind
	default:
		h.scan = scanCurrent
	}
	if !h.active && (h.scan == scanCurrent || h.scan == scanBehind1) {
		h.scan = scanBehind
	}
	switch h.scan {
	case scanCurrent:
		h.scanVer, h.scanTime = CatalogVersion, sync412+r.Int64N(3*hour)
	case scanBehind1:
		h.scanVer, h.scanTime = CatalogVersion-1, sync411+r.Int64N(24*hour)
	case scanBehind:
		h.scanVer = CatalogVersion - 2 - r.IntN(11)
		h.scanTime = t - 2*day - r.Int64N(28*day)
		if !h.active {
			h.scanTime = h.lastOnline - r.Int64N(day)
		}
	}
	h.legacyScan = r.Float64() < 0.1
	return h
}

// drawFaults draws host i's night faults from its own stream (streamFaults), so that the
// rest of the fleet is the same whatever the rates. now is the lab's now (Patch Tuesday
// 15:00): machines leave between 17:30 and 01:30 and are back one to seven hours later.
func drawFaults(h *hostSpec, seed int64, i int, now time.Time, rates FaultRates) {
	h.pace = 100
	if !h.client {
		return
	}
	r := newRand(seed, streamFaults, uint64(i))
	// One draw per fault, always, so that one rate does not move another's hosts.
	xTransient, xTwice, xCode := r.Float64(), r.Float64(), r.IntN(len(transientCodes))
	xChain, xAway, xAt, xFor := r.Float64(), r.Float64(), r.Int64N(8*3600), r.Int64N(6*3600)
	xSlow, xNoBack := r.Float64(), r.Float64()
	if !h.installFault && xTransient < rates.Transient {
		h.transientFails, h.transientCode = 1, transientCodes[xCode]
		if xTwice < 0.3 {
			h.transientFails = 2
		}
	}
	h.chain = xChain < rates.Chain
	away := rates.Away
	if h.form != formLaptop {
		away /= 4
	}
	if h.active && xAway < away {
		h.awayAt = now.Unix() + 2*3600 + 1800 + xAt
		h.awayUntil = h.awayAt + 3600 + xFor
	}
	if xSlow < rates.Slow {
		h.pace = 250
	}
	h.noComeBack = h.active && xNoBack < rates.NoComeBack
}

// share is how many hosts of n get a defect of probability p: at least one in fleets of 200
// clients or more, so that every lab of that size exercises every defect.
func share(n int, p float64) int {
	if n < 200 {
		return 0
	}
	return max(1, int(math.Round(p*float64(n))))
}

// pickDefects marks a small, exact number of clients with each inventory defect.
func (f *fleet) pickDefects(r *rand.Rand) {
	var idx []int32
	for i := range f.hosts {
		if f.hosts[i].client {
			idx = append(idx, int32(i))
		}
	}
	r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	n := len(idx)
	take := func(k int) []int32 {
		k = min(k, len(idx))
		s := idx[:k]
		idx = idx[k:]
		return s
	}
	for _, d := range []struct {
		bad uint8
		p   float64
	}{
		{badMalformedMAC, 0.005}, {badZeroMAC, 0.001}, {badNonContiguousMask, 0.001},
		{badSlash31, 0.0005}, {badSlash32, 0.0005}, {badIPv6Only, 0.001}, {badNoInventory, 0.003},
	} {
		for _, i := range take(share(n, d.p)) {
			f.hosts[i].bad = d.bad
			if d.bad == badIPv6Only {
				f.hosts[i].dual = false
			}
		}
	}
	for range share(n, 0.001) {
		pair := take(2)
		if len(pair) < 2 {
			break
		}
		f.hosts[pair[1]].bad = badDupMAC
		f.hosts[pair[1]].dupOf = pair[0]
	}
}

// allocateAddresses builds each location's subnets (mostly /24, some /23, /25 and /26, all in
// 127.0.0.0/8, each location from its own /16 on) and gives every host an address.
func (f *fleet) allocateAddresses(r *rand.Rand) {
	need := make([]int, len(f.locations))
	for i := range f.hosts {
		h := &f.hosts[i]
		need[h.loc]++
		if h.dual {
			need[h.loc]++
		}
	}
	cursor := uint32(127<<24 | 1<<16) // 127.1.0.0: 127.0.0.0/16 stays free for the lab's servers
	type slot struct {
		sub  int32
		addr uint32
	}
	slots := make([][]slot, len(f.locations))
	for loc := range f.locations {
		cursor = alignUp(cursor, 1<<16)
		remaining := max(need[loc], 1)
		for remaining > 0 {
			prefix := 24
			switch u := r.Float64(); {
			case u < 0.10:
				prefix = 23
			case u < 0.22:
				prefix = 25
			case u < 0.30:
				prefix = 26
			}
			size := uint32(1) << (32 - prefix)
			cursor = alignUp(cursor, size)
			usable := int(size) - 3 // network, gateway (.1), broadcast
			fill := min(remaining, max(1, int(float64(usable)*(0.45+0.4*r.Float64()))))
			id := int32(len(f.subnets))
			f.subnets = append(f.subnets, subnet{net: cursor, prefix: prefix, loc: loc})
			for k := range fill {
				slots[loc] = append(slots[loc], slot{id, cursor + 2 + uint32(k)})
			}
			remaining -= fill
			cursor += size
		}
		s := slots[loc]
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	}
	next := make([]int, len(f.locations))
	for i := range f.hosts {
		h := &f.hosts[i]
		s := slots[h.loc][next[h.loc]]
		next[h.loc]++
		h.sub, h.addr = s.sub, s.addr
		if h.dual {
			s := slots[h.loc][next[h.loc]]
			next[h.loc]++
			h.sub2, h.addr2 = s.sub, s.addr
		}
	}
}

func alignUp(v, size uint32) uint32 { return (v + size - 1) &^ (size - 1) }

// hasInventory: the host has hardware inventory (v_GS_* rows).
func (h *hostSpec) hasInventory() bool { return h.client && h.bad != badNoInventory }

func (h *hostSpec) name() string {
	n := strconv.Itoa(int(h.rid - firstResourceID + 1))
	for len(n) < 5 {
		n = "0" + n
	}
	return formPrefix[h.form] + "-" + n
}

// primaryMAC is the MAC of the host's main adapter as the hardware really has it.
func (f *fleet) primaryMAC(i int) string {
	h := &f.hosts[i]
	oui := vendors[h.vendor].oui
	if h.form == formVirtual {
		oui = ouiHyperV
	}
	return macText(oui, uint32(i+1)^f.macMask)
}

// inventoryMAC is the MAC of the main adapter as inventory and discovery report it,
// defects included.
func (f *fleet) inventoryMAC(i int) string {
	h := &f.hosts[i]
	switch h.bad {
	case badZeroMAC:
		return "00:00:00:00:00:00"
	case badDupMAC:
		return f.primaryMAC(int(h.dupOf))
	case badMalformedMAC:
		m := f.primaryMAC(i)
		switch i % 4 {
		case 0:
			return m[:14] // five octets
		case 1:
			return m[:9] + "G" + m[10:] // not hex
		case 2:
			return m + ":7F" // seven octets
		default:
			return m[:8] + "-" + m[9:] // mixed separators
		}
	}
	return f.primaryMAC(i)
}

func macText(oui, low uint32) string {
	const hex = "0123456789ABCDEF"
	v := uint64(oui&0xFFFFFF)<<24 | uint64(low&0xFFFFFF)
	b := make([]byte, 17)
	for k := range 6 {
		o := byte(v >> (40 - 8*k))
		b[3*k], b[3*k+1] = hex[o>>4], hex[o&15]
		if k < 5 {
			b[3*k+2] = ':'
		}
	}
	return string(b)
}

func ip4Text(a uint32) string {
	b := make([]byte, 0, 15)
	for k := 3; k >= 0; k-- {
		b = strconv.AppendUint(b, uint64(a>>(8*k)&0xFF), 10)
		if k > 0 {
			b = append(b, '.')
		}
	}
	return string(b)
}

func maskOf(prefix int) uint32 { return ^uint32(0) << (32 - prefix) }

// linkLocal is fe80::/64 with the given interface identifier, in canonical text form.
func linkLocal(id uint64) string {
	ip := make(net.IP, net.IPv6len)
	ip[0], ip[1] = 0xfe, 0x80
	for k := range 8 {
		ip[8+k] = byte(id >> (56 - 8*k))
	}
	return ip.String()
}

// uuidText formats 128 random bits as a version-4 UUID.
func uuidText(g [2]uint64) string {
	const hex = "0123456789abcdef"
	var raw [16]byte
	for k := range 8 {
		raw[k] = byte(g[0] >> (56 - 8*k))
		raw[8+k] = byte(g[1] >> (56 - 8*k))
	}
	raw[6] = raw[6]&0x0F | 0x40
	raw[8] = raw[8]&0x3F | 0x80
	b := make([]byte, 0, 36)
	for k, o := range raw {
		if k == 4 || k == 6 || k == 8 || k == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[o>>4], hex[o&15])
	}
	return string(b)
}
