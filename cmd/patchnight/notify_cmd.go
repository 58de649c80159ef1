package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/output"
)

func newNotifyCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Notices to users: the scan-behind watcher, the Thursday notice, escalations",
		Long: `Notices to the users of the machines the restart method works on. A notice reaches the
users logged on to a machine by msg.exe or as a small window started in their session
(notify.method); the texts are templates in the profile's notify section. Policy: no second
notice to a machine within notify.min_interval, none in notify.quiet_hours (site time zone),
and a machine whose users were told notify.threshold times about an update it still misses
is escalated instead of told again: recorded, added to the needs-attention collection, and
listed by notify escalations and the morning report. Every notice is recorded in the journal
per machine, user and update.`,
	}
	cmd.AddCommand(newNotifyWatchCmd(app, nil), newNotifyMissingCmd(app, nil), newNotifyEscalationsCmd(app))
	return cmd
}

// notifyEnv opens what the notice flows need. remoteToo connects the WinRM connector and
// the SMS Provider (when configured); without it, Connect refuses (dry runs).
func (a *App) notifyEnv(ctx context.Context, remoteToo bool, threshold int) (notify.Env, func(), error) {
	var env notify.Env
	cfg, err := a.Config()
	if err != nil {
		return env, nil, err
	}
	loc, err := night.LoadLocation(cfg.Profile.TimeZone)
	if err != nil {
		return env, nil, exit.Wrap(exit.Usage, err, "set time_zone to an IANA zone such as Europe/London", "time zone of the quiet hours")
	}
	settings, err := notify.NewSettings(cfg.Profile.Notify, loc)
	if err != nil {
		return env, nil, err
	}
	if threshold != 0 {
		if settings, err = settings.WithThreshold(threshold); err != nil {
			return env, nil, err
		}
	}
	s, err := a.Session()
	if err != nil {
		return env, nil, err
	}
	if env, err = s.NotifyEnv(ctx, settings, remoteToo); err != nil {
		s.Close()
		return env, nil, err
	}
	if !remoteToo {
		env.Connect = func(string) (client.Runner, func(), error) {
			return nil, nil, errors.New("dry run: no connection")
		}
	} else if env.Provider == nil {
		a.Logger().Warn("no SMS Provider configured: escalated machines are recorded but not added to the needs-attention collection")
	}
	return env, s.Close, nil
}

// notifyDeps are what the notice commands act through.
type notifyDeps struct {
	// Env opens the notice flows' environment (remote: connect to the clients; threshold:
	// --threshold, 0 = the profile's).
	Env   func(ctx context.Context, remote bool, threshold int) (notify.Env, func(), error)
	Print func(output.Tabular) error
	Err   io.Writer
}

func newNotifyDeps(app *App) notifyDeps {
	return notifyDeps{Env: app.notifyEnv, Print: app.Print, Err: app.IO.Err}
}

// notifyWatchOptions is what notify watch-unscanned was asked.
type notifyWatchOptions struct {
	notifyDeps
	Watch    notify.WatchOptions
	Once     bool
	Interval time.Duration
}

