package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
)

func newPlanCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show, check and export the patch-night plan (the restart method by default)",
	}
	cmd.AddCommand(newPlanShowCmd(app), newPlanValidateCmd(app), newPlanExportCmd(app))
	return cmd
}

// planAndZone loads the plan (the built-in one when path is empty) and its time zone.
func (a *App) planAndZone(path string) (*night.Plan, *time.Location, error) {
	p, err := night.LoadOrDefault(path)
	if err != nil {
		return nil, nil, err
	}
	zone := "Local"
	if cfg, err := a.Config(); err == nil {
		zone = cfg.Profile.TimeZone
	} else if path == "" && a.configPath != "" {
		return nil, nil, err
	}
	loc, err := p.Location(zone)
	if err != nil {
		return nil, nil, err
	}
	return p, loc, nil
}

func monthOrNext(p *night.Plan, s string, now time.Time, loc *time.Location) (night.Month, error) {
	if s == "" {
		return night.NightMonth(p, now, loc), nil
	}
	return night.ParseMonth(s)
}

func newPlanShowCmd(app *App) *cobra.Command {
	var nf nightFlags
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the night's timeline with real dates and times",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, loc, err := app.planAndZone(nf.Plan)
			if err != nil {
				return err
			}
			m, err := monthOrNext(p, nf.Month, app.Now(), loc)
			if err != nil {
				return err
			}
			return app.Print(night.NewCalendar(p, m, loc))
		},
	}
	addNightFlags(cmd, &nf, "month as YYYY-MM (default: the night under way or next)")
	return cmd
}

func newPlanValidateCmd(app *App) *cobra.Command {
	return onlyFormats(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a plan file; every problem is listed with its line and step",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, probs := night.CheckFile(args[0])
			for _, pr := range probs {
				fmt.Fprintln(app.IO.Err, pr)
			}
			if err := probs.Err(); err != nil {
				return err
			}
			occ := p.Occurrences()
			warn := p.Warnings()
			for _, w := range warn {
				fmt.Fprintln(app.IO.Err, args[0]+": warning: "+w)
			}
			text := fmt.Sprintf("%s: plan %q is valid: %d steps, %d occurrences a night", args[0], p.Name, len(p.Steps), len(occ))
			if fs := p.FollowUpSteps(); len(fs) > 0 {
				text += fmt.Sprintf("; a follow-up of %d steps a day from PT+%d until %d days before the next Patch Tuesday", len(fs), p.FollowUp.From, p.FollowUp.EndBefore)
			}
			return app.printText(planValidResult{File: args[0], Plan: p.Name, Valid: true, Steps: len(p.Steps), Occurrences: len(occ),
				FollowUpSteps: len(p.FollowUpSteps()), Warnings: warn}, text)
		},
	}, output.Table, output.JSON)
}

// planValidResult is what plan validate found in a valid plan (-o json); an invalid plan
// is an error (exit 64), its problems on stderr.
type planValidResult struct {
	File        string `json:"file"`
	Plan        string `json:"plan"`
	Valid       bool   `json:"valid"`
	Steps       int    `json:"steps"`
	Occurrences int    `json:"occurrences"`
	// FollowUpSteps is the follow-up's steps a day (issue 17); Warnings what a valid plan
	// still makes worth saying (client repair is unconfirmed).
	FollowUpSteps int      `json:"follow_up_steps"`
	Warnings      []string `json:"warnings,omitempty"`
}

// exportResult is what plan export-tasks wrote (-o json).
type exportResult struct {
	Tasks  int    `json:"tasks"`
	Script string `json:"script"`
	Folder string `json:"folder"`
}

