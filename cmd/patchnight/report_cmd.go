package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/report/html"
	"github.com/patchnight/patchnight/pkg/site"
)

func newReportCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Compliance, machines and scan reports from the site database"}
	cmd.AddCommand(newReportComplianceCmd(app), newReportHostsCmd(app), newReportScanCmd(app), newReportMorningCmd(app), newReportFollowUpCmd(app))
	return cmd
}

type scopeFlags struct {
	collection, group, update string
	all                       bool
}

func (f *scopeFlags) resolve(cmd *cobra.Command, db *site.DB) (report.Scope, error) {
	var s report.Scope
	ctx := cmd.Context()
	if f.update != "" {
		u, err := fleet.ParseUpdateRef(f.update)
		if err != nil {
			return s, err
		}
		s.Update = &u
	}
	if f.collection != "" {
		c, err := db.ResolveCollection(ctx, f.collection)
		if err != nil {
			return s, err
		}
		s.Collection = c
	}
	if f.group != "" {
		g, err := db.ResolveGroup(ctx, f.group)
		if err != nil {
			return s, err
		}
		s.Group = g
	}
	s.All = f.all
	return s, nil
}

func newReportComplianceCmd(app *App) *cobra.Command {
	var f scopeFlags
	var out string
	cmd := &cobra.Command{
		Use:   "compliance",
		Short: "Per update: required, installed, not required, unknown and % compliant, with a total",
		Long: `Per update: required, installed, not required, unknown and % compliant over the client
machines in scope (the denominator is printed). Required and installed come from
v_UpdateComplianceStatus; not required and unknown are derived from each client's last scan
against the update's catalog version. Unknown is never counted as compliant.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.update != "" {
				if _, err := fleet.ParseUpdateRef(f.update); err != nil {
					return err
				}
			}
			db, err := app.Site(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			scope, err := f.resolve(cmd, db)
			if err != nil {
				return err
			}
			rep, err := report.ComplianceReport(cmd.Context(), db, scope)
			if err != nil {
				return err
			}
			if app.Format() == output.HTML {
				return app.writeHTML(out, func(w io.Writer) error { return html.Compliance(w, rep) })
			}
			return app.Print(rep)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "with --output html: the file to write (default: standard output)")
	cmd.Flags().StringVar(&f.collection, "collection", "", "only machines in this collection (ID or name)")
	cmd.Flags().StringVar(&f.group, "group", "", "only the updates of this software update group (title or CI_ID)")
	cmd.Flags().StringVar(&f.update, "update", "", "only this update: KB article (KB5071234) or bulletin (MS17-010)")
	cmd.Flags().BoolVar(&f.all, "all", false, "every update in the catalog, not only those some client requires or has installed")
	return cmd
}

func newReportHostsCmd(app *App) *cobra.Command {
	var missing, host, collection string
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "Which machines miss an update (--missing), or one machine's updates (--host)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (missing == "") == (host == "") {
				return exit.Usagef("pass --missing KB|BULLETIN or --host NAME", "report hosts needs exactly one of --missing and --host")
			}
			var ref fleet.UpdateRef
			if missing != "" {
				r, err := fleet.ParseUpdateRef(missing)
				if err != nil {
					return err
				}
				ref = r
			}
			db, err := app.Site(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if host != "" {
				rep, err := report.HostReport(cmd.Context(), db, host)
				if err != nil {
					return err
				}
				return app.Print(rep)
			}
			var coll *site.CollectionRef
			if collection != "" {
				if coll, err = db.ResolveCollection(cmd.Context(), collection); err != nil {
					return err
				}
			}
			rep, err := report.MissingReport(cmd.Context(), db, ref, coll)
			if err != nil {
				return err
			}
			return app.Print(rep)
		},
	}
	cmd.Flags().StringVar(&missing, "missing", "", "list the machines that still miss this update (KB article or bulletin)")
	cmd.Flags().StringVar(&host, "host", "", "list this machine's updates")
	cmd.Flags().StringVar(&collection, "collection", "", "with --missing: only machines in this collection")
	return cmd
}

func newReportScanCmd(app *App) *cobra.Command {
	var collection string
	var lateDays int
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Client machines by scan state against the current catalog version",
		Long: `Client machines by scan bucket against the current catalog (SyncCatalogVersion of the
top software update point): current, one version behind ("current - 1"), more behind, never
scanned, and scan failed with its error codes; scans older than --late-days are counted too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lateDays < 1 {
				return exit.Usagef("use a number of days of 1 or more", "--late-days %d is not valid", lateDays)
			}
			db, err := app.Site(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			var coll *site.CollectionRef
			if collection != "" {
				if coll, err = db.ResolveCollection(cmd.Context(), collection); err != nil {
					return err
				}
			}
			rep, err := report.ScanReport(cmd.Context(), db, coll, app.Now(), lateDays)
			if err != nil {
				return err
			}
			return app.Print(rep)
		},
	}
	cmd.Flags().StringVar(&collection, "collection", "", "only machines in this collection (ID or name)")
	cmd.Flags().IntVar(&lateDays, "late-days", 14, "a scan older than this many days counts as late")
	return cmd
}

// writeHTML renders a page in memory and writes it to path through a temporary file (or to
// standard output when path is empty), so that a failure leaves nothing half-written.
func (a *App) writeHTML(path string, render func(io.Writer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	if path == "" || path == "-" {
		_, err := a.IO.Out.Write(b.Bytes())
		return err
	}
	if err := writeNew(path, b.Bytes(), true); err != nil {
		return err
	}
	fmt.Fprintf(a.IO.Err, "wrote %s (%d bytes)\n", path, b.Len())
	return nil
}
