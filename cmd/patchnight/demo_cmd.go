package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/report"
	"github.com/patchnight/patchnight/pkg/site"
)

func newDemoCmd(app *App) *cobra.Command {
	opt := lab.DefaultOptions()
	var keep string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build a lab site in a temporary folder and show what patchnight sees",
		Long: `Builds a lab site (no configuration needed) and prints the compliance and scan reports
read from it through the same queries a real site gets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir := keep
			if dir == "" {
				tmp, err := os.MkdirTemp("", "patchnight-demo-")
				if err != nil {
					return exit.Wrap(exit.Failed, err, "", "create a temporary folder")
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			} else if err := os.MkdirAll(dir, 0o755); err != nil {
				return exit.Wrap(exit.Failed, err, "", "create %s", dir)
			}
			path := filepath.Join(dir, "lab.db")
			opt.Force = keep != ""
			start := time.Now()
			sum, err := lab.Generate(ctx, path, opt)
			if err != nil {
				return err
			}
			w := app.IO.Out
			fmt.Fprintf(w, "Built lab site %s: %d hosts, %d updates, catalog version %d (%s)\n\n",
				sum.SiteCode, sum.Hosts, sum.Updates, sum.CatalogVersion, time.Since(start).Round(time.Millisecond))
			db, err := site.Open(ctx, "sqlite:"+path)
			if err != nil {
				return err
			}
			defer db.Close()
			comp, err := report.ComplianceReport(ctx, db, report.Scope{})
			if err != nil {
				return err
			}
			if err := output.Write(w, app.Format(), comp); err != nil {
				return err
			}
			fmt.Fprintln(w)
			scan, err := report.ScanReport(ctx, db, nil, sum.Now, 14)
			if err != nil {
				return err
			}
			if err := output.Write(w, app.Format(), scan); err != nil {
				return err
			}
			if keep != "" {
				fmt.Fprintf(w, "\nThe lab stays in %s; try: patchnight report hosts --missing KB... --sql sqlite:%s\n", path, path)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&opt.Hosts, "hosts", opt.Hosts, "number of lab machines")
	cmd.Flags().Int64Var(&opt.Seed, "seed", opt.Seed, "lab seed")
	cmd.Flags().StringVar(&keep, "keep", "", "build the lab in this folder and keep it")
	return cmd
}
