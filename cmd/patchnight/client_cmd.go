package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/clock"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/session"
	"github.com/patchnight/patchnight/pkg/sitecoll"
)

// targetFlags choose the machines a client action goes to.
type targetFlags struct {
	hosts      []string
	hostsFile  string
	collection string
}

func (t *targetFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&t.hosts, "host", nil, "machines by name: a,b,c")
	f.StringVar(&t.hostsFile, "hosts-file", "", "file with one machine name per line (# starts a comment)")
	f.StringVar(&t.collection, "collection", "", "the members of this collection (ID or name), from the site database")
	cmd.MarkFlagsMutuallyExclusive("host", "hosts-file", "collection")
}

func (t *targetFlags) validate() error {
	if len(t.hosts) == 0 && t.hostsFile == "" && t.collection == "" {
		return exit.Usagef("pass --host a,b, --hosts-file FILE or --collection ID|NAME", "no target machines")
	}
	for _, h := range t.hosts {
		if err := remote.ValidHost(h); err != nil {
			return exit.Usagef("give machine names separated by commas", "--host %q: %v", h, err)
		}
	}
	return nil
}

// hostsFromFile reads and validates a hosts file; a bad line is an error naming its line.
func hostsFromFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, exit.Wrap(exit.Usage, err, "check the path", "hosts file %s", path)
	}
	defer f.Close()
	var hosts []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := remote.ValidHost(line); err != nil {
			return nil, exit.Usagef("one machine name per line", "%s:%d: %q: %v", path, n, line, err)
		}
		hosts = append(hosts, line)
	}
	if err := sc.Err(); err != nil {
		return nil, exit.Wrap(exit.Usage, err, "", "read hosts file %s", path)
	}
	if len(hosts) == 0 {
		return nil, exit.Usagef("put one machine name per line", "hosts file %s names no machine", path)
	}
	return hosts, nil
}

// resolveTargets returns a stream of machine names and their count. A collection's
// members stream from the site database as the workers need them.
func (a *App) resolveTargets(ctx context.Context, s *session.Session, t *targetFlags) (iter.Seq[string], int, error) {
	switch {
	case len(t.hosts) > 0:
		return slices.Values(t.hosts), len(t.hosts), nil
	case t.hostsFile != "":
		names, err := hostsFromFile(t.hostsFile)
		if err != nil {
			return nil, 0, err
		}
		return slices.Values(names), len(names), nil
	}
	db, err := s.Site(ctx)
	if err != nil {
		return nil, 0, err
	}
	coll, err := db.ResolveCollection(ctx, t.collection)
	if err != nil {
		return nil, 0, err
	}
	if coll.Members == 0 {
		return nil, 0, exit.Usagef("check the collection in the console, or refresh it", "collection %s (%s) has no members", coll.Name, coll.ID)
	}
	members := sitecoll.ClientNames(ctx, db, coll.ID, func(err error) {
		a.Logger().Error("reading collection members failed", "collection", coll.ID, "error", err)
	})
	return members, int(coll.Members), nil
}

