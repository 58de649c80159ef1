package main

import (
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/night"
)

// Shell completion of values that come from files: the profiles of the configuration
// file in force, and the step ids of the plan in force. Completion must never fail
// loudly: a file that does not load offers nothing (and no file names).

// configFileInForce is the configuration file a command would load: --config, else
// PATCHNIGHT_CONFIG, else the first default path that exists; "" if none. (Completion
// runs without the root's PersistentPreRunE, which applies the environment.)
func (a *App) configFileInForce() string {
	if a.configPath != "" {
		return a.configPath
	}
	if p := a.Getenv(config.EnvName("config")); p != "" {
		return p
	}
	for _, p := range config.DefaultPath() {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// completeProfiles offers the profile names of the configuration file in force, the
// default profile first.
func (a *App) completeProfiles(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	path := a.configFileInForce()
	if path == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	f, err := config.Load(path)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(f.Profiles))
	for n := range f.Profiles {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := make([]cobra.Completion, 0, len(names))
	for _, n := range names {
		if n == f.DefaultProfile {
			out = slices.Insert(out, 0, cobra.CompletionWithDesc(n, "default profile"))
			continue
		}
		out = append(out, n)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSteps offers, as the first argument, the ids `run` takes: every step of the
// plan in force (--plan FILE when given, else the built-in plan) and every occurrence of
// a repeating step (retry-restart-0400), each with its time and action.
func completeSteps(plan *string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		p, err := night.LoadOrDefault(*plan)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		seen := map[string]bool{}
		add := func(id, desc string) {
			if !seen[id] && strings.HasPrefix(id, prefix) {
				seen[id] = true
				out = append(out, cobra.CompletionWithDesc(id, desc))
			}
		}
		occ := p.Occurrences()
		for _, s := range p.Steps { // each step, then its occurrences
			add(s.ID, s.At.String()+" "+string(s.Action))
			for _, o := range occ {
				if o.StepID == s.ID {
					add(o.ID, o.At.String()+" "+string(o.Step.Action))
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
