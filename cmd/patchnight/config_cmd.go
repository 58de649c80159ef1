package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
)

func newConfigCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Write an example configuration or show the effective one"}
	var out string
	var force bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented example configuration file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || out == "-" {
				_, err := fmt.Fprint(app.IO.Out, config.Example)
				return err
			}
			return writeNew(out, []byte(config.Example), force)
		},
	}
	initCmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	initCmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	onlyFormats(initCmd, output.Table) // the example is a commented YAML file
	showCmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration, with where each setting came from; secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.Config()
			if err != nil {
				return err
			}
			return showConfig(app, cfg)
		},
	}
	onlyFormats(showCmd, output.Table, output.JSON)
	cmd.AddCommand(initCmd, showCmd)
	return cmd
}

// writeNew writes b to path through a temporary file, refusing to overwrite unless force.
func writeNew(path string, b []byte, force bool) error {
	if !force {
		if _, err := os.Stat(path); err == nil {
			return exit.Usagef("pass --force to overwrite it", "%s already exists", path)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return exit.Wrap(exit.Failed, err, "", "create the folder for %s", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".patchnight-*")
	if err != nil {
		return exit.Wrap(exit.Failed, err, "", "write %s", path)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return exit.Wrap(exit.Failed, err, "", "write %s", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return exit.Wrap(exit.Failed, err, "", "write %s", path)
	}
	return nil
}

func showConfig(app *App, cfg *config.Effective) error {
	p := cfg.Profile
	p.SQL = site.Redact(p.SQL)
	w := app.IO.Out
	file := cfg.Path
	if file == "" {
		file = "(none: defaults and environment only)"
	}
	profile := cfg.ProfileName
	if profile == "" {
		profile = "(none)"
	}
	node := &yaml.Node{}
	if err := node.Encode(p); err != nil {
		return fmt.Errorf("show configuration: %w", err)
	}
	if app.Format() == output.JSON {
		return showConfigJSON(app, cfg, node)
	}
	annotate(node, "", cfg.Sources)
	fmt.Fprintf(w, "# configuration file: %s\n# profile: %s\n", file, profile)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return fmt.Errorf("show configuration: %w", err)
	}
	return enc.Close()
}

// configDoc is config show -o json: the settings under their configuration file keys
// (snake_case, as in the file) and, in the same shape, where each came from.
type configDoc struct {
	File     string         `json:"file"`    // "" when no file was read
	Profile  string         `json:"profile"` // "" when none
	Settings map[string]any `json:"settings"`
	Sources  map[string]any `json:"sources"`
}

// showConfigJSON writes the effective configuration (node: its profile, secrets masked,
// encoded as YAML) as one JSON document.
func showConfigJSON(app *App, cfg *config.Effective, node *yaml.Node) error {
	doc := configDoc{File: cfg.Path, Profile: cfg.ProfileName, Settings: map[string]any{}, Sources: map[string]any{}}
	if err := node.Decode(&doc.Settings); err != nil {
		return fmt.Errorf("show configuration: %w", err)
	}
	for key, src := range cfg.Sources {
		m := doc.Sources
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = string(src)
	}
	return output.WriteJSON(app.IO.Out, doc)
}

// annotate adds "# from env" style comments to each setting.
func annotate(n *yaml.Node, prefix string, sources map[string]config.Source) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			annotate(c, prefix, sources)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		if v.Kind == yaml.MappingNode {
			annotate(v, key+".", sources)
			continue
		}
		src := sources[key]
		if src == config.FromEnv {
			v.LineComment = string(src) + " " + config.EnvName(key)
		} else if src != "" {
			v.LineComment = string(src)
		}
	}
}
