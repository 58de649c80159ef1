package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
)

// docsResult is what docs wrote (-o json; the table form prints nothing, as before).
type docsResult struct {
	Format string `json:"format"`
	Folder string `json:"folder"`
}

func newDocsCmd(app *App) *cobra.Command {
	var format, dir string
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Generate man pages or Markdown reference pages for every command",
		Long: `Generate reference documentation for every command into a folder: man pages
(--format man) or Markdown (--format markdown). Shell completion scripts come from
"patchnight completion bash|zsh|fish|powershell".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return exit.Usagef("pass --out DIR", "no output folder")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return exit.Wrap(exit.Failed, err, "", "create %s", dir)
			}
			root := app.root
			root.DisableAutoGenTag = true
			switch format {
			case "man":
				if err := doc.GenManTree(root, &doc.GenManHeader{Title: "PATCHNIGHT", Section: "1"}, dir); err != nil {
					return exit.Wrap(exit.Failed, err, "", "write man pages to %s", dir)
				}
			case "markdown", "md":
				if err := doc.GenMarkdownTree(root, dir); err != nil {
					return exit.Wrap(exit.Failed, err, "", "write Markdown pages to %s", dir)
				}
			default:
				return exit.Usagef("use man or markdown", "--format %q is not a documentation format", format)
			}
			return app.printText(docsResult{Format: format, Folder: dir})
		},
	}
	onlyFormats(cmd, output.Table, output.JSON)
	cmd.Flags().StringVar(&format, "format", "markdown", "man or markdown")
	cmd.Flags().StringVar(&dir, "out", "", "folder to write the pages into (created if missing)")
	return cmd
}
