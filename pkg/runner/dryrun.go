package runner

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/sitecoll"
	"github.com/patchnight/patchnight/pkg/wol"
)

// A dry run reads the site exactly as the night would, through the same functions (target
// selection, the wake planner, the collection planner, the deployment check), and acts on
// nothing: no client action, no provider call, no magic packet, no journal row, no lock.
// It needs only Env.Site (Env.Journal may be nil), and the fields that shape the reads.

// Estimates are the per-host times a dry run assumes for one client action over WinRM,
// and the time an install job runs on a machine. They are assumptions, not measurements
// (README, "Rehearsing a night"): one action is one PowerShell run on the client, which
// is at least five WS-Man exchanges (create shell, command, receive, signal, delete;
// go-libraries.md section 2) plus starting powershell.exe and a WMI call; NTLM adds a
// handshake per message. Install queues a job (CCM_SoftwareUpdatesManager.InstallUpdates
// returns when it is queued, reference section 12) after reading the updates, so it is
// counted as two calls. An install job takes from minutes to more than an hour on Patch
// Tuesday (reference section 12); the dry run counts an hour.
type Estimates struct {
	Call       time.Duration // one client action (trigger a scan, ask for a restart, look at a job)
	Install    time.Duration // read the updates and queue the install job
	InstallJob time.Duration // a queued job running on the machine until it ends
	Collection time.Duration // one collection written through the SMS Provider
}

// DefaultEstimates are the assumptions the dry run uses unless told otherwise.
func DefaultEstimates() Estimates {
	return Estimates{Call: 5 * time.Second, Install: 10 * time.Second, InstallJob: time.Hour, Collection: 10 * time.Second}
}

// DryRunOptions tune a dry run.
type DryRunOptions struct {
	// Only lists the occurrences to rehearse, by occurrence ID or step ID (every occurrence
	// of a repeating step); empty = the whole night.
	Only []string
	// Provider says whether the night would have an SMS Provider (Env.Provider set): the
	// dry run never connects to it, so it is told.
	Provider bool
	// Notices says whether the night would send notices (Env.Notifier set).
	Notices bool
	// Estimates; zero = DefaultEstimates.
	Estimates Estimates
}

// DryRun is what a night (or some of its steps) would do, read from the site now.
type DryRun struct {
	DryRun       bool      `json:"dry_run"` // always true: nothing was done
	Plan         string    `json:"plan"`
	Month        string    `json:"month"`
	PatchTuesday string    `json:"patch_tuesday"`
	TimeZone     string    `json:"time_zone"`
	Group        string    `json:"update_group"`
	GroupID      int64     `json:"update_group_id"`
	Scope        string    `json:"scope"` // CollectionID of the night's scope; "" = every client
	ScopeName    string    `json:"scope_name,omitempty"`
	Concurrency  int       `json:"concurrency"`
	HostTimeout  int64     `json:"host_timeout_seconds"` // per host and attempt (winrm.operation_timeout)
	TargetsAsOf  time.Time `json:"targets_as_of"`        // when the site was read
	// Note says what the targets of later steps mean: they are selected from the site as
	// it is now; the night changes it before they run.
	Note string `json:"note"`
	// Exclusions are the collections (plan's and profile's) whose members no step touches.
	Exclusions []site.CollectionRef `json:"exclusions"`
	Estimates  EstimateSeconds      `json:"estimates"`
	Steps      []DryStep            `json:"steps"`
}

// EstimateSeconds are Estimates in seconds, for the JSON document.
type EstimateSeconds struct {
	Call       int64 `json:"call_seconds"`
	Install    int64 `json:"install_seconds"`
	InstallJob int64 `json:"install_job_seconds"`
	Collection int64 `json:"collection_seconds"`
}