// hostRow is one line of a client action's result.
type hostRow struct {
	Host     string `json:"host"`
	Outcome  string `json:"outcome"`
	Result   string `json:"result,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Error    string `json:"error,omitempty"`
	Attempts int    `json:"attempts"`
	Value    any    `json:"value,omitempty"`
}

// MarshalJSON writes the row with the value's keys in snake_case: the value is what the
// host's script returned, whose keys are the scripts' camelCase wire format.
func (h hostRow) MarshalJSON() ([]byte, error) {
	type plain hostRow
	if h.Value != nil {
		v, err := output.SnakeKeys(h.Value)
		if err != nil {
			return nil, err
		}
		h.Value = v
	}
	return json.Marshal(plain(h))
}

type actionResult struct {
	Action  string         `json:"action"`
	Summary remote.Summary `json:"summary"`
	Hosts   []hostRow      `json:"hosts"`
}

func (r *actionResult) Grids() []output.Grid {
	g := output.Grid{Title: fmt.Sprintf("client %s: %s", r.Action, r.Summary), Header: []string{"Host", "Outcome", "Result", "Attempts"}, Numeric: []bool{false, false, false, true}}
	for _, h := range r.Hosts {
		res := h.Result
		if h.Outcome != string(remote.OutcomeOK) {
			res = h.Reason + ": " + h.Error
		}
		g.Rows = append(g.Rows, []string{h.Host, h.Outcome, res, fmt.Sprint(h.Attempts)})
	}
	grids := []output.Grid{g}
	if len(r.Summary.ByReason) > 0 {
		s := output.Grid{Title: "Failed hosts by reason", Header: []string{"Reason", "Hosts"}, Numeric: []bool{false, true}}
		for k, v := range r.Summary.ByReason {
			s.Rows = append(s.Rows, []string{k, fmt.Sprint(v)})
		}
		sortRows(s.Rows)
		grids = append(grids, s)
	}
	return grids
}

// clientAction is one action's remote call on one host.
type clientAction func(ctx context.Context, r client.Runner) (any, error)

func newClientCmd(app *App, runF func(context.Context, *clientOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Act on ConfigMgr clients over WinRM: scan, evaluate, policy, install, restart, ...",
		Long: `Act on ConfigMgr clients over WinRM, many at a time (--concurrency, default from the
profile, 64): each action is one PowerShell script on each client, retried with backoff on
transient faults (unreachable, timeout, quota) and never on authentication or script errors.
Targets: --host a,b, --hosts-file FILE, or --collection ID|NAME (members from the site
database). Each prints a per-host table and a summary; exit code 2 when some hosts failed.
--via site sends the action to a whole collection through the site's client notification
(one call to the SMS Provider; policy, evaluate and restart).
restart and install ask first on a terminal ("restart 132 machines in LAB00011? [y/N]");
without a terminal they need --yes (else exit 64); --dry-run lists the machines.`,
	}
	type def struct {
		use, short string
		site       provider.ClientOperationType
		act        func(args []string, flags *clientOptions) (clientAction, error)
	}
	schedule := func(id string) func([]string, *clientOptions) (clientAction, error) {
		return func([]string, *clientOptions) (clientAction, error) {
			return func(ctx context.Context, r client.Runner) (any, error) { return client.TriggerSchedule(ctx, r, id) }, nil
		}
	}
	defs := []def{
		{"scan", "Start a software update scan (schedule 113, forced online), then send unsent state messages (111)", 0, schedule(client.ScheduleUpdateScan)},
		{"evaluate", "Start a software update deployment evaluation (schedule 108)", provider.OpUpdateEvaluation, schedule(client.ScheduleUpdateEval)},
		{"policy", "Start a machine policy retrieval (schedule 021)", provider.OpMachinePolicy, schedule(client.ScheduleMachinePolicy)},
		{"install", "Queue the install of the client's missing deployed updates (--wait: until they end)", 0, func(_ []string, x *clientOptions) (clientAction, error) {
			if x.Wait < 0 {
				return nil, exit.Usagef("give a duration such as 90m", "--wait %s is negative", x.Wait)
			}
			wait := x.Wait
			return func(ctx context.Context, r client.Runner) (any, error) {
				res, err := client.Install(ctx, r, nil)
				if err != nil || wait == 0 || res.Started == 0 {
					return res, err
				}
				// InstallUpdates only queued the job: follow it until its updates have
				// ended (installed, failed or pending a restart) or --wait has passed.
				return client.Wait(ctx, r, res.ArticleIDs, client.WaitOptions{Until: time.Now().Add(wait),
					Now: time.Now, Sleep: clock.Sleep})
			}, nil
		}},
		{"restart", "Restart through the ConfigMgr client", provider.OpRestart, func(_ []string, x *clientOptions) (clientAction, error) {
			only := x.OnlyIfNobody
			return func(ctx context.Context, r client.Runner) (any, error) { return client.Restart(ctx, r, only) }, nil
		}},
		{"reboot-pending", "Ask whether a restart is pending (and whether it is hard, and its deadline)", 0, func([]string, *clientOptions) (clientAction, error) {
			return func(ctx context.Context, r client.Runner) (any, error) { return client.RebootPending(ctx, r) }, nil
		}},
		{"logged-on", "List the live console and remote sessions", 0, func([]string, *clientOptions) (clientAction, error) {
			return func(ctx context.Context, r client.Runner) (any, error) { return client.LoggedOn(ctx, r) }, nil
		}},
		{"run-schedule ID", "Start any client schedule by ID (113, 108, 021, or the full {...} form)", 0, func(args []string, _ *clientOptions) (clientAction, error) {
			if len(args) != 1 {
				return nil, exit.Usagef("give one schedule ID, e.g. 113", "run-schedule needs a schedule ID")
			}
			id, err := client.ParseSchedule(args[0])
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, r client.Runner) (any, error) { return client.TriggerSchedule(ctx, r, id) }, nil
		}},
	}
	for _, d := range defs {
		d := d
		x := &clientOptions{Name: strings.Fields(d.use)[0], SiteOp: d.site}
		name := x.Name
		c := &cobra.Command{
			Use:   d.use,
			Short: d.short,
			Args:  cobra.ArbitraryArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				// Parse and validate only: no database, no connection before the run.
				if name != "run-schedule" && len(args) > 0 {
					return exit.Usagef("see --help", "unexpected argument %q", args[0])
				}
				act, err := d.act(args, x)
				if err != nil {
					return err
				}
				x.Act = act
				if err := x.Targets.validate(); err != nil {
					return err
				}
				switch x.Via {
				case "", "winrm":
					if x.Concurrency == 0 {
						cfg, err := app.Config()
						if err != nil {
							return err
						}
						x.Concurrency = cfg.Profile.WinRM.Concurrency
					}
					if x.Concurrency < 1 || x.Concurrency > 4096 {
						return exit.Usagef("use 1 to 4096", "--concurrency %d is out of range", x.Concurrency)
					}
				case "site":
					if d.site == 0 {
						return exit.Usagef("use --via winrm; the site's client notification has no "+name+" action (a forced scan needs WinRM)", "client %s cannot go --via site", name)
					}
					if x.Targets.collection == "" {
						return exit.Usagef("pass --collection ID|NAME", "--via site acts on a collection")
					}
				default:
					return exit.Usagef("use --via winrm or --via site", "--via %q is not a channel", x.Via)
				}
				if runF != nil {
					return runF(cmd.Context(), x)
				}
				if x.Via == "site" {
					return app.clientViaSite(cmd.Context(), x)
				}
				return app.runClientAction(cmd.Context(), x)
			},
		}
		x.Targets.add(c)
		c.Flags().IntVar(&x.Concurrency, "concurrency", 0, "hosts at once (default: the profile's winrm.concurrency, 64)")
		c.Flags().StringVar(&x.Via, "via", "winrm", "winrm (each client directly) or site (client notification to a collection)")
		if name == "restart" {
			c.Flags().BoolVar(&x.OnlyIfNobody, "only-if-nobody-logged-on", false, "leave machines alone when anyone is logged on (checked on the client)")
		}
		if name == "restart" || name == "install" {
			x.Confirm = true
			x.Consent.add(c, name+" without asking", "list the machines that would be "+map[string]string{"restart": "restarted", "install": "told to install"}[name]+" and change nothing")
		}
		if name == "install" {
			c.Flags().DurationVar(&x.Wait, "wait", 0, "follow the queued install job on each client up to this long (e.g. 90m) and report how its updates ended; 0 = return once queued")
		}
		cmd.AddCommand(c)
	}
	cmd.AddCommand(newClientOperationsCmd(app))
	return cmd
}

// clientOptions is what a patchnight client action was asked: its targets and flags, and
// the action built from them by the constructor.
type clientOptions struct {
	Name         string
	Targets      targetFlags
	Concurrency  int // resolved from the profile when not given (--via winrm)
	Via          string
	OnlyIfNobody bool                         // restart --only-if-nobody-logged-on
	Wait         time.Duration                // install --wait
	SiteOp       provider.ClientOperationType // the action through the site (0: none)
	Act          clientAction
	Confirm      bool         // restart and install ask first (confirm)
	Consent      consentFlags // --yes, --dry-run
}

// runClientAction fans the action out over the targets and prints the per-host results.
// install --wait extends each host's time limit.
func (a *App) runClientAction(ctx context.Context, o *clientOptions) error {
	cfg, err := a.Config()
	if err != nil {
		return err
	}
	name, concurrency, wait, act := o.Name, o.Concurrency, o.Wait, o.Act
	s, err := a.Session()
	if err != nil {
		return err
	}
	defer s.Close()
	names, total, err := a.resolveTargets(ctx, s, &o.Targets)
	if err != nil {
		return err
	}
	if o.Confirm {
		// The question counts the machines the action goes to (a collection's client
		// members, not all its members), so they are read before it is asked.
		list := slices.Collect(names)
		names, total = slices.Values(list), len(list)
		where := ""
		if o.Targets.collection != "" {
			where = "in " + o.Targets.collection
		}
		c, err := a.confirm(o.Consent, confirmRequest{Verb: name, Count: total, Noun: "machines", Where: where, List: names})
		if err != nil || c == consentStop {
			return err
		}
	}
	hc, err := s.Hosts(ctx)
	if err != nil {
		return err
	}
	// The rows name each machine as it is reached (with the DNS suffix).
	hosts := func(yield func(string) bool) {
		for n := range names {
			if !yield(hc.Name(n)) {
				return
			}
		}
	}
	res := &actionResult{Action: name, Hosts: []hostRow{}}
	opts := remote.FanOutOptions{
		Concurrency: concurrency, Retries: hc.Retries(name == "restart"), Progress: a.IO.Err,
		IsTerminal: a.IO.StderrTerminal, Total: total, Label: name,
		PerHostTimeout: cfg.Profile.WinRM.OperationTimeout.Std(),
	}
	if wait > 0 {
		opts.PerHostTimeout += wait
		opts.Retries = 0 // the job is queued once; a retry would only wait again
	}
	res.Summary = remote.FanOut(ctx, hosts, opts, func(ctx context.Context, host string) (any, error) {
		c, release, err := hc.Client(host)
		if err != nil {
			return nil, err
		}
		defer release()
		return act(ctx, c)
	}, func(r remote.HostResult[any]) {
		row := hostRow{Host: r.Host, Outcome: string(r.Outcome), Reason: r.Reason, Attempts: r.Attempts}
		if r.Err != nil {
			row.Error = oneLine(r.Err.Error())
		} else {
			row.Result, row.Value = client.Describe(r.Value), r.Value
		}
		res.Hosts = append(res.Hosts, row)
	})
	sortHostRows(res.Hosts)
	if err := a.Print(res); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if code := res.Summary.ExitCode(); code != exit.OK {
		return exit.New(code, "the table says which hosts and why", "client %s: %d of %d hosts failed", name, res.Summary.Failed, res.Summary.Total)
	}
	return nil
}

// clientViaSite sends one client notification to a collection through the SMS Provider.
// A restart asks first (confirm); --dry-run lists the collection's client members.
func (a *App) clientViaSite(ctx context.Context, o *clientOptions) error {
	name, typ := o.Name, o.SiteOp
	if f := a.Format(); f != output.Table && f != output.JSON {
		return exit.Usagef("use -o table or -o json", "client %s --via site cannot write %s", name, f)
	}
	s, db, err := openSite(ctx, a.Session)
	if err != nil {
		return err
	}
	defer s.Close()
	coll, err := db.ResolveCollection(ctx, o.Targets.collection)
	if err != nil {
		return err
	}
	if o.Confirm {
		members := slices.Collect(sitecoll.ClientNames(ctx, db, coll.ID, func(err error) {
			a.Logger().Error("reading collection members failed", "collection", coll.ID, "error", err)
		}))
		c, err := a.confirm(o.Consent, confirmRequest{Verb: name, Count: len(members), Noun: "machines",
			Where: "in " + coll.ID + " through the site", List: slices.Values(members)})
		if err != nil || c == consentStop {
			return err
		}
	}
	p, err := s.Provider(ctx)
	if err != nil {
		return err
	}
	id, err := p.InitiateClientOperation(ctx, coll.ID, typ, nil)
	if err != nil {
		return err
	}
	return a.printText(siteOperation{Action: name, CollectionID: coll.ID, Collection: coll.Name, Members: coll.Members, OperationID: id},
		fmt.Sprintf("client %s sent to %s (%s, %d members) through the site: operation %d; follow it with: patchnight client operations %d",
			name, coll.Name, coll.ID, coll.Members, id, id))
}

// siteOperation is a client notification started through the SMS Provider (-o json).
type siteOperation struct {
	Action       string `json:"action"`
	CollectionID string `json:"collection_id"`
	Collection   string `json:"collection"`
	Members      int64  `json:"members"`
	OperationID  uint32 `json:"operation_id"`
}

func newClientOperationsCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "operations ID",
		Short: "Show the status of a client notification operation started with --via site",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id uint32
			if _, err := fmt.Sscan(args[0], &id); err != nil || id == 0 {
				return exit.Usagef("give the operation ID that --via site printed", "%q is not an operation ID", args[0])
			}
			s, err := app.Session()
			if err != nil {
				return err
			}
			defer s.Close()
			p, err := s.Provider(cmd.Context())
			if err != nil {
				return err
			}
			st, err := p.ClientOperationStatus(cmd.Context(), id)
			if err != nil {
				return err
			}
			if !st.Found {
				return exit.Usagef("operations expire; check the ID", "client operation %d is not known to the provider", id)
			}
			return app.Print(opView{st})
		},
	}
}

type opView struct{ *provider.OperationStatus }

// MarshalJSON writes the status with snake_case keys (the provider script's are camelCase).
func (v opView) MarshalJSON() ([]byte, error) {
	s, err := output.SnakeKeys(v.OperationStatus)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

func (v opView) Grids() []output.Grid {
	s := v.OperationStatus
	last := "-"
	if s.LastUpdated != nil {
		last = s.LastUpdated.UTC().Format(time.RFC3339)
	}
	return []output.Grid{{
		Title:   fmt.Sprintf("Client operation %d (type %d)", s.OperationID, s.Type),
		Header:  []string{"Total", "Completed", "Failed", "Offline", "Unknown", "Expired", "Last updated (UTC)"},
		Numeric: []bool{true, true, true, true, true},
		Rows:    [][]string{{fmt.Sprint(s.Total), fmt.Sprint(s.Completed), fmt.Sprint(s.Failed), fmt.Sprint(s.Offline), fmt.Sprint(s.Unknown), fmt.Sprint(s.IsExpired), last}},
	}}
}
