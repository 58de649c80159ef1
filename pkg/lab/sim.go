package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrUnknownCollection: no lab collection has that ID.
var ErrUnknownCollection = errors.New("unknown lab collection")

// Sim applies client actions to a lab database: the simulated fleet behind the lab's WS-Man
// endpoint and wake listener. Its methods are safe for concurrent use; each call that
// changes the lab is one write transaction, and such calls are serialised.
//
// Every action on a known host is recorded in lab_event (also when the host refused it).
// Sim reads its time from the clock given to OpenSim; a host whose restart has ended
// answers again from then on, and Tick marks all such hosts online in the site views.
type Sim struct {
	db        *sql.DB
	clock     func() time.Time
	restart   time.Duration
	publishID int64
	mu        sync.Mutex // serialises write transactions
	// online answers Online, the WS-Man endpoint's question on every request: prepared
	// once, because parsing it again per request cost more than running it.
	online *sql.Stmt
	// pending answers catchUp's question on every host action: has anything of the host's
	// install job ended, or has its state message cycle come round? Prepared once, so that
	// an action with nothing to catch up parses no statement for it.
	pending *sql.Stmt
	// repairing holds, per ResourceID, until when a client repair keeps the client from
	// answering (repair.go); under mu.
	repairing map[int64]time.Time
}

// SimOption changes a default of OpenSim.
type SimOption func(*Sim)

// WithRestartDuration sets how long a restarted host stays offline (default 4 minutes).
func WithRestartDuration(d time.Duration) SimOption {
	return func(s *Sim) {
		if d > 0 {
			s.restart = d
		}
	}
}

// OpenSim opens the lab at path read-write for simulation. clock gives the simulated time;
// nil means the lab's own "now" (Patch Tuesday 15:00 UTC) advancing with real elapsed time.
func OpenSim(path string, clock func() time.Time, opts ...SimOption) (*Sim, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("lab database path %q is not a plain file path", path)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("lab database %s does not exist (build one with patchnight lab init): %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("lab database %s: %w", path, err)
	case st.IsDir():
		return nil, fmt.Errorf("lab database %s is a directory", path)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open lab database %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8) // keep them: a new SQLite connection re-reads the schema and re-applies the pragmas
	s := &Sim{db: db, restart: 4 * time.Minute}
	for _, o := range opts {
		o(s)
	}
	ctx := context.Background()
	var nowText string
	if err := db.QueryRowContext(ctx, `SELECT value FROM lab_meta WHERE key = 'now'`).Scan(&nowText); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s is not a patchnight lab database: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT MIN(UpdateSource_ID) FROM lab_update_source
		WHERE IsPublishingEnabled = 1`).Scan(&s.publishID); err != nil {
		db.Close()
		return nil, fmt.Errorf("lab database %s has no publishing update source: %w", path, err)
	}
	if clock == nil {
		start, err := time.Parse(timeLayout, nowText)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("lab database %s: bad 'now' %q: %w", path, nowText, err)
		}
		opened := time.Now()
		clock = func() time.Time { return start.Add(time.Since(opened)) }
	}
	s.clock = clock
	if s.pending, err = db.PrepareContext(ctx, `SELECT
			EXISTS (SELECT 1 FROM lab_install_job WHERE ResourceID = ?1 AND Settled = 0 AND DoneAt <= ?2),
			EXISTS (SELECT 1 FROM lab_unsent_scan WHERE ResourceID = ?1 AND Due <= ?2)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("lab database %s: %w", path, err)
	}
	if s.online, err = db.PrepareContext(ctx, `SELECT Power, OfflineUntil FROM lab_host WHERE Name = ? COLLATE NOCASE`); err != nil {
		db.Close()
		return nil, fmt.Errorf("lab database %s: %w", path, err)
	}
	return s, nil
}

// Online reports whether the host answers now (powered on, or back from a restart). The
// name may be a NetBIOS name or an FQDN (its first label is the name). An unknown host is
// not online.
func (s *Sim) Online(ctx context.Context, name string) (bool, error) {
	if i := strings.IndexByte(name, '.'); i > 0 && net.ParseIP(name) == nil {
		name = name[:i]
	}
	var power string
	var until sql.NullString
	err := s.online.QueryRowContext(ctx, name).Scan(&power, &until)
	if errors.Is(err, sql.ErrNoRows) {
		h, herr := s.Host(ctx, name) // an IP address, say
		if herr != nil {
			return false, nil
		}
		return h.Online, nil
	}
	if err != nil {
		return false, fmt.Errorf("lab host %s: %w", name, err)
	}
	if power == "on" {
		return true, nil
	}
	if until.Valid {
		t, err := time.Parse(timeLayout, until.String)
		return err == nil && !t.After(s.Now()), nil
	}
	return false, nil
}