// DryStep is one occurrence of the dry run.
type DryStep struct {
	Occurrence string    `json:"occurrence"`
	Step       string    `json:"step"`
	Action     string    `json:"action"`
	At         time.Time `json:"at"`
	Selector   string    `json:"target,omitempty"`     // the step's selector
	Collection string    `json:"collection,omitempty"` // CollectionID the targets are taken from ("" = every client)
	OnHosts    bool      `json:"on_hosts"`             // the action acts on machines
	Targets    int       `json:"targets"`              // machines it would act on (after exclusions)
	// Excluded counts the machines the plan's and profile's exclusions leave out of the step.
	Excluded     int         `json:"excluded"`
	Online       int         `json:"online"`    // of the targets, online now (fast channel)
	LoggedOn     int         `json:"logged_on"` // of the targets, a user logged on now (where the site knows)
	ByLocation   []DryCount  `json:"by_location"`
	ByCollection []DryCount  `json:"by_collection"`
	Hosts        []DryHost   `json:"hosts"`
	Restarts     *DryRestart `json:"restarts,omitempty"`
	Collections  []DryColl   `json:"collections,omitempty"` // refresh-collections: what it would write
	Wake         *DryWake    `json:"wake,omitempty"`
	Time         DryTime     `json:"time"`
	// Note is what the step would report or why it would do nothing (check-deployments'
	// verdict, a missing provider, notices not configured).
	Note    string `json:"note,omitempty"`
	Problem string `json:"problem,omitempty"` // the step would fail: why
}

// DryCount is a number of target machines under a name (a location, a collection).
type DryCount struct {
	Name     string `json:"name"`
	ID       string `json:"id,omitempty"`
	Machines int    `json:"machines"`
}

