package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Fixed identities of the lab site.
const (
	osName           = "Microsoft Windows NT Workstation 10.0"
	legacySourceID   = 16777217 // an old WSUS source, publishing disabled
	publishSourceID  = 16777218 // the publishing WSUS source clients scan against
	assignmentID     = 16777301
	topSUP           = "sup01." + DNSSuffix
	downstreamSUP    = "sup02." + DNSSuffix
	patchCollection  = 0x10 // LAB00010 "Patch - All Workstations", the SUG's deployment target
	locationColFirst = 0x20 // LAB00020... "Location - <name>"
)

// Generate builds a new lab database at path from opt and returns what it built. The file
// is written as path+".tmp" and renamed into place when complete, so an interrupted run
// leaves nothing half-written at path. An existing file at path is refused unless
// opt.Force; replacing a lab that a running simulator or server still has open is not
// safe. Errors about bad options or paths carry exit.Usage.
func Generate(ctx context.Context, path string, opt Options) (Summary, error) {
	opt, err := opt.normalize()
	if err != nil {
		return Summary{}, err
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return Summary{}, exit.Usagef("give a plain file path, like --db lab.db", "lab database path %q is not a plain file path", path)
	}
	switch st, err := os.Stat(path); {
	case err == nil && st.IsDir():
		return Summary{}, exit.Usagef("give a file path, not a directory", "lab database path %s is a directory", path)
	case err == nil && !opt.Force:
		return Summary{}, exit.Usagef("pass --force to replace it, or choose another path", "lab database %s already exists", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return Summary{}, exit.Wrap(exit.Usage, err, "check the path and its directory", "lab database path %s", path)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return Summary{}, exit.Usagef("create the directory first, or choose another path", "directory of lab database %s does not exist", path)
	}
	tmp := path + ".tmp"
	if err := removeDBFiles(tmp); err != nil {
		return Summary{}, err
	}
	sum, err := build(ctx, tmp, opt)
	if err != nil {
		_ = removeDBFiles(tmp)
		return Summary{}, err
	}
	// A stale WAL of the replaced lab would be replayed into the new file.
	for _, p := range []string{path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			_ = removeDBFiles(tmp)
			return Summary{}, fmt.Errorf("remove %s: %w", p, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = removeDBFiles(tmp)
		return Summary{}, fmt.Errorf("move the new lab into place at %s: %w", path, err)
	}
	sum.Path = path
	return sum, nil
}

// removeDBFiles removes a database file and its journal, WAL and shared-memory files.
func removeDBFiles(path string) error {
	for _, p := range []string{path, path + "-journal", path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

func build(ctx context.Context, path string, opt Options) (sum Summary, err error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return sum, fmt.Errorf("create lab database %s: %w", path, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close lab database %s: %w", path, cerr)
		}
	}()
	conn, err := db.Conn(ctx)
	if err != nil {
		return sum, fmt.Errorf("create lab database %s: %w", path, err)
	}
	defer conn.Close()

	exec := func(what string, stmts ...string) error {
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("build lab database %s: %s: %w", path, what, err)
			}
		}
		return nil
	}
	// Nothing to protect while building: a failed build is deleted.
	if err := exec("pragmas", "PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF",
		"PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY"); err != nil {
		return sum, err
	}
	create, indexes := schemaParts()
	if err := exec("begin", "BEGIN"); err != nil {
		return sum, err
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := exec("schema", create...); err != nil {
		return sum, err
	}

	g := &generator{conn: conn, opt: opt, fleet: layoutFleet(opt), cat: buildCatalog(opt)}
	if err := g.write(ctx); err != nil {
		return sum, fmt.Errorf("build lab database %s: %w", path, err)
	}
	if err := exec("indexes", indexes...); err != nil {
		return sum, err
	}
	if err := exec("statistics", "PRAGMA analysis_limit = 1000", "ANALYZE"); err != nil {
		return sum, err
	}
	if err := exec("commit", "COMMIT"); err != nil {
		return sum, err
	}
	committed = true
	// Readers (reports) and the simulator then share the file: WAL from here on.
	if err := exec("journal mode", "PRAGMA journal_mode = WAL"); err != nil {
		return sum, err
	}
	return g.summary(), nil
}

// generator writes the rows of one lab.
type generator struct {
	conn  *sql.Conn
	opt   Options
	fleet *fleet
	cat   *catalog

	subnetText []any // lab_subnet.subnet_id per subnet
	stateRows  int64
	nCollect   int
}

func (g *generator) summary() Summary {
	away := map[string]int{}
	for i := range g.fleet.hosts {
		seen := map[string]bool{}
		for _, a := range g.fleet.hosts[i].absences {
			if !seen[a.kind] {
				seen[a.kind] = true
				away[a.kind]++
			}
		}
	}
	return Summary{
		AwayForDays:    away,
		SiteCode:       g.opt.SiteCode,
		Seed:           g.opt.Seed,
		Hosts:          len(g.fleet.hosts),
		Clients:        g.fleet.clients,
		Updates:        len(g.cat.updates),
		UpdateGroups:   1,
		Deployments:    1,
		Collections:    g.nCollect,
		Subnets:        len(g.fleet.subnets),
		Locations:      len(g.fleet.locations),
		StateRows:      g.stateRows,
		CatalogVersion: CatalogVersion,
		PatchTuesday:   g.opt.PatchTuesday,
		Now:            g.fleet.now,
	}
}

func (g *generator) write(ctx context.Context) error {
	steps := []func(context.Context) error{
		g.writeMeta, g.writeNetwork, g.writeCatalog, g.writeHosts, g.writeCollections, g.writeTargets,
		g.writeStateNames,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// insertAll writes rows into table through one inserter.
func (g *generator) insertAll(ctx context.Context, table string, cols []string, rows [][]any) error {
	ins, err := newInserter(ctx, g.conn, table, cols...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := ins.add(ctx, r...); err != nil {
			return err
		}
	}
	return ins.close(ctx)
}

func (g *generator) writeMeta(ctx context.Context) error {
	o := g.opt
	rows := [][]any{
		{"catalog_version", strconv.Itoa(CatalogVersion)},
		{"dns_suffix", DNSSuffix},
		{"domain", Domain},
		{"hosts", strconv.Itoa(o.Hosts)},
		{"now", timeText(g.fleet.now)},
		{"patch_tuesday", o.PatchTuesday.Format(time.DateOnly)},
		{"publishing_source_id", strconv.Itoa(publishSourceID)},
		{metaRepairFix, strconv.FormatFloat(faultsOf(o).RepairFix, 'g', -1, 64)},
		{metaRepairMethod, repairMethodText(faultsOf(o).NoRepairMethod)},
		{"schema_version", "1"},
		{"seed", strconv.FormatInt(o.Seed, 10)},
		{"site_code", o.SiteCode},
		{"site_time_zone", "UTC"},
		{"updates", strconv.Itoa(o.Updates)},
	}
	return g.insertAll(ctx, "lab_meta", []string{"key", "value"}, rows)
}

func (g *generator) writeNetwork(ctx context.Context) error {
	f := g.fleet
	var locs [][]any
	for _, l := range f.locations {
		locs = append(locs, []any{l})
	}
	if err := g.insertAll(ctx, "lab_location", []string{"name"}, locs); err != nil {
		return err
	}
	var subs [][]any
	g.subnetText = make([]any, len(f.subnets))
	for i, s := range f.subnets {
		g.subnetText[i] = ip4Text(s.net)
		subs = append(subs, []any{g.subnetText[i], s.prefix, f.locations[s.loc]})
	}
	return g.insertAll(ctx, "lab_subnet", []string{"subnet_id", "prefix_len", "location"}, subs)
}

func (g *generator) writeCatalog(ctx context.Context) error {
	now, pt, c := g.fleet.now, g.opt.PatchTuesday, g.cat
	site := g.opt.SiteCode
	var ups, rels [][]any
	for _, u := range c.updates {
		ups = append(ups, []any{u.ciid, u.uniqueID, 1, u.article, u.bulletin, u.title, u.severity,
			timeText(u.posted), 0, b2i(u.supersededBy != 0), b2i(u.deployed), publishSourceID, u.minVer})
	}
	ups = append(ups, []any{c.sug.ciid, c.sug.uniqueID, 9, nil, nil, c.sug.title, nil,
		timeText(c.sug.posted), 0, 0, 1, nil, 0})
	for _, u := range c.updates {
		if u.supersededBy != 0 {
			// Supersedence (6): FromCIID supersedes ToCIID (direction inferred).
			rels = append(rels, []any{u.supersededBy, u.ciid, 6})
		}
	}
	var acis [][]any
	for _, u := range c.updates {
		if u.kind == kindThisMonth {
			rels = append(rels, []any{c.sug.ciid, u.ciid, 1}) // SUG member
			acis = append(acis, []any{assignmentID, u.ciid})
		}
	}
	if err := g.insertAll(ctx, "lab_update", []string{"CI_ID", "CI_UniqueID", "CIType_ID", "ArticleID",
		"BulletinID", "Title", "Severity", "DatePosted", "IsExpired", "IsSuperseded", "IsDeployed",
		"UpdateSource_ID", "MinSourceVersion"}, ups); err != nil {
		return err
	}
	if err := g.insertAll(ctx, "lab_cirelation", []string{"FromCIID", "ToCIID", "RelationType"}, rels); err != nil {
		return err
	}
	r := newRand(g.opt.Seed, streamCatalog, 1)
	guid := func() string { return strings.ToUpper(uuidText([2]uint64{r.Uint64(), r.Uint64()})) }
	if err := g.insertAll(ctx, "lab_update_source", []string{"UpdateSource_ID", "UpdateSource_UniqueID",
		"UpdateSourceName", "SourceType", "IsPublishingEnabled"}, [][]any{
		{legacySourceID, "{" + guid() + "}", "WSUS Enterprise Server (sup00, retired)", "WSUS", 0},
		{publishSourceID, "{" + guid() + "}", "WSUS Enterprise Server", "WSUS", 1},
	}); err != nil {
		return err
	}
	// LastSyncState 6702 is the "sync done" status message as community reports show it
	// (unconfirmed).
	sync := now.Add(-3 * time.Hour)
	if err := g.insertAll(ctx, "lab_sup_sync", []string{"SiteCode", "WSUSServerName", "WSUSSourceServer",
		"SyncCatalogVersion", "LastSuccessfulSyncTime", "LastSyncState", "LastSyncErrorCode",
		"ReplicationLinkStatus"}, [][]any{
		{site, topSUP, "Microsoft Update", CatalogVersion, timeText(sync), 6702, 0, 0},
		{site, downstreamSUP, topSUP, CatalogVersion, timeText(sync.Add(12 * time.Minute)), 6702, 0, 0},
	}); err != nil {
		return err
	}
	// The deployment: required, deadline 16:00 on Patch Tuesday (lab site time is UTC),
	// restarts suppressed on workstations (SuppressReboot bit 1) because the night restarts them.
	if err := g.insertAll(ctx, "lab_assignment", []string{"AssignmentID", "Assignment_UniqueID",
		"AssignmentName", "CollectionID", "DesiredConfigType", "StartTime",
		"EnforcementDeadline", "SuppressReboot", "NotifyUser", "OverrideServiceWindows",
		"RebootOutsideOfServiceWindows", "UseGMTTimes", "AssignmentEnabled"}, [][]any{
		{assignmentID, "{" + guid() + "}", c.sug.title + " - Patch - All Workstations",
			collectionID(site, patchCollection), 1,
			timeText(pt.Add(12*time.Hour + 30*time.Minute)), timeText(pt.Add(16 * time.Hour)),
			1, 0, 1, 0, 1, 1},
	}); err != nil {
		return err
	}
	// The deployment is of the software update group (v_CIAssignmentToGroup).
	if err := g.insertAll(ctx, "lab_assignment_group", []string{"AssignmentID", "AssignedUpdateGroup"},
		[][]any{{assignmentID, c.sug.ciid}}); err != nil {
		return err
	}
	return g.insertAll(ctx, "lab_assignment_ci", []string{"AssignmentID", "CI_ID"}, acis)
}

// writeTargets fills v_CIAssignmentTargetedMachines: the members of each deployment's
// collection as the lab was generated. A site recomputes the targets as the collection
// changes; the lab keeps this first set (collections built later are not deployed to).
func (g *generator) writeTargets(ctx context.Context) error {
	_, err := g.conn.ExecContext(ctx, `INSERT INTO lab_assignment_target (AssignmentID, ResourceID)
		SELECT a.AssignmentID, m.ResourceID
		FROM lab_assignment a JOIN lab_collection_member m ON m.CollectionID = a.CollectionID`)
	if err != nil {
		return fmt.Errorf("deployment targets: %w", err)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func collectionID(site string, n int) string { return fmt.Sprintf("%s%05X", site, n) }

// unixText is a lab time column for unix seconds; 0 is NULL.
func unixText(s int64) any {
	if s == 0 {
		return nil
	}
	return timeText(time.Unix(s, 0))
}

func (g *generator) writeHosts(ctx context.Context) error {
	type table struct {
		name string
		cols []string
	}
	tables := []table{
		{"lab_host", []string{"ResourceID", "Name", "Domain", "SMSGuid", "Location", "Subnet", "FormFactor",
			"Model", "Manufacturer", "OSName", "Build", "IsClient", "Active", "Obsolete", "Decommissioned",
			"ClientCheckPass", "Power", "WolEnabled", "CurrentUser", "LastLogonUser", "PrimaryUser",
			"LastOnline", "LastOffline", "LastDDR", "LastHW", "LastPolicyRequest", "OfflineUntil",
			"InstallFault", "ScanFault", "RebootPending", "TransientFails", "TransientCode", "InstallPace",
			"AwayAt", "AwayUntil", "NoComeBack"}},
		{"lab_adapter", []string{"ResourceID", "AdapterIndex", "MACAddress", "IPAddress", "IPSubnet",
			"DefaultIPGateway", "IPEnabled"}},
		{"lab_ra_subnet", []string{"ResourceID", "IP_Subnets0"}},
		{"lab_ra_mac", []string{"ResourceID", "MAC_Addresses0"}},
		{"lab_ra_ip", []string{"ResourceID", "IP_Addresses0"}},
		{"lab_update_state", []string{"ResourceID", "CI_ID", "Truth", "Status", "LastStatusChangeTime",
			"EnforcementSource", "LastEnforcementMessageID", "LastErrorCode", "AfterCI"}},
		{"lab_scan_status", []string{"ResourceID", "UpdateSource_ID", "LastScanState", "LastScanTime",
			"LastErrorCode", "LastStatusMessageID", "LastScanPackageLocation", "LastScanPackageVersion",
			"LastWUAVersion"}},
		{"lab_away", []string{"ResourceID", "Kind", "AwayAt", "AwayUntil"}},
	}
	ins := make([]*inserter, len(tables))
	for i, t := range tables {
		b, err := newInserter(ctx, g.conn, t.name, t.cols...)
		if err != nil {
			return err
		}
		ins[i] = b
	}
	hw := hostWriter{g: g, host: ins[0], adapter: ins[1], raSubnet: ins[2], raMAC: ins[3], raIP: ins[4],
		state: ins[5], scan: ins[6], away: ins[7]}
	hw.prepare()
	for i := range g.fleet.hosts {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := hw.write(ctx, i); err != nil {
			return err
		}
	}
	for _, b := range ins {
		if err := b.close(ctx); err != nil {
			return err
		}
	}
	g.stateRows = hw.state.total
	return nil
}

// hostWriter writes every row that belongs to one host.
type hostWriter struct {
	g                                                       *generator
	host, adapter, raSubnet, raMAC, raIP, state, scan, away *inserter

	// Values boxed once, so that the millions of state rows allocate nothing per value.
	ciAny      []any
	installAny [][4]any
	reportAny  []any
	faultAny   any
	locAny     []any
	scanLoc    [2]any
	wuaAny     []any
	rows       []stateRow // one host's rows, reused
}

// stateRow is one lab_update_state row before it is written.
type stateRow struct {
	k             int // index in the catalog
	truth, status int
	changed, code any
	source, msg   int
	after         int64
}

func (w *hostWriter) prepare() {
	c := w.g.cat
	w.ciAny = make([]any, len(c.updates))
	w.installAny = make([][4]any, len(c.updates))
	w.reportAny = make([]any, len(c.updates))
	for i, u := range c.updates {
		w.ciAny[i] = u.ciid
		for k, s := range u.installTexts {
			w.installAny[i][k] = s
		}
		w.reportAny[i] = u.reportText
	}
	w.faultAny = installFaultCode
	for _, l := range w.g.fleet.locations {
		w.locAny = append(w.locAny, l)
	}
	w.scanLoc = [2]any{"http://" + topSUP + ":8530", "http://" + downstreamSUP + ":8530"}
	for _, b := range builds {
		w.wuaAny = append(w.wuaAny, b.wua)
	}
}

func (w *hostWriter) write(ctx context.Context, i int) error {
	f := w.g.fleet
	h := &f.hosts[i]
	rid := any(h.rid)
	pending, err := w.writeStates(ctx, i, rid)
	if err != nil {
		return err
	}

	checkPass, installFault := 0, int32(0)
	if h.client {
		checkPass = 2
		if h.healthy {
			checkPass = 1
		}
		if h.installFault {
			installFault = installFaultCode
		}
	}
	power := "off"
	if h.on {
		power = "on"
	}
	v := vendors[h.vendor]
	manufacturer, model := v.manufacturer, v.desktop
	switch h.form {
	case formLaptop:
		model = v.laptop
	case formVirtual:
		manufacturer, model = "Microsoft Corporation", "Virtual Machine"
	}
	user := func(u int32) any {
		if u < 0 {
			return nil
		}
		return userName(u)
	}
	lastHW := h.lastHW
	if !h.hasInventory() {
		lastHW = 0
	}
	if err := w.host.add(ctx, rid, h.name(), Domain, "GUID:"+strings.ToUpper(uuidText(h.guid)),
		w.locAny[h.loc], w.g.subnetText[h.sub], formNames[h.form], model, manufacturer, osName,
		builds[h.build].build, b2i(h.client), b2i(h.active), 0, 0, checkPass, power, b2i(h.wol),
		user(h.currentUser), user(h.lastUser), user(h.primaryUser),
		unixText(h.lastOnline), unixText(h.lastOffline), unixText(h.lastDDR), unixText(lastHW),
		unixText(h.lastPolicy), unixText(h.offUntil), installFault, h.scanFault, b2i(pending), h.transientFails, h.transientCode,
		h.pace, unixText(h.awayAt), unixText(h.awayUntil), b2i(h.noComeBack)); err != nil {
		return err
	}
	if err := w.writeNetwork(ctx, i, rid); err != nil {
		return err
	}
	if err := w.writeAway(ctx, h); err != nil {
		return err
	}
	return w.writeScans(ctx, i, rid)
}

// writeStates writes the host's applicable update rows and reports whether any waits for a
// restart. Status follows the host's last scan: 0 where that scan's catalog did not carry
// the update (or there is no scan), else 2 (required) or 3 (installed).
func (w *hostWriter) writeStates(ctx context.Context, i int, rid any) (pending bool, err error) {
	h := &w.g.fleet.hosts[i]
	if !h.client {
		return false, nil
	}
	r := newRand(w.g.opt.Seed, streamState, uint64(i))
	var scanText any
	if h.scan != scanNever {
		scanText = unixText(h.scanTime)
	}
	w.rows = w.rows[:0]
	for k := range w.g.cat.updates {
		u := &w.g.cat.updates[k]
		if !u.applies(h, r) {
			continue
		}
		reported := h.scan != scanNever && h.scanVer >= u.minVer
		truth := 0
		switch x := r.Float64(); u.kind {
		case kindBulletin:
			if x < 0.97 {
				truth = 2
			}
		case kindPrevMonth:
			if x < 0.90 {
				truth = 2
			}
		default:
			switch {
			case h.earlyPending && reported && x < 0.5:
				truth = 1
			case x < 0.08:
				truth = 2
			}
		}
		var status, source, msg int
		var changed, code any = nil, 0
		switch {
		case !reported:
		case truth == 2:
			status, changed = 3, w.installAny[k][r.IntN(4)]
			if u.kind == kindThisMonth {
				source, msg, changed = 2, 10, scanText // installed early from Software Center
			} else if r.Float64() < 0.7 {
				source, msg = 1, 10
			}
		case truth == 1:
			status, source, msg, changed = 2, 2, 9, scanText
			pending = true
		default:
			status, changed = 2, w.reportAny[k]
			if u.kind == kindThisMonth {
				changed = scanText
			}
			switch {
			case u.deployed && h.installFault:
				source, msg, code = 1, 11, w.faultAny
			case u.deployed && r.Float64() < 0.1:
				source, msg = 1, 13 // downloaded, waiting for the deadline
			}
		}
		w.rows = append(w.rows, stateRow{k: k, truth: truth, status: status, changed: changed, source: source,
			msg: msg, code: code})
	}
	if h.chain {
		w.chain(scanText)
	}
	for _, x := range w.rows {
		if err := w.state.add(ctx, rid, w.ciAny[x.k], x.truth, x.status, x.changed, x.source, x.msg, x.code,
			x.after); err != nil {
			return false, err
		}
	}
	return pending, nil
}

// chain makes the first of chainPairs whose two updates both apply to the host, both of
// this month and neither installed, a chained pair: the second is not applicable until the
// first is installed and the machine restarted, so the host's scan found it not required.
func (w *hostWriter) chain(scanText any) {
	c := w.g.cat
	find := func(fam int) int {
		for i, x := range w.rows {
			if u := &c.updates[x.k]; u.kind == kindThisMonth && u.fam == fam {
				return i
			}
		}
		return -1
	}
	for _, p := range chainPairs {
		a, b := find(p[0]), find(p[1])
		if a < 0 || b < 0 || w.rows[a].truth == 2 || w.rows[b].truth != 0 {
			continue
		}
		x := &w.rows[b]
		x.after = c.updates[w.rows[a].k].ciid
		if x.status == 2 {
			x.status, x.changed = 1, scanText
		}
		x.source, x.msg, x.code = 0, 0, 0
		return
	}
}

// Non-contiguous masks seen in the lab's bad inventory.
var badMasks = [...]struct {
	text string
	bits uint32
}{
	{"255.255.0.255", 0xFFFF00FF}, {"255.255.255.64", 0xFFFFFF40}, {"255.0.255.0", 0xFF00FF00},
}

// writeNetwork writes the host's adapters (hardware inventory) and discovery data.
func (w *hostWriter) writeNetwork(ctx context.Context, i int, rid any) error {
	f := w.g.fleet
	h := &f.hosts[i]
	sn := f.subnets[h.sub]
	mask, maskText := maskOf(sn.prefix), ip4Text(maskOf(sn.prefix))
	switch h.bad {
	case badNonContiguousMask:
		m := badMasks[i%len(badMasks)]
		mask, maskText = m.bits, m.text
	case badSlash31:
		mask = maskOf(31)
		maskText = ip4Text(mask)
	case badSlash32:
		mask = maskOf(32)
		maskText = ip4Text(mask)
	}
	v4, ll := ip4Text(h.addr), linkLocal(h.v6)
	mac := f.inventoryMAC(i)
	low := uint32(i+1) ^ f.macMask
	var wifiMAC, v4b, llb string
	if h.dual {
		wifiMAC, v4b, llb = macText(ouiWiFi, low), ip4Text(h.addr2), linkLocal(h.v6b)
	}

	if h.hasInventory() {
		ip, sub, gw := v4+", "+ll, maskText+", 64", any(ip4Text(sn.net+1))
		if h.bad == badIPv6Only {
			ip, sub, gw = ll, "64", nil
		}
		if err := w.adapter.add(ctx, rid, 1, mac, ip, sub, gw, 1); err != nil {
			return err
		}
		if h.disabledNIC {
			if err := w.adapter.add(ctx, rid, 2, macText(ouiDisabled, low), nil, nil, nil, 0); err != nil {
				return err
			}
		}
		if h.dual {
			sn2 := f.subnets[h.sub2]
			if err := w.adapter.add(ctx, rid, 3, wifiMAC, v4b+", "+llb, ip4Text(maskOf(sn2.prefix))+", 64",
				ip4Text(sn2.net+1), 1); err != nil {
				return err
			}
		}
	}

	if h.bad != badIPv6Only {
		if err := w.raSubnet.add(ctx, rid, ip4Text(h.addr&mask)); err != nil {
			return err
		}
		if h.dual && f.subnets[h.sub2].net != h.addr&mask {
			if err := w.raSubnet.add(ctx, rid, w.g.subnetText[h.sub2]); err != nil {
				return err
			}
		}
	}
	if err := w.raMAC.add(ctx, rid, mac); err != nil {
		return err
	}
	if h.dual {
		if err := w.raMAC.add(ctx, rid, wifiMAC); err != nil {
			return err
		}
	}
	var ips []string
	if h.bad != badIPv6Only {
		ips = append(ips, v4)
	}
	ips = append(ips, ll)
	if h.dual {
		ips = append(ips, v4b, llb)
	}
	for _, ip := range ips {
		if err := w.raIP.add(ctx, rid, ip); err != nil {
			return err
		}
	}
	return nil
}

// writeScans writes the host's scan status: an old row for the retired source on some, and
// the row for the publishing source unless the client never scanned.
func (w *hostWriter) writeScans(ctx context.Context, i int, rid any) error {
	h := &w.g.fleet.hosts[i]
	if !h.client || h.scan == scanNever {
		return nil
	}
	if h.legacyScan {
		old := h.lastDDR - 400*86400 - int64(i%97)*86400
		if err := w.scan.add(ctx, rid, legacySourceID, 3, unixText(old), 0, 0,
			"http://sup00."+DNSSuffix+":8530", 120+i%20, w.wuaAny[h.build]); err != nil {
			return err
		}
	}
	state := 3
	if h.scanFault != 0 {
		state = 5
	}
	return w.scan.add(ctx, rid, publishSourceID, state, unixText(h.scanTime), h.scanFault, 0,
		w.scanLoc[h.loc%2], h.scanVer, w.wuaAny[h.build])
}

// collectionSpec is one collection of the lab and how its members are chosen.
type collectionSpec struct {
	n                 int // for site collections: the hex number after the site code
	id, name, comment string
	limit, objectPath string
	builtIn           bool
	refreshType       int
	query, ruleName   string // a query rule, or none
	member            func(i int, h *hostSpec) bool
	direct            bool // members come from direct rules
}

func (g *generator) collections() []collectionSpec {
	site, f := g.opt.SiteCode, g.fleet
	const sel = "select SMS_R_SYSTEM.ResourceID,SMS_R_SYSTEM.ResourceType,SMS_R_SYSTEM.Name," +
		"SMS_R_SYSTEM.SMSUniqueIdentifier,SMS_R_SYSTEM.ResourceDomainORWorkgroup,SMS_R_SYSTEM.Client " +
		"from SMS_R_System where "
	pilot := g.pilot()
	cs := []collectionSpec{
		{id: "SMS00001", name: "All Systems", comment: "All Systems", builtIn: true, refreshType: 2,
			member: func(int, *hostSpec) bool { return true }},
		{id: "SMSDM003", name: "All Desktop and Server Clients", comment: "All Desktop and Server Clients",
			limit: "SMS00001", builtIn: true, refreshType: 2,
			member: func(_ int, h *hostSpec) bool { return h.client }},
		{n: patchCollection, name: "Patch - All Workstations", comment: "Target of the monthly update deployment",
			limit: "SMS00001", objectPath: "/Patching", refreshType: 6, ruleName: "Workstation clients",
			query:  sel + `SMS_R_System.Client = 1 and SMS_R_System.OperatingSystemNameandVersion like "%Workstation%"`,
			member: func(_ int, h *hostSpec) bool { return h.client }},
		{n: patchCollection + 1, name: "Patch - Laptops", limit: "SMS00001", objectPath: "/Patching",
			refreshType: 2, ruleName: "Laptops",
			query:  sel + `SMS_R_System.Client = 1 and SMS_R_System.Name like "LT-%"`,
			member: func(_ int, h *hostSpec) bool { return h.client && h.form == formLaptop }},
		{n: patchCollection + 2, name: "Patch - Pilot", comment: "Early ring", limit: "SMS00001",
			objectPath: "/Patching", refreshType: 1, direct: true,
			member: func(i int, _ *hostSpec) bool { return pilot[i] }},
	}
	for k, loc := range f.locations {
		cs = append(cs, collectionSpec{n: locationColFirst + k, name: "Location - " + loc,
			limit: "SMS00001", objectPath: "/Locations", refreshType: 2, ruleName: "AD site " + loc,
			query:  sel + `SMS_R_System.ADSiteName = "` + loc + `"`,
			member: func(_ int, h *hostSpec) bool { return h.loc == k }})
	}
	for i := range cs {
		if cs[i].id == "" {
			cs[i].id = collectionID(site, cs[i].n)
		}
		if cs[i].objectPath == "" {
			cs[i].objectPath = "/"
		}
	}
	return cs
}

// pilot picks about 1% of clients (1 to 50) for the direct-rule pilot collection.
func (g *generator) pilot() map[int]bool {
	var clients []int
	for i := range g.fleet.hosts {
		if g.fleet.hosts[i].client {
			clients = append(clients, i)
		}
	}
	r := newRand(g.opt.Seed, streamLayout, 1)
	r.Shuffle(len(clients), func(i, j int) { clients[i], clients[j] = clients[j], clients[i] })
	out := map[int]bool{}
	for _, i := range clients[:min(len(clients), max(1, min(50, len(clients)/100)))] {
		out[i] = true
	}
	return out
}

func (g *generator) writeCollections(ctx context.Context) error {
	f, now := g.fleet, g.fleet.now
	cs := g.collections()
	slices.SortFunc(cs, func(a, b collectionSpec) int { return strings.Compare(a.id, b.id) })
	var colRows, ruleRows, directRows [][]any
	for _, c := range cs {
		count := 0
		for i := range f.hosts {
			if c.member(i, &f.hosts[i]) {
				count++
				if c.direct {
					directRows = append(directRows, []any{c.id, f.hosts[i].rid, f.hosts[i].name()})
				}
			}
		}
		colRows = append(colRows, []any{c.id, c.name, c.comment, c.limit, 2, c.refreshType, "",
			c.objectPath, b2i(c.builtIn), timeText(now.Add(-47 * time.Minute)),
			timeText(now.AddDate(0, 0, -30)), 1, count})
		if c.query != "" {
			ruleRows = append(ruleRows, []any{c.id, 1, c.ruleName, c.query})
		}
	}
	g.nCollect = len(cs)
	if err := g.insertAll(ctx, "lab_collection", []string{"CollectionID", "Name", "Comment",
		"LimitToCollectionID", "CollectionType", "RefreshType", "Schedule", "ObjectPath", "IsBuiltIn",
		"LastRefreshTime", "LastChangeTime", "CurrentStatus", "MemberCount"}, colRows); err != nil {
		return err
	}
	if err := g.insertAll(ctx, "lab_collection_rule_query", []string{"CollectionID", "QueryID", "RuleName",
		"QueryExpression"}, ruleRows); err != nil {
		return err
	}
	if err := g.insertAll(ctx, "lab_collection_rule_direct", []string{"CollectionID", "ResourceID",
		"RuleName"}, directRows); err != nil {
		return err
	}
	ins, err := newInserter(ctx, g.conn, "lab_collection_member", "CollectionID", "ResourceID", "IsDirect")
	if err != nil {
		return err
	}
	for _, c := range cs {
		id := any(c.id)
		for i := range f.hosts {
			if c.member(i, &f.hosts[i]) {
				if err := ins.add(ctx, id, f.hosts[i].rid, b2i(c.direct)); err != nil {
					return err
				}
			}
		}
	}
	return ins.close(ctx)
}

// stateNames are the v_StateNames rows: the codes of reference section 2 with its wording
// (a real site's StateName texts are longer; their exact wording is unconfirmed).
var stateNames = [...]struct {
	topic, id int
	name      string
}{
	{300, 1, "Compliant"}, {300, 2, "Non-compliant"},
	{301, 1, "Installing"}, {301, 2, "Waiting for restart"}, {301, 3, "Waiting for other install"},
	{301, 4, "Installed"}, {301, 5, "Pending restart"}, {301, 6, "Failed"}, {301, 7, "Downloading"},
	{301, 8, "Downloaded"}, {301, 9, "Download failed"}, {301, 10, "Waiting for maintenance window"},
	{301, 11, "Waiting for orchestration"}, {301, 12, "Waiting for superseding update"},
	{302, 1, "Activated"}, {302, 2, "Succeeded"}, {302, 3, "Failed"},
	{402, 1, "Started"}, {402, 2, "Waiting for content"}, {402, 3, "Waiting for other install"},
	{402, 4, "Waiting for maintenance window"}, {402, 5, "Restart needed before install"},
	{402, 6, "General failure"}, {402, 7, "Pending install"}, {402, 8, "Installing"},
	{402, 9, "Pending restart"}, {402, 10, "Installed"}, {402, 11, "Install failed"},
	{402, 12, "Downloading"}, {402, 13, "Downloaded"}, {402, 14, "Download failed"},
	{500, 0, "Unknown"}, {500, 1, "Not required"}, {500, 2, "Required"}, {500, 3, "Installed"},
	{501, 0, "Unknown"}, {501, 1, "Waiting for content"}, {501, 2, "Running"}, {501, 3, "Complete"},
	{501, 4, "Pending retry"}, {501, 5, "Failed"}, {501, 6, "Completed with errors"},
}

func (g *generator) writeStateNames(ctx context.Context) error {
	var rows [][]any
	for _, s := range stateNames {
		rows = append(rows, []any{s.topic, s.id, s.name})
	}
	return g.insertAll(ctx, "lab_state_name", []string{"TopicType", "StateID", "StateName"}, rows)
}