// Close closes the database.
func (s *Sim) Close() error {
	if s.online != nil {
		s.online.Close()
	}
	if s.pending != nil {
		s.pending.Close()
	}
	return s.db.Close()
}

// Now is the simulated time, UTC.
func (s *Sim) Now() time.Time { return s.clock().UTC() }

// HostInfo describes one lab host as the simulator sees it now.
type HostInfo struct {
	ResourceID    int64     // v_R_System.ResourceID
	Name          string    // NetBIOS name, e.g. PC-00042
	FQDN          string    // e.g. pc-00042.lab.patchnight.test
	Domain        string    // LAB
	Location      string    // office
	Subnet        string    // subnet ID of the main adapter, e.g. 127.3.2.0
	Address       string    // IPv4 address of the main adapter (loopback); "" for IPv6-only hosts
	FormFactor    string    // desktop, laptop or virtual
	IsClient      bool      // has a ConfigMgr client
	Active        bool      // the site sees the client as active
	Healthy       bool      // ClientCheckPass = 1
	Online        bool      // answers now: powered on, or back from a restart
	OfflineUntil  time.Time // while restarting: when it answers again; zero otherwise
	WolEnabled    bool      // wakes on a magic packet
	CurrentUser   string    // console user, DOMAIN\name; "" = nobody (or offline)
	LastLogonUser string
	InstallFault  int32 // HRESULT every install fails with; 0 = none
	ScanFault     int32 // HRESULT every scan fails with; 0 = none
	RebootPending bool  // installs wait for a restart
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lookup finds a host's ResourceID by name (any case), FQDN (first label) or address.
func lookup(ctx context.Context, q querier, name string) (int64, error) {
	name = strings.TrimSpace(name)
	var rid int64
	var err error
	switch ip := net.ParseIP(name); {
	case name == "":
		return 0, fmt.Errorf("empty host name: %w", ErrUnknownHost)
	case ip != nil:
		err = q.QueryRowContext(ctx, `SELECT ResourceID FROM lab_ra_ip WHERE IP_Addresses0 = ?
			ORDER BY ResourceID LIMIT 1`, ip.String()).Scan(&rid)
	default:
		label, _, _ := strings.Cut(name, ".")
		err = q.QueryRowContext(ctx, `SELECT ResourceID FROM lab_host WHERE Name = ? COLLATE NOCASE`, label).Scan(&rid)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%s: %w", name, ErrUnknownHost)
	}
	if err != nil {
		return 0, fmt.Errorf("look up lab host %s: %w", name, err)
	}
	return rid, nil
}

const hostColumns = `h.ResourceID, h.Name, h.Domain, h.Location, h.Subnet, h.FormFactor, h.IsClient,
	h.Active, h.ClientCheckPass, h.Power, h.OfflineUntil, h.WolEnabled, h.CurrentUser, h.LastLogonUser,
	h.InstallFault, h.ScanFault, h.RebootPending,
	(SELECT i.IP_Addresses0 FROM lab_ra_ip i WHERE i.ResourceID = h.ResourceID AND i.IP_Addresses0 LIKE '127.%'
	 ORDER BY i.rowid LIMIT 1)`

func loadHost(ctx context.Context, q querier, rid int64, now time.Time) (HostInfo, error) {
	var h HostInfo
	var power string
	var offlineUntil, user, lastUser, addr sql.NullString
	var checkPass int
	err := q.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM lab_host h WHERE h.ResourceID = ?`, rid).Scan(
		&h.ResourceID, &h.Name, &h.Domain, &h.Location, &h.Subnet, &h.FormFactor, &h.IsClient,
		&h.Active, &checkPass, &power, &offlineUntil, &h.WolEnabled, &user, &lastUser,
		&h.InstallFault, &h.ScanFault, &h.RebootPending, &addr)
	if err != nil {
		return h, fmt.Errorf("read lab host %d: %w", rid, err)
	}
	h.FQDN = strings.ToLower(h.Name) + "." + DNSSuffix
	h.Healthy = checkPass == 1
	h.LastLogonUser, h.Address = lastUser.String, addr.String
	h.Online = power == "on"
	if offlineUntil.Valid {
		t, err := time.Parse(timeLayout, offlineUntil.String)
		if err != nil {
			return h, fmt.Errorf("lab host %s: bad OfflineUntil %q: %w", h.Name, offlineUntil.String, err)
		}
		if !t.After(now) {
			h.Online = true
		} else {
			h.OfflineUntil = t
		}
	}
	if h.Online {
		h.CurrentUser = user.String
	}
	return h, nil
}

// Host looks a host up by name (any case), FQDN ("pc-00042.lab.patchnight.test") or lab
// address. ErrUnknownHost when there is none. An offline host is no error here.
func (s *Sim) Host(ctx context.Context, name string) (HostInfo, error) {
	rid, err := lookup(ctx, s.db, name)
	if err != nil {
		return HostInfo{}, err
	}
	return loadHost(ctx, s.db, rid, s.Now())
}

// Members lists the names of a collection's members, in ResourceID order.
func (s *Sim) Members(ctx context.Context, collectionID string) ([]string, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_collection WHERE CollectionID = ? COLLATE NOCASE`,
		collectionID).Scan(&n); err != nil {
		return nil, fmt.Errorf("look up lab collection %s: %w", collectionID, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: %w", collectionID, ErrUnknownCollection)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT h.Name FROM lab_collection_member m
		JOIN lab_host h ON h.ResourceID = m.ResourceID
		WHERE m.CollectionID = ? COLLATE NOCASE ORDER BY m.ResourceID`, collectionID)
	if err != nil {
		return nil, fmt.Errorf("members of lab collection %s: %w", collectionID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("members of lab collection %s: %w", collectionID, err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("members of lab collection %s: %w", collectionID, err)
	}
	return out, nil
}

// action is one write transaction on one host: it brings the host back online if its
// restart has ended, runs fn, and records the action in lab_event. When fn refuses with
// ErrOffline or ErrNoClient, the refusal is recorded and returned.
func (s *Sim) action(ctx context.Context, name, what string, fn func(tx *sql.Tx, h HostInfo, now string) (string, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, name, err)
	}
	defer tx.Rollback()
	now := s.Now()
	nowText := timeText(now)
	rid, err := lookup(ctx, tx, name)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := backOnline(ctx, tx, nowText, rid); err != nil {
		return fmt.Errorf("%s %s: %w", what, name, err)
	}
	if err := s.catchUpHost(ctx, tx, rid, nowText); err != nil {
		return fmt.Errorf("%s %s: %w", what, name, err)
	}
	h, err := loadHost(ctx, tx, rid, now)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, name, err)
	}
	var detail string
	switch {
	case !h.Online:
		err, detail = ErrOffline, "refused: offline"
	case s.repairBusy(rid, now):
		err, detail = ErrOffline, "refused: client repair running"
	case !h.IsClient:
		err, detail = ErrNoClient, "refused: no client"
	default:
		detail, err = fn(tx, h, nowText)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, h.Name, err)
		}
	}
	if err := logEvent(ctx, tx, nowText, rid, what, detail); err != nil {
		return err
	}
	if cerr := tx.Commit(); cerr != nil {
		return fmt.Errorf("%s %s: commit: %w", what, h.Name, cerr)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, h.Name, err)
	}
	return nil
}

func logEvent(ctx context.Context, tx *sql.Tx, now string, rid int64, action, detail string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO lab_event (Time, ResourceID, Action, Detail) VALUES (?, ?, ?, ?)`,
		now, rid, action, detail); err != nil {
		return fmt.Errorf("record lab event: %w", err)
	}
	return nil
}

// backOnline takes hosts whose time to leave has come off the network (goAwayDays, goAway) and marks
// hosts whose restart or absence has ended as online (all of them when rid is 0).
func backOnline(ctx context.Context, tx *sql.Tx, now string, rid int64) error {
	if err := goAwayDays(ctx, tx, now, rid); err != nil {
		return err
	}
	if err := goAway(ctx, tx, now, rid); err != nil {
		return err
	}
	where := `OfflineUntil IS NOT NULL AND OfflineUntil <= ?1 AND (?2 = 0 OR ResourceID = ?2)`
	if _, err := tx.ExecContext(ctx, `INSERT INTO lab_event (Time, ResourceID, Action, Detail)
		SELECT ?1, ResourceID, 'online', 'back from restart' FROM lab_host WHERE `+where, now, rid); err != nil {
		return fmt.Errorf("bring restarted hosts online: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE lab_host SET Power = 'on', LastOnline = ?1, OfflineUntil = NULL
		WHERE `+where, now, rid); err != nil {
		return fmt.Errorf("bring restarted hosts online: %w", err)
	}
	return nil
}

// goAway switches off the hosts whose AwayAt has come (the host's when rid > 0): a laptop
// taken home or a desktop switched off by its user. Shutting down completes what waited
// for a restart, as a restart does; install job updates that had not ended are lost. The
// host answers nothing, and no magic packet reaches it, until AwayUntil (OfflineUntil),
// when it is back on. A host that did not come back after a restart stays down.
func goAway(ctx context.Context, tx *sql.Tx, now string, rid int64) error {
	const sel = `SELECT ResourceID FROM lab_host WHERE AwayAt IS NOT NULL AND AwayAt <= ?1 AND (?2 = 0 OR ResourceID = ?2)`
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+sel+`)`, now, rid).Scan(&n); err != nil {
		return fmt.Errorf("hosts leaving: %w", err)
	}
	if n == 0 {
		return nil
	}
	if err := settleJobs(ctx, tx, rid, now); err != nil {
		return err
	}
	for _, q := range []string{
		`INSERT INTO lab_event (Time, ResourceID, Action, Detail)
			SELECT ?1, ResourceID, 'away', 'switched off, back at ' || AwayUntil FROM lab_host WHERE ResourceID IN (` + sel + `)`,
		`DELETE FROM lab_install_job WHERE ResourceID IN (` + sel + `)`,
		`DELETE FROM lab_unsent_status WHERE (ResourceID, CI_ID) IN (SELECT ResourceID, CI_ID FROM lab_update_state
			WHERE Truth = 1 AND ResourceID IN (` + sel + `))`,
		`UPDATE lab_update_state SET Truth = 2, Status = CASE WHEN Status = 0 THEN 0 ELSE 3 END,
			LastStatusChangeTime = ?1, EnforcementSource = 1, LastEnforcementMessageID = 10, LastErrorCode = 0
			WHERE Truth = 1 AND ResourceID IN (` + sel + `)`,
		// A host already off (away for days, restarting, or switched off) went off earlier:
		// its last offline time stays. It is away until the later end (a host that did not
		// come back after a restart stays down).
		`UPDATE lab_host SET Power = 'off', CurrentUser = NULL, RebootPending = 0,
			LastOffline = CASE WHEN Power = 'on' THEN AwayAt ELSE LastOffline END,
			OfflineUntil = CASE WHEN OfflineUntil > AwayUntil THEN OfflineUntil ELSE AwayUntil END,
			AwayAt = NULL WHERE ResourceID IN (` + sel + `)`,
	} {
		if _, err := tx.ExecContext(ctx, q, now, rid); err != nil {
			return fmt.Errorf("hosts leaving: %w", err)
		}
	}
	return nil
}

// catchUp brings every host up to now: install job updates that have ended take effect,
// and scan results whose state message reporting cycle came round reach the site's tables.
func catchUp(ctx context.Context, tx *sql.Tx, now string) error {
	if err := settleJobs(ctx, tx, 0, now); err != nil {
		return err
	}
	_, err := sendStateMessages(ctx, tx, 0, now)
	return err
}

// catchUpHost is catchUp for the host an action is about to act on.
func (s *Sim) catchUpHost(ctx context.Context, tx *sql.Tx, rid int64, now string) error {
	var jobEnded, cycleDue bool
	if err := tx.StmtContext(ctx, s.pending).QueryRowContext(ctx, rid, now).Scan(&jobEnded, &cycleDue); err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	if jobEnded {
		if err := settleJobs(ctx, tx, rid, now); err != nil {
			return err
		}
	}
	if cycleDue {
		// Every unsent message of the host goes with its cycle.
		if _, err := sendStateMessages(ctx, tx, rid, now); err != nil {
			return err
		}
	}
	return nil
}

// Tick brings every host whose restart has ended back online (Power on, LastOnline now),
// so that the site views (CNIsOnline) see them; applies the end of install job updates
// that have ended; and sends the scan results of every host whose state message reporting
// cycle has come round.
func (s *Sim) Tick(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("lab tick: %w", err)
	}
	defer tx.Rollback()
	now := timeText(s.Now())
	if err := backOnline(ctx, tx, now, 0); err != nil {
		return fmt.Errorf("lab tick: %w", err)
	}
	if err := catchUp(ctx, tx, now); err != nil {
		return fmt.Errorf("lab tick: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("lab tick: %w", err)
	}
	return nil
}

// ScanResult is the outcome of a software update scan.
type ScanResult struct {
	State           int       // topic 501: 3 completed, 5 failed
	ErrorCode       int32     // scan HRESULT; 0 = none
	CatalogVersion  int       // LastScanPackageVersion after the scan
	PreviousVersion int       // before the scan; 0 = never scanned
	Required        int       // applicable updates the host now reports required (Status 2)
	Installed       int       // ... and installed (Status 3)
	Time            time.Time // LastScanTime
}

// Scan runs a software update scan (schedule 113) on a host: against the current catalog
// (the top SUP's SyncCatalogVersion), finding every applicable update required or
// installed. A host with a scan fault records a failed scan (state 5) and finds nothing
// new; that is a result, not an error. ErrOffline, ErrNoClient, ErrUnknownHost otherwise.
//
// The result stays on the client as unsent state messages (lab_unsent_scan,
// lab_unsent_status): the site's views see it after SendStateMessages (schedule 111) or
// when the host's state message reporting cycle comes round (StateMessageCycle, on Tick or
// when the host is next acted on).
func (s *Sim) Scan(ctx context.Context, host string) (ScanResult, error) {
	return s.scan(ctx, host, false)
}

// ScanThenSend runs a scan and then sends the host's unsent state messages (schedules 113
// and 111 in one script run): the scan's result reaches the site's views at once.
func (s *Sim) ScanThenSend(ctx context.Context, host string) (ScanResult, error) {
	return s.scan(ctx, host, true)
}

func (s *Sim) scan(ctx context.Context, host string, send bool) (ScanResult, error) {
	var res ScanResult
	err := s.action(ctx, host, "scan", func(tx *sql.Tx, h HostInfo, now string) (string, error) {
		detail, err := s.scanTx(ctx, tx, h, now, &res)
		if err != nil || !send {
			return detail, err
		}
		n, err := sendStateMessages(ctx, tx, h.ResourceID, now)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s; %d scan results sent", detail, n), nil
	})
	if err != nil {
		return ScanResult{}, err
	}
	return res, nil
}

// scanTx is the scan itself, inside the action's transaction.
func (s *Sim) scanTx(ctx context.Context, tx *sql.Tx, h HostInfo, now string, res *ScanResult) (string, error) {
	var prev sql.NullInt64
	var loc, wua sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT LastScanPackageVersion, LastScanPackageLocation, LastWUAVersion
		FROM lab_unsent_scan WHERE ResourceID = ?1 AND UpdateSource_ID = ?2
		UNION ALL SELECT LastScanPackageVersion, LastScanPackageLocation, LastWUAVersion
		FROM lab_scan_status WHERE ResourceID = ?1 AND UpdateSource_ID = ?2
		LIMIT 1`, h.ResourceID, s.publishID).Scan(&prev, &loc, &wua)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	if !loc.Valid {
		loc.String = "http://" + topSUP + ":8530"
	}
	if !wua.Valid {
		wua.String = wuaVersion(ctx, tx, h.ResourceID)
	}
	res.PreviousVersion, res.Time = int(prev.Int64), s.Now().Truncate(time.Second)
	res.State, res.ErrorCode, res.CatalogVersion = 3, 0, res.PreviousVersion
	if h.ScanFault != 0 {
		res.State, res.ErrorCode = 5, h.ScanFault
	} else if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(SyncCatalogVersion), 0) FROM lab_sup_sync
		WHERE WSUSSourceServer = 'Microsoft Update'`).Scan(&res.CatalogVersion); err != nil {
		return "", err
	}
	due := timeText(stateDue(h.ResourceID, s.Now()))
	if _, err := tx.ExecContext(ctx, `INSERT INTO lab_unsent_scan (ResourceID, UpdateSource_ID, LastScanState,
		LastScanTime, LastErrorCode, LastScanPackageLocation, LastScanPackageVersion, LastWUAVersion, Due)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
		ON CONFLICT (ResourceID, UpdateSource_ID) DO UPDATE SET LastScanState = ?3, LastScanTime = ?4,
		LastErrorCode = ?5, LastScanPackageVersion = ?7`,
		h.ResourceID, s.publishID, res.State, now, res.ErrorCode, loc.String, res.CatalogVersion, wua.String, due); err != nil {
		return "", err
	}
	if res.State == 3 {
		// Every update the scanned catalog carries is found; the rest stay unknown (0).
		if _, err := tx.ExecContext(ctx, `INSERT INTO lab_unsent_status (ResourceID, CI_ID, Status, Time, Due)
			SELECT s.ResourceID, s.CI_ID, `+foundStatus+`, ?1, ?4
			FROM lab_update_state s
			LEFT JOIN lab_unsent_status u ON u.ResourceID = s.ResourceID AND u.CI_ID = s.CI_ID
			WHERE s.ResourceID = ?2 AND COALESCE(u.Status, s.Status) <> `+foundStatus+`
			  AND s.CI_ID IN (SELECT CI_ID FROM lab_update WHERE MinSourceVersion <= ?3)
			ON CONFLICT (ResourceID, CI_ID) DO UPDATE SET Status = excluded.Status, Time = excluded.Time`,
			now, h.ResourceID, res.CatalogVersion, due); err != nil {
			return "", err
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(COALESCE(u.Status, s.Status) = 2), 0),
			COALESCE(SUM(COALESCE(u.Status, s.Status) = 3), 0)
		FROM lab_update_state s
		LEFT JOIN lab_unsent_status u ON u.ResourceID = s.ResourceID AND u.CI_ID = s.CI_ID
		WHERE s.ResourceID = ?`, h.ResourceID).Scan(&res.Required, &res.Installed); err != nil {
		return "", err
	}
	if res.State == 5 {
		return fmt.Sprintf("failed 0x%08X", uint32(res.ErrorCode)), nil
	}
	return fmt.Sprintf("catalog %d (was %d), %d required, %d installed",
		res.CatalogVersion, res.PreviousVersion, res.Required, res.Installed), nil
}