func newNotifyWatchCmd(app *App, runF func(context.Context, *notifyWatchOptions) error) *cobra.Command {
	o := &notifyWatchOptions{notifyDeps: newNotifyDeps(app)}
	cmd := &cobra.Command{
		Use:   "watch-unscanned",
		Short: "Tell the users of scan-behind machines that come online that a scan starts, then start it",
		Long: `Watch for machines whose update scan is behind the current catalog (never scanned, failed,
or an older catalog) and that come online: each pass reads them from the site database,
and every one online now that was not online at the last pass gets the scan notice ("a
scan is about to start, then a patch will install") and then the update scan (schedule
113). The first pass of each day (site time) takes every online one. A machine is told at most once per
notify.min_interval and never in notify.quiet_hours (it is still scanned). A machine not
reached is tried again at the next pass; one whose scan trigger failed (the script's error,
a timeout) is scanned again at the next passes, not told again, up to ` + strconv.Itoa(notify.ScanAttemptsPerDay) + ` failed
triggers a day. The passes and what they did are kept in the journal. Runs until interrupted, one pass every --interval;
--once runs one pass (for a scheduled task every few minutes). Keep one --collection per
state_dir: the watcher remembers one set of machines seen online.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Interval < 30*time.Second {
				return exit.Usagef("use 30s or more", "--interval %s is too short", o.Interval)
			}
			if o.Watch.DryRun {
				o.Once = true
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return notifyWatchRun(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Once, "once", false, "run one pass and exit")
	f.DurationVar(&o.Interval, "interval", 5*time.Minute, "time between passes")
	f.StringVar(&o.Watch.Collection, "collection", "", "only the members of this collection (ID or name)")
	f.BoolVar(&o.Watch.DryRun, "dry-run", false, "one pass that lists who came online and would be told; sends and records nothing")
	return cmd
}

// notifyWatchRun runs watcher passes until interrupted (one with --once).
func notifyWatchRun(ctx context.Context, o *notifyWatchOptions) error {
	env, done, err := o.Env(ctx, !o.Watch.DryRun, 0)
	if err != nil {
		return err
	}
	defer done()
	for {
		res, err := notify.WatchPass(ctx, env, o.Watch)
		if err != nil {
			if ctx.Err() != nil && !o.Once {
				return nil
			}
			return err
		}
		if err := o.Print(res); err != nil {
			return err
		}
		if o.Once {
			return nil
		}
		t := time.NewTimer(o.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// notifyMissingOptions is what notify missing was asked.
type notifyMissingOptions struct {
	notifyDeps
	Missing   notify.MissingOptions
	Threshold int // 0: the profile's
}

func newNotifyMissingCmd(app *App, runF func(context.Context, *notifyMissingOptions) error) *cobra.Command {
	o := &notifyMissingOptions{notifyDeps: newNotifyDeps(app)}
	cmd := &cobra.Command{
		Use:   "missing (--update KB|BULLETIN ... | --group SUG)",
		Short: "The Thursday notice: tell the users of machines still missing an update; escalate repeat cases",
		Long: `Tell the users of every machine still missing the named updates (--update, repeatable) or
the updates of a software update group (--group) that the update is missing and will try to
install. One notice per machine, about all its missing updates; each is counted per machine,
user and update. An update a machine's users were told about notify.threshold times
(--threshold) is escalated instead: recorded, the machine added to the needs-attention
collection through the SMS Provider, and no more notices about it. Machines that are
offline, have nobody logged on, were told within notify.min_interval, or are in the quiet
hours are recorded and not told. --dry-run shows who would be told and escalated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Threshold < 0 {
				return exit.Usagef("use 1 or more", "--threshold %d is below 1", o.Threshold)
			}
			if err := o.Missing.Validate(); err != nil {
				return err // before anything is opened
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return notifyMissingRun(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Missing.Updates, "update", nil, "update by KB article or bulletin: KB5071234, MS17-010 (repeatable)")
	f.StringVar(&o.Missing.Group, "group", "", "software update group (title or CI_ID)")
	f.StringVar(&o.Missing.Collection, "collection", "", "only the members of this collection (ID or name)")
	f.BoolVar(&o.Missing.DryRun, "dry-run", false, "show who would be told and escalated; send and record nothing")
	f.IntVar(&o.Threshold, "threshold", 0, "notices about one update before escalation (default: notify.threshold)")
	cmd.MarkFlagsMutuallyExclusive("update", "group")
	return cmd
}

// notifyMissingRun sends the Thursday notice and prints who was told and escalated.
func notifyMissingRun(ctx context.Context, o *notifyMissingOptions) error {
	env, done, err := o.Env(ctx, !o.Missing.DryRun, o.Threshold)
	if err != nil {
		return err
	}
	defer done()
	res, err := notify.Missing(ctx, env, o.Missing)
	if err != nil {
		return err
	}
	if err := o.Print(res); err != nil {
		return err
	}
	if res.CollectionError != "" {
		fmt.Fprintf(o.Err, "patchnight: escalated machines are not in the needs-attention collection: %s\n", res.CollectionError)
	}
	if res.Failed > 0 {
		return exit.New(exit.Partial, "", "%d machines could not be told", res.Failed)
	}
	return nil
}

func newNotifyEscalationsCmd(app *App) *cobra.Command {
	var threshold int
	cmd := &cobra.Command{
		Use:   "escalations",
		Short: "List the machines told about a missing update at least --threshold times",
		Long: `List the machines that need a person: those a Thursday notice run escalated, and those
whose users were told about an update at least --threshold times (default notify.threshold)
while the site still reports it missing (due: escalated at the next run). With the updates,
notice counts, enforcement state and error code (v_UpdateComplianceStatus), the users told,
and the first and last notice; --output json adds the whole notice history.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("threshold") && threshold < 1 {
				return exit.Usagef("use 1 or more", "--threshold %d is below 1", threshold)
			}
			if !cmd.Flags().Changed("threshold") {
				threshold = cfg.Profile.Notify.Threshold
			}
			list := notify.EscalationList{Threshold: threshold, Escalations: []notify.Escalation{}}
			if _, err := os.Stat(filepath.Join(cfg.Profile.StateDir, journal.FileName)); err != nil {
				return app.Print(list) // nothing was ever told
			}
			s, db, err := openSite(ctx, app.Session)
			if err != nil {
				return err
			}
			defer s.Close()
			j, err := s.Journal(ctx)
			if err != nil {
				return err
			}
			if list.Escalations, err = notify.Escalations(ctx, j, db, threshold); err != nil {
				return err
			}
			return app.Print(list)
		},
	}
	cmd.Flags().IntVar(&threshold, "threshold", 3, "notices about one update (default: notify.threshold)")
	return cmd
}