// DryHost is one target machine.
type DryHost struct {
	ResourceID int64  `json:"resource_id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Online     bool   `json:"online"`
	LoggedOn   bool   `json:"logged_on"`
}

// DryRestart is what a restarting step could do to people. The site knows who is logged
// on only for machines online on the fast channel (CurrentLogonUser is NULL when offline,
// reference section 6).
type DryRestart struct {
	Machines int  `json:"machines"`  // machines the step may restart
	LoggedOn int  `json:"logged_on"` // of them, with a user logged on now
	Unknown  int  `json:"unknown"`   // of them, offline: the site does not know
	Deferred bool `json:"deferred"`  // only_if_nobody_logged_on: a logged-on machine is skipped, not restarted
	// Prompted is set for install with restart_prompt: users are asked to restart, nobody
	// is restarted by the step.
	Prompted bool   `json:"prompted"`
	Note     string `json:"note"`
}

// DryColl is one collection refresh-collections would write.
type DryColl struct {
	Action       string `json:"action"` // create, update, members, delete
	Name         string `json:"name"`
	CollectionID string `json:"collection_id,omitempty"`
	Family       string `json:"family"`
	Membership   string `json:"membership"` // query or direct
	Rules        int    `json:"rules"`      // membership rules it will have
	Members      int64  `json:"members"`    // members it will have (SQL twin); -1 unknown
}

// DryWake is a wake step's plan per subnet (the wol planner's dry run).
type DryWake struct {
	Mode    string        `json:"mode"`
	Packets int           `json:"packets"`         // from this machine
	Relayed int           `json:"relayed_packets"` // asked of relays
	Subnets []wol.Summary `json:"subnets"`
	Send    int64         `json:"send_seconds"` // sending at the plan's pacing
}

// DryTime is the time a step needs at the configured concurrency against its limit and
// the time until the next step.
type DryTime struct {
	Waves int `json:"waves"` // ceil(targets / concurrency)
	// Act is the action's fan-out: waves x the per-host estimate of each of its calls.
	Act int64 `json:"act_seconds"`
	// Wait is what the step waits for after acting, at most: the barrier's timeout, the
	// install jobs, the provider's evaluation, the wake's pacing.
	Wait   int64  `json:"wait_seconds"`
	Needs  int64  `json:"needs_seconds"`  // Act + Wait
	Worst  int64  `json:"worst_seconds"`  // every host taking the full per-host timeout, + Wait
	Limit  int64  `json:"limit_seconds"`  // the step's time limit
	Window int64  `json:"window_seconds"` // until the next occurrence starts; 0 = none follows
	Next   string `json:"next,omitempty"` // the next occurrence
	Fits   bool   `json:"fits"`           // Needs is within the limit and the window
	// Warning says what does not fit (Needs), or that the worst case would not (Worst).
	Warning string `json:"warning,omitempty"`
	Basis   string `json:"basis"` // how Act and Wait were counted
}

// LaterStepsNote is the dry run's answer to "steps later in the night depend on earlier
// ones": every step's targets are selected from the site as it is now.
const LaterStepsNote = "every step's targets are selected from the site as it is now: the night changes them " +
	"before later steps run (the wake brings machines online, installs fix machines, who is logged on " +
	"changes with the hour), so later steps' counts are what they would be if they ran now"

// DryRun rehearses the month's night, or the occurrences opts.Only names (of the night or
// of its follow-up), from the site as it is now. It writes nothing anywhere. The whole
// night's rehearsal leaves the follow-up out, as Night does: it runs after the night, from
// its own scheduled tasks.
func (r *Runner) DryRun(ctx context.Context, opts DryRunOptions) (*DryRun, error) {
	est := opts.Estimates
	if est == (Estimates{}) {
		est = DefaultEstimates()
	}
	now := r.Env.Clock.Now()
	d := &DryRun{DryRun: true, Plan: r.Plan.Name, Month: r.Month.String(), PatchTuesday: r.spec.PatchTuesday,
		TimeZone: r.Loc.String(), Group: r.group.Title, GroupID: r.group.CIID, Scope: r.scopeID,
		Concurrency: r.Env.Concurrency, HostTimeout: int64(r.Env.HostTimeout / time.Second), TargetsAsOf: now.UTC(),
		Note: LaterStepsNote, Steps: []DryStep{}, Exclusions: append([]site.CollectionRef{}, r.Exclusions()...),
		Estimates: EstimateSeconds{Call: secs(est.Call), Install: secs(est.Install), InstallJob: secs(est.InstallJob),
			Collection: secs(est.Collection)}}
	if r.scope != nil {
		d.ScopeName = r.scope.Name
	}
	tl := r.timeline
	if len(opts.Only) > 0 {
		// A named step may be one of the follow-up's (issue 17), which runs after the night.
		tl = r.NightAndFollowUp()
	}
	var occs []int
	for i, o := range tl {
		if len(opts.Only) == 0 || slices.Contains(opts.Only, o.ID) || slices.Contains(opts.Only, o.StepID) {
			occs = append(occs, i)
		}
	}
	if len(occs) == 0 {
		return nil, fmt.Errorf("no step of plan %s is named %s", r.Plan.Name, strings.Join(opts.Only, ", "))
	}
	ctxDry, err := r.dryContext(ctx)
	if err != nil {
		return nil, err
	}
	for _, i := range occs {
		occ := tl[i]
		s, err := r.dryStep(ctx, ctxDry, occ, opts, est)
		if err != nil {
			return nil, fmt.Errorf("dry run of %s: %w", occ.ID, err)
		}
		if i+1 < len(tl) {
			next := tl[i+1]
			s.Time.Next, s.Time.Window = next.ID, secs(next.Time.Sub(occ.Time))
		}
		s.Time.fit()
		d.Steps = append(d.Steps, s)
	}
	return d, nil
}

// dryContext is what every step's counts need once: each machine's location and the
// members of the collections targets are counted in.
type dryContext struct {
	location    map[int64]string
	collections []dryCollection
}

type dryCollection struct {
	ref     site.CollectionRef
	members map[int64]bool
}

// dryContext reads the locations (night_host_state, the query the night's barriers and
// report read) and the members of the night's scope and of the collections the group is
// deployed to.
func (r *Runner) dryContext(ctx context.Context) (*dryContext, error) {
	c := &dryContext{location: map[int64]string{}}
	err := r.eachState(ctx, func(h hostState) error {
		c.location[h.ResourceID] = h.Location
		return nil
	})
	if err != nil {
		return nil, err
	}
	ids := []string{}
	if r.scopeID != "" {
		ids = append(ids, r.scopeID)
	}
	deps, err := deployments(ctx, r.Env.Site, r.group.CIID)
	if err != nil {
		return nil, err
	}
	for _, dep := range deps {
		if !slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, dep.CollectionID) }) {
			ids = append(ids, dep.CollectionID)
		}
	}
	for _, id := range ids {
		dc, err := r.collectionMembers(ctx, id)
		if err != nil {
			return nil, err
		}
		c.collections = append(c.collections, dc)
	}
	return c, nil
}

// collectionMembers reads one collection's members (queries/collection_members.sql).
func (r *Runner) collectionMembers(ctx context.Context, id string) (dryCollection, error) {
	ref, err := r.Env.Site.ResolveCollection(ctx, id)
	if err != nil {
		return dryCollection{}, err
	}
	dc := dryCollection{ref: *ref, members: map[int64]bool{}}
	err = r.Env.Site.Each(ctx, "collection_members", site.Params{"collection": ref.ID}, func(rows *sql.Rows) error {
		m, err := sitecoll.ScanMember(rows)
		if err != nil {
			return err
		}
		dc.members[m.ResourceID] = true
		return nil
	})
	return dc, err
}

// dryStep rehearses one occurrence through the functions the real step calls.
func (r *Runner) dryStep(ctx context.Context, dc *dryContext, occ night.Occurrence, opts DryRunOptions, est Estimates) (DryStep, error) {
	s := occ.Step
	out := DryStep{Occurrence: occ.ID, Step: occ.StepID, Action: string(s.Action), At: occ.Time,
		Selector: string(s.Target), OnHosts: s.Action.OnHosts(), ByLocation: []DryCount{}, ByCollection: []DryCount{},
		Hosts: []DryHost{}}
	limit := s.Limit
	if limit <= 0 {
		limit = s.Action.DefaultLimit()
	}
	out.Time.Limit = secs(limit)
	if out.OnHosts && s.Action != night.Wake {
		coll := r.scopeID
		if s.Collection != "" {
			id, err := resolveCollection(ctx, r.Env.Site, s.Collection)
			if err != nil {
				return out, err
			}
			coll = id
			if !slices.ContainsFunc(dc.collections, func(c dryCollection) bool { return strings.EqualFold(c.ref.ID, id) }) {
				m, err := r.collectionMembers(ctx, id)
				if err != nil {
					return out, err
				}
				dc.collections = append(dc.collections, m)
			}
		}
		out.Collection = coll
		targets, excluded, err := r.targetsCounted(ctx, string(s.Target), s.Collection)
		if err != nil {
			return out, err
		}
		if targets, err = r.withScanBehind(ctx, occ, targets); err != nil { // as hostAction does
			return out, err
		}
		targets = followUpOnline(occ, targets)
		out.Excluded = excluded
		out.count(dc, targets)
	}
	switch s.Action {
	case night.CheckDeployments:
		note, status, err := r.checkDeployments(ctx, occ)
		if err != nil {
			return out, err
		}
		out.Note = "would report: " + note
		if status == journal.Failed {
			out.Problem = note
		}
		out.Time.Basis = "reads the site database only"
	case night.RefreshCollections:
		if err := r.dryCollections(ctx, &out, opts, est); err != nil {
			return out, err
		}
	case night.Wake:
		if err := r.dryWake(ctx, dc, occ, &out); err != nil {
			return out, err
		}
	case night.Scan:
		out.Time.act(out.Targets, r.Env.Concurrency, r.Env.HostTimeout, est.Call)
		out.Time.Basis = fmt.Sprintf("%d waves x %s to trigger the scan (schedule 113)", out.Time.Waves, short(est.Call))
	case night.Install:
		out.Time.act(out.Targets, r.Env.Concurrency, r.Env.HostTimeout, est.Install)
		out.Time.Basis = fmt.Sprintf("%d waves x %s to queue the install; the step does not wait for the jobs", out.Time.Waves, short(est.Install))
		if s.RestartPrompt {
			out.Restarts = out.restarts(s, "nobody is restarted: the users are asked to restart")
			out.Restarts.Prompted = true
		}
	case night.Restart:
		out.Time.act(out.Targets, r.Env.Concurrency, r.Env.HostTimeout, est.Call)
		out.Time.Basis = fmt.Sprintf("%d waves x %s to ask for the restart", out.Time.Waves, short(est.Call))
		out.Restarts = out.restarts(s, "every target is restarted, also one with nothing pending")
	case night.InstallAndRestart:
		// Queue, then look at each job about three times (installBackoff: 15, 22.5, 30
		// minutes), then ask for the restart.
		out.Time.act(out.Targets, r.Env.Concurrency, r.Env.HostTimeout, est.Install, est.Call, est.Call, est.Call, est.Call)
		out.Time.Wait = secs(min(est.InstallJob, limit))
		out.Time.Basis = fmt.Sprintf("%d waves x (%s to queue the install, 3 x %s looking at the job, %s to ask for the restart), "+
			"then the jobs: %s each, in parallel on the machines, at most the step's limit", out.Time.Waves, short(est.Install), short(est.Call),
			short(est.Call), short(est.InstallJob))
		out.Restarts = out.restarts(s, "a machine is restarted once its install ends pending a restart")
	case night.NotifyScan, night.NotifyMissing:
		if !opts.Notices {
			out.Note = "notices are not configured: the step would do nothing"
			out.Time.Basis = "does nothing"
			break
		}
		out.Time.act(out.Targets, r.Env.Concurrency, r.Env.HostTimeout, est.Call, est.Call)
		out.Time.Basis = fmt.Sprintf("%d waves x (%s for the notice, %s for the scan) at most", out.Time.Waves, short(est.Call), short(est.Call))
		out.Note = "the notice policy (working hours, online now, notices already sent) narrows these when the step runs; " +
			"see notify watch-unscanned --dry-run and notify missing --dry-run"
	case night.Report:
		out.Note = "would write the morning report to the state folder"
		if r.Env.StateDir != "" {
			out.Note = "would write the morning report to " + r.Env.StateDir
		}
		out.Time.Basis = "reads the site database and the journal"
	}
	if s.Barrier != nil && out.OnHosts && out.Targets > 0 {
		out.Time.Wait += secs(s.Barrier.Timeout)
		out.Time.Basis = joinNote(out.Time.Basis, fmt.Sprintf("then the barrier (%d%% %s) for at most %s", s.Barrier.Percent,
			s.Barrier.Condition, short(s.Barrier.Timeout)))
	}
	return out, nil
}

// count fills the target counts of a host step.
func (s *DryStep) count(dc *dryContext, targets []target) {
	loc := map[string]int{}
	s.Targets = len(targets)
	for _, t := range targets {
		l := dc.location[t.ResourceID]
		if l == "" {
			l = "(unknown)"
		}
		loc[l]++
		if t.Online {
			s.Online++
		}
		if t.User != "" {
			s.LoggedOn++
		}
		s.Hosts = append(s.Hosts, DryHost{ResourceID: t.ResourceID, Name: t.Name, Location: dc.location[t.ResourceID],
			Online: t.Online, LoggedOn: t.User != ""})
	}
	for name, n := range loc {
		s.ByLocation = append(s.ByLocation, DryCount{Name: name, Machines: n})
	}
	slices.SortFunc(s.ByLocation, func(a, b DryCount) int {
		return cmp.Or(cmp.Compare(b.Machines, a.Machines), cmp.Compare(a.Name, b.Name))
	})
	for _, c := range dc.collections {
		n := 0
		for _, t := range targets {
			if c.members[t.ResourceID] {
				n++
			}
		}
		s.ByCollection = append(s.ByCollection, DryCount{Name: c.ref.Name, ID: c.ref.ID, Machines: n})
	}
}

// restarts counts who a restarting step could restart.
func (s *DryStep) restarts(st night.Step, note string) *DryRestart {
	r := &DryRestart{Machines: s.Targets, LoggedOn: s.LoggedOn, Unknown: s.Targets - s.Online,
		Deferred: st.OnlyIfNobodyLoggedOn, Note: note}
	if st.OnlyIfNobodyLoggedOn {
		r.Note = joinNote(r.Note, "a machine with a user logged on when it is reached is skipped (deferred)")
	}
	return r
}

// dryCollections shows what refresh-collections would write: the collection planner's
// plan (sitecoll.Build, as the step builds it), without Apply.
func (r *Runner) dryCollections(ctx context.Context, out *DryStep, opts DryRunOptions, est Estimates) error {
	if !opts.Provider {
		out.Note = "no SMS Provider configured: collections left as they are"
		out.Time.Basis = "writes nothing"
		return nil
	}
	plan, err := r.collectionsPlan(ctx)
	if err != nil {
		return err
	}
	desired := map[string]*sitecoll.Desired{}
	for _, d := range plan.Desired {
		desired[d.Family+"\x00"+d.Key] = d
	}
	for _, c := range plan.Changes {
		if !c.Writes() {
			continue
		}
		dc := DryColl{Action: string(c.Action), Name: c.Name, CollectionID: c.CollectionID, Family: c.Family, Members: c.Members}
		if d := desired[c.Family+"\x00"+c.Key]; d != nil {
			dc.Membership = string(d.Membership)
			switch d.Membership {
			case collections.Query:
				dc.Rules = 1
			case collections.Direct:
				dc.Rules = len(d.Members)
			}
		}
		out.Collections = append(out.Collections, dc)
	}
	out.Note = fmt.Sprintf("%d collections wanted, %d to write", len(plan.Desired), len(out.Collections))
	if len(out.Collections) == 0 {
		out.Note = fmt.Sprintf("%d collections already as wanted", len(plan.Desired))
		out.Time.Basis = "writes nothing"
		return nil
	}
	out.Time.Act = int64(len(out.Collections)) * secs(est.Collection)
	out.Time.Wait = secs(10 * time.Minute)
	out.Time.Basis = fmt.Sprintf("%d collections x %s through the SMS Provider, then at most 10m for the site to evaluate them",
		len(out.Collections), short(est.Collection))
	return nil
}

// dryWake shows a wake step's plan: the wol planner's plan, as the step builds it,
// without Send.
func (r *Runner) dryWake(ctx context.Context, dc *dryContext, occ night.Occurrence, out *DryStep) error {
	plan, excluded, err := r.wakePlan(ctx, occ)
	if err != nil {
		return err
	}
	out.Excluded = excluded
	out.Collection = plan.Collection
	var targets []target
	seen := map[int64]bool{}
	add := func(id int64, name string, online bool) {
		if !seen[id] {
			seen[id] = true
			targets = append(targets, target{ResourceID: id, Name: name, Online: online})
		}
	}
	for _, g := range plan.Subnets {
		for _, w := range g.Wakes {
			add(w.ResourceID, w.Name, false)
		}
	}
	for _, h := range plan.Skipped {
		add(h.ResourceID, h.Name, false)
	}
	for _, h := range plan.Awake {
		add(h.ResourceID, h.Name, true)
	}
	slices.SortFunc(targets, func(a, b target) int { return cmp.Compare(strings.ToUpper(a.Name), strings.ToUpper(b.Name)) })
	out.count(dc, targets)
	local, relayed := plan.Packets()
	send := plan.Estimate()
	out.Wake = &DryWake{Mode: string(plan.Mode), Packets: local, Relayed: relayed, Subnets: plan.Summaries(), Send: secs(send)}
	out.Time.Act = secs(send)
	out.Time.Worst = out.Time.Act
	out.Time.Basis = fmt.Sprintf("sending %d packets at the plan's pacing", local+relayed)
	return nil
}

// act counts a host action's fan-out: waves of Concurrency hosts, each host making the
// calls one after the other.
func (t *DryTime) act(hosts, concurrency int, hostTimeout time.Duration, calls ...time.Duration) {
	if concurrency <= 0 {
		concurrency = 1
	}
	t.Waves = (hosts + concurrency - 1) / concurrency
	var per time.Duration
	for _, c := range calls {
		per += c
	}
	t.Act = int64(t.Waves) * secs(per)
	if hostTimeout > 0 {
		t.Worst = int64(t.Waves) * int64(len(calls)) * secs(hostTimeout)
	} else {
		t.Worst = t.Act
	}
}

// fit totals the step's time and compares it with its limit and the window before the
// next occurrence.
func (t *DryTime) fit() {
	t.Needs = t.Act + t.Wait
	t.Worst = max(t.Worst+t.Wait, t.Needs)
	room := t.Limit
	if t.Window > 0 && (room <= 0 || t.Window < room) {
		room = t.Window
	}
	t.Fits = room <= 0 || t.Needs <= room
	switch {
	case t.Limit > 0 && t.Needs > t.Limit:
		t.Warning = fmt.Sprintf("will not fit: needs %s, its limit is %s", dur(t.Needs), dur(t.Limit))
	case t.Window > 0 && t.Needs > t.Window:
		t.Warning = fmt.Sprintf("will not fit: needs %s, %s starts %s later", dur(t.Needs), t.Next, dur(t.Window))
	case room > 0 && t.Worst > room:
		t.Warning = fmt.Sprintf("fits, but not if every host takes its full timeout (%s)", dur(t.Worst))
	}
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

// short prints a duration as dur does.
func short(d time.Duration) string { return dur(secs(d)) }

// dur prints seconds as a short duration (1h5m, 45m, 30s).
func dur(s int64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Hour && d%time.Minute == 0:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// NightAndFollowUp is the month's night followed by its follow-up's occurrences (none when
// the plan has no follow-up), in time order: every occurrence run STEP knows.
func (r *Runner) NightAndFollowUp() []night.Occurrence {
	return append(slices.Clone(r.timeline), night.FollowUpTimeline(r.Plan, r.Month, r.Loc)...)
}