// foundStatus is what a scan finds of lab_update_state row s (topic 500): installed (3),
// required (2), or not required (1) for a chained update whose predecessor is not yet
// installed and restarted.
const foundStatus = `CASE WHEN s.Truth = 2 THEN 3
	WHEN s.AfterCI <> 0 AND COALESCE((SELECT a.Truth FROM lab_update_state a
		WHERE a.ResourceID = s.ResourceID AND a.CI_ID = s.AfterCI), 0) <> 2 THEN 1
	ELSE 2 END`

// wuaVersion is the Windows Update Agent version of a host's build.
func wuaVersion(ctx context.Context, tx *sql.Tx, rid int64) string {
	var build string
	if err := tx.QueryRowContext(ctx, `SELECT Build FROM lab_host WHERE ResourceID = ?`, rid).Scan(&build); err == nil {
		for _, b := range builds {
			if b.build == build {
				return b.wua
			}
		}
	}
	return builds[len(builds)-1].wua
}

// Evaluate runs a software update deployment evaluation (schedule 108). The lab records it
// and changes nothing else.
func (s *Sim) Evaluate(ctx context.Context, host string) error {
	return s.action(ctx, host, "evaluate", func(*sql.Tx, HostInfo, string) (string, error) { return "", nil })
}

// PolicyRetrieval runs a machine policy retrieval (schedule 021): LastPolicyRequest = now.
func (s *Sim) PolicyRetrieval(ctx context.Context, host string) error {
	return s.action(ctx, host, "policy", func(tx *sql.Tx, h HostInfo, now string) (string, error) {
		_, err := tx.ExecContext(ctx, `UPDATE lab_host SET LastPolicyRequest = ? WHERE ResourceID = ?`, now, h.ResourceID)
		return "", err
	})
}