func newPlanExportCmd(app *App) *cobra.Command {
	var nf nightFlags
	var out, runAs, binary, from, folder, taskConfig string
	var check bool
	cmd := &cobra.Command{
		Use:   "export-tasks",
		Short: "Write one Windows Task Scheduler task per step and a script that registers them",
		Long: `Write one Task Scheduler XML file per step occurrence (UTF-16, elevated, no parallel
instances, a time limit, start when available) and register-tasks.ps1, which registers them
all under one task folder. Tasks run "patchnight run STEP"; a task that fires on a day that
is not its night exits 0 after a log line, so recurring monthly triggers are safe.
--check prints what would be registered and writes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, loc, err := app.planAndZone(nf.Plan)
			if err != nil {
				return err
			}
			opt := night.TaskOptions{Binary: binary, RunAs: runAs, Folder: folder, Location: loc, PlanFile: nf.Plan}
			if nf.Plan != "" {
				if abs, err := filepath.Abs(nf.Plan); err == nil {
					opt.PlanFile = abs
				}
			}
			opt.Profile = app.profile
			opt.Config = app.configPath
			if taskConfig != "" {
				opt.Config = taskConfig
			} else if opt.Config != "" && !windowsPath(opt.Config) {
				// Read here (a workstation, the lab), used there: say how to name it there.
				return exit.Usagef(`give its path on the site server with --task-config, e.g. --task-config C:\ProgramData\patchnight\config.yaml`,
					"configuration file %q is not a full Windows path, and the tasks pass it to patchnight on the site server", opt.Config)
			}
			if nf.Month != "" {
				if opt.Month, err = night.ParseMonth(nf.Month); err != nil {
					return err
				}
			} else {
				if opt.From, err = monthOrNext(p, from, app.Now(), loc); err != nil {
					return err
				}
			}
			if check {
				ts, err := night.Tasks(p, opt)
				if err != nil {
					return err
				}
				return app.Print(ts)
			}
			if out == "" {
				return exit.Usagef("pass --out DIR, or --check to see what would be written", "no output folder")
			}
			if f := app.Format(); f != output.Table && f != output.JSON {
				return exit.Usagef("use -o table or -o json, or --check", "plan export-tasks cannot write %s", f)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return exit.Wrap(exit.Failed, err, "", "create %s", out)
			}
			ts, err := night.ExportTasks(p, opt, out)
			if err != nil {
				return err
			}
			script := filepath.Join(out, night.ScriptName)
			return app.printText(exportResult{Tasks: len(ts.Tasks), Script: script, Folder: out},
				fmt.Sprintf("wrote %d tasks and %s to %s; register them on the site server with: powershell -File %s",
					len(ts.Tasks), night.ScriptName, out, script))
		},
	}
	addNightFlags(cmd, &nf, "one-off triggers for this month (YYYY-MM) instead of recurring monthly triggers")
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "folder to write the task files and register-tasks.ps1 into")
	f.StringVar(&runAs, "run-as", "", `account the tasks run as: SYSTEM (default), a gMSA DOMAIN\name$, or DOMAIN\user`)
	f.StringVar(&binary, "binary", `C:\Program Files\patchnight\patchnight.exe`, "path of patchnight.exe on the site server")
	f.StringVar(&from, "from", "", "first month of the recurring triggers (default: the next night)")
	f.StringVar(&folder, "folder", night.DefaultTaskFolder, "Task Scheduler folder")
	f.BoolVar(&check, "check", false, "explain what would be registered; write nothing")
	f.StringVar(&taskConfig, "task-config", "", `configuration file the tasks use on the site server, a full Windows path (default: --config)`)
	return cmd
}

// windowsPath says whether p looks like a full Windows path (C:\..., \\server\share\...,
// %VARIABLE%\...), the only kind a scheduled task can be given; pkg/night checks it fully.
func windowsPath(p string) bool {
	switch {
	case len(p) >= 3 && p[1] == ':' && p[2] == '\\':
		return true
	case strings.HasPrefix(p, `\\`), strings.HasPrefix(p, "%") && strings.Contains(p, `%\`):
		return true
	}
	return false
}

func newHistoryCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "history [RUN]",
		Short: "List the nights run, or one run's steps and outcomes",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(cfg.Profile.StateDir, journal.FileName)); err != nil {
				return exit.Usagef("nothing has run with this state_dir yet", "no journal in %s", cfg.Profile.StateDir)
			}
			j, err := journal.Open(cmd.Context(), cfg.Profile.StateDir)
			if err != nil {
				return err
			}
			defer j.Close()
			if len(args) == 0 {
				list, err := j.History(cmd.Context())
				if err != nil {
					return err
				}
				return app.Print(report.History(list))
			}
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return exit.Usagef("give a run number from patchnight history", "%q is not a run number", args[0])
			}
			d, err := j.Detail(cmd.Context(), journal.RunID(id))
			if err != nil {
				return err
			}
			return app.Print(report.RunHistory(d))
		},
	}
}