// InstallResult is the answer of CCM_SoftwareUpdatesManager.InstallUpdates: the job is
// queued, nothing is installed yet.
type InstallResult struct {
	Queued     int       // updates handed to the job (new ones and ones already in it)
	ArticleIDs []string  // their ArticleIDs, in CI_ID order
	Ends       time.Time // when the job's last update ends, on the simulated clock
}

// Install queues an install job for the host's missing deployed updates: those its own
// last scan found required (sent to the site or not) and not installed. It returns at once,
// as InstallUpdates does; each update then downloads and installs on the simulated clock
// (see installDurations) and ends pending a restart (Truth 1, enforcement state 9, the host
// waits for a restart) or, with an install fault, in error (enforcement state 11 and the
// fault's code). Status stays what the last scan reported until the restart. A restart
// before an update's install has ended loses it: it is missing again.
func (s *Sim) Install(ctx context.Context, host string) (InstallResult, error) {
	var res InstallResult
	err := s.action(ctx, host, "install", func(tx *sql.Tx, h HostInfo, now string) (string, error) {
		if h.RebootPending {
			// Installs wait for the restart (enforcement state 5, "restart needed before
			// install"; 0x80240016 is WUA's "install not allowed while a reboot is pending or
			// an install is running", reference 6): InstallUpdates queues nothing.
			return "nothing queued: a restart is pending", nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT s.CI_ID, u.ArticleID, u.Title LIKE '%Cumulative Update%'
			FROM lab_update_state s
			JOIN lab_update u ON u.CI_ID = s.CI_ID
			LEFT JOIN lab_unsent_status us ON us.ResourceID = s.ResourceID AND us.CI_ID = s.CI_ID
			WHERE s.ResourceID = ?1 AND COALESCE(us.Status, s.Status) = 2 AND s.Truth = 0
			  AND u.IsDeployed = 1 AND u.CIType_ID = 1
			ORDER BY s.CI_ID`, h.ResourceID)
		if err != nil {
			return "", err
		}
		var cis []int64
		cumulative := map[int64]bool{}
		for rows.Next() {
			var ci int64
			var a sql.NullString
			var cu bool
			if err := rows.Scan(&ci, &a, &cu); err != nil {
				rows.Close()
				return "", err
			}
			cis = append(cis, ci)
			cumulative[ci] = cu
			res.ArticleIDs = append(res.ArticleIDs, a.String)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		res.Queued = len(cis)
		if res.Queued == 0 {
			return "nothing to install", nil
		}
		// A transient fault fails this attempt and is used up; a permanent one fails every.
		var transient, code int32
		var pace int
		if err := tx.QueryRowContext(ctx, `SELECT TransientFails, TransientCode, InstallPace FROM lab_host
			WHERE ResourceID = ?`, h.ResourceID).Scan(&transient, &code, &pace); err != nil {
			return "", err
		}
		fault := h.InstallFault
		if fault == 0 && transient > 0 {
			fault = code
			if _, err := tx.ExecContext(ctx, `UPDATE lab_host SET TransientFails = TransientFails - 1
				WHERE ResourceID = ?`, h.ResourceID); err != nil {
				return "", err
			}
		}
		if res.Ends, err = queueJob(ctx, tx, h.ResourceID, cis, cumulative, s.Now(), fault, pace); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d queued, job ends %s", res.Queued, timeText(res.Ends)), nil
	})
	if err != nil {
		return InstallResult{}, err
	}
	return res, nil
}

// RebootState is the answer of CCM_ClientUtilities.DetermineIfRebootPending.
type RebootState struct {
	Pending  bool      // RebootPending
	Hard     bool      // IsHardRebootPending: update installs always need a full restart in the lab
	Deadline time.Time // RebootDeadline: the earliest deadline of a deployment waiting for it; zero = none
}

// RebootPending reports whether the host waits for a restart. It changes nothing.
func (s *Sim) RebootPending(ctx context.Context, host string) (RebootState, error) {
	h, err := s.Host(ctx, host)
	if err != nil {
		return RebootState{}, fmt.Errorf("reboot-pending: %w", err)
	}
	switch {
	case !h.Online:
		return RebootState{}, fmt.Errorf("reboot-pending %s: %w", h.Name, ErrOffline)
	case !h.IsClient:
		return RebootState{}, fmt.Errorf("reboot-pending %s: %w", h.Name, ErrNoClient)
	}
	if !h.RebootPending {
		// An install job update that ended since the host was last touched counts too.
		var ended int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_install_job WHERE ResourceID = ?
			AND Settled = 0 AND ErrorCode = 0 AND DoneAt <= ?`, h.ResourceID, timeText(s.Now())).Scan(&ended); err != nil {
			return RebootState{}, fmt.Errorf("reboot-pending %s: %w", h.Name, err)
		}
		if ended == 0 {
			return RebootState{}, nil
		}
	}
	var deadline sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(a.EnforcementDeadline) FROM lab_update_state s
		JOIN lab_assignment_ci ac ON ac.CI_ID = s.CI_ID
		JOIN lab_assignment a ON a.AssignmentID = ac.AssignmentID
		WHERE s.ResourceID = ? AND s.Truth = 1 AND a.AssignmentEnabled = 1`, h.ResourceID).Scan(&deadline); err != nil {
		return RebootState{}, fmt.Errorf("reboot-pending %s: %w", h.Name, err)
	}
	st := RebootState{Pending: true, Hard: true}
	if deadline.Valid {
		t, err := time.Parse(timeLayout, deadline.String)
		if err != nil {
			return RebootState{}, fmt.Errorf("reboot-pending %s: bad deadline %q: %w", h.Name, deadline.String, err)
		}
		st.Deadline = t
	}
	return st, nil
}

// RestartResult is the outcome of a restart request.
type RestartResult struct {
	Restarted bool   // the host went down for a restart
	Reason    string // why not, when it did not
	Completed int    // updates the restart finished installing
	// Interrupted counts the install job's updates that had not ended: they are missing again.
	Interrupted int
	BackOnline  time.Time // when the host answers again
}

// Restart restarts the host through the ConfigMgr client. With onlyIfNobodyLoggedOn it is
// skipped (Restarted false, with the reason) while a user is logged on. A restart completes
// the installs that waited for it (Truth 2, Status 3, LastEnforcementMessageID 10), logs the
// user off and takes the host offline for the restart duration.
func (s *Sim) Restart(ctx context.Context, host string, onlyIfNobodyLoggedOn bool) (RestartResult, error) {
	var res RestartResult
	err := s.action(ctx, host, "restart", func(tx *sql.Tx, h HostInfo, now string) (string, error) {
		if onlyIfNobodyLoggedOn && h.CurrentUser != "" {
			res.Reason = "a user is logged on"
			return "skipped: a user is logged on", nil
		}
		// Updates whose install had not ended when the machine went down are lost.
		lost, err := loseJob(ctx, tx, h.ResourceID)
		if err != nil {
			return "", err
		}
		res.Interrupted = int(lost)
		// The restart completes what waited for it and reports it (below); an unsent scan
		// result for those updates from before the restart is out of date.
		if _, err := tx.ExecContext(ctx, `DELETE FROM lab_unsent_status WHERE ResourceID = ?1
			AND CI_ID IN (SELECT CI_ID FROM lab_update_state WHERE ResourceID = ?1 AND Truth = 1)`, h.ResourceID); err != nil {
			return "", err
		}
		r, err := tx.ExecContext(ctx, `UPDATE lab_update_state SET Truth = 2,
			Status = CASE WHEN Status = 0 THEN 0 ELSE 3 END, LastStatusChangeTime = ?1,
			EnforcementSource = 1, LastEnforcementMessageID = 10, LastErrorCode = 0
			WHERE ResourceID = ?2 AND Truth = 1`, now, h.ResourceID)
		if err != nil {
			return "", err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return "", err
		}
		back := s.Now().Truncate(time.Second).Add(s.restart)
		var noComeBack bool
		if err := tx.QueryRowContext(ctx, `SELECT NoComeBack FROM lab_host WHERE ResourceID = ?`, h.ResourceID).Scan(&noComeBack); err != nil {
			return "", err
		}
		until := timeText(back)
		if noComeBack {
			until = noComeBackUntil // it does not come back: no restart end, no wake
		}
		if _, err := tx.ExecContext(ctx, `UPDATE lab_host SET RebootPending = 0, CurrentUser = NULL,
			Power = 'off', OfflineUntil = ?1, LastOffline = ?2 WHERE ResourceID = ?3`,
			until, now, h.ResourceID); err != nil {
			return "", err
		}
		res.Restarted, res.Completed, res.BackOnline = true, int(n), back
		if noComeBack {
			res.BackOnline = time.Time{}
			return fmt.Sprintf("restarted, %d completed, did not come back", n), nil
		}
		if lost > 0 {
			return fmt.Sprintf("restarted, %d completed, %d interrupted installs lost, back at %s", n, lost, timeText(back)), nil
		}
		return fmt.Sprintf("restarted, %d completed, back at %s", n, timeText(back)), nil
	})
	if err != nil {
		return RestartResult{}, err
	}
	return res, nil
}

// Session is one logon session on a host.
type Session struct {
	User  string // DOMAIN\name
	Kind  string // "console"
	State string // "Active"
}

// LoggedOn lists the host's logon sessions: the console user, if any. It changes nothing.
func (s *Sim) LoggedOn(ctx context.Context, host string) ([]Session, error) {
	h, err := s.Host(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("logged-on: %w", err)
	}
	if !h.Online {
		return nil, fmt.Errorf("logged-on %s: %w", h.Name, ErrOffline)
	}
	if h.CurrentUser == "" {
		return []Session{}, nil
	}
	return []Session{{User: h.CurrentUser, Kind: "console", State: "Active"}}, nil
}

// WakeMAC delivers a magic packet for mac: every powered-off host with an enabled adapter
// (or, without hardware inventory, a discovered MAC) of that address and Wake-on-LAN
// enabled powers on. It reports whether some host woke. Hosts with WoL disabled never wake;
// a host in the middle of a restart ignores the packet.
func (s *Sim) WakeMAC(ctx context.Context, mac net.HardwareAddr) (bool, error) {
	if len(mac) != 6 {
		return false, fmt.Errorf("wake: %q is not a 6-byte MAC address", mac.String())
	}
	text := strings.ToUpper(mac.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("wake %s: %w", text, err)
	}
	defer tx.Rollback()
	now := timeText(s.Now())
	if err := backOnline(ctx, tx, now, 0); err != nil {
		return false, fmt.Errorf("wake %s: %w", text, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT ResourceID, Power, WolEnabled FROM lab_host WHERE ResourceID IN (
			SELECT ResourceID FROM lab_adapter WHERE MACAddress = ?1 AND IPEnabled = 1
			UNION SELECT m.ResourceID FROM lab_ra_mac m WHERE m.MAC_Addresses0 = ?1
			  AND NOT EXISTS (SELECT 1 FROM lab_adapter a WHERE a.ResourceID = m.ResourceID))
		ORDER BY ResourceID`, text)
	if err != nil {
		return false, fmt.Errorf("wake %s: %w", text, err)
	}
	type hit struct {
		rid    int64
		detail string
	}
	var hits []hit
	for rows.Next() {
		var rid int64
		var power string
		var wol bool
		if err := rows.Scan(&rid, &power, &wol); err != nil {
			rows.Close()
			return false, fmt.Errorf("wake %s: %w", text, err)
		}
		detail := "woke"
		switch {
		case power == "on":
			detail = "ignored: already on"
		case !wol:
			detail = "ignored: Wake-on-LAN disabled"
		}
		hits = append(hits, hit{rid, detail})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("wake %s: %w", text, err)
	}
	woke := false
	for _, h := range hits {
		if h.detail == "woke" {
			// A host still restarting (OfflineUntil in the future) stays down.
			r, err := tx.ExecContext(ctx, `UPDATE lab_host SET Power = 'on', LastOnline = ?1
				WHERE ResourceID = ?2 AND OfflineUntil IS NULL`, now, h.rid)
			if err != nil {
				return false, fmt.Errorf("wake %s: %w", text, err)
			}
			if n, _ := r.RowsAffected(); n == 0 {
				h.detail = "ignored: restarting"
			} else {
				woke = true
			}
		}
		if err := logEvent(ctx, tx, now, h.rid, "wake", h.detail+" by "+text); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("wake %s: %w", text, err)
	}
	return woke, nil
}
