package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
)

// The command-line half of the error contract (README "Exit codes"): every mistake in the
// command line itself (an unknown command or flag, a missing or extra argument, a flag
// value that does not parse) is exit 64 with one line that says what is wrong and what to
// do, in patchnight's words rather than cobra's or pflag's. It is applied to the whole
// command tree once it is built (enforceContract), so a command added later is covered
// without doing anything.

// enforceContract completes the command tree under root (cobra's help and completion
// commands, added here rather than lazily, so that they are covered too) and then gives
// every command the contract:
//   - a command that only groups others (no Run of its own) prints its help when called
//     bare, and refuses an unknown word with 64 instead of printing help and exiting 0;
//   - an argument check that fails says which argument is missing or extra, and the usage;
//   - flag errors name the flag and the command's help.
func enforceContract(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.SetFlagErrorFunc(flagError)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		switch {
		case c.Parent() == root && c.Name() == "help" && c.Run != nil:
			guardHelp(c)
		case c.HasSubCommands() && !c.Runnable():
			c.Args = unknownSubcommand
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		case c.Args != nil:
			c.Args = explainArgs(c.Args)
		}
		if c.HasParent() && (c.Name() == "help" && c.Parent() == root || c.Parent().Name() == "completion" && c.Parent().Parent() == root) {
			onlyFormats(c, output.Table) // help text and shell scripts have one form
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// helpFor is the remedy that sends the user to a command's help.
func helpFor(c *cobra.Command) string {
	return "see " + c.CommandPath() + " --help"
}

// subPath is the command's path without the program's name ("client scan"), the program's
// name for the root.
func subPath(c *cobra.Command) string {
	if !c.HasParent() {
		return c.Name()
	}
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

// forCmd is " for client scan" for a subcommand, "" for the root.
func forCmd(c *cobra.Command) string {
	if !c.HasParent() {
		return ""
	}
	return " for " + subPath(c)
}

// unknownSubcommand is the Args of a group command: no argument is valid, since every
// word after a group names one of its commands and cobra has already looked for it.
func unknownSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := helpFor(c)
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf("did you mean %q? %s", s[0], hint)
	}
	return exit.Usagef(hint, "unknown command %q%s", args[0], forCmd(c))
}

// explainArgs wraps a cobra argument check: its error becomes a usage error that says
// whether an argument is missing (the check would pass with more) or which one is extra,
// and shows the command's usage line.
func explainArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		err := check(c, args)
		if err == nil || exit.Classified(err) {
			return err
		}
		usage := "usage: " + strings.TrimSuffix(c.UseLine(), " [flags]")
		more := args
		for range 3 {
			more = append(more[:len(more):len(more)], "x")
			if check(c, more) == nil {
				what := strings.TrimSpace(strings.TrimPrefix(c.Use, c.Name()))
				if what == "" {
					what = "an argument"
				}
				return exit.Usagef(usage, "%s needs %s", subPath(c), what)
			}
		}
		if len(args) > 0 {
			// Too many, or one the command does not accept: blame the last one given.
			extra := args[len(args)-1]
			if len(args) > 1 && check(c, args[:len(args)-1]) != nil {
				extra = args[0]
			}
			return exit.Usagef(usage, "%s does not take the argument %q", subPath(c), extra)
		}
		return exit.Usagef(usage, "%s: the arguments are not valid", subPath(c))
	}
}

// guardHelp makes `patchnight help WORD...` refuse a topic that is no command (cobra
// prints "Unknown help topic" and the usage, and exits 0).
func guardHelp(help *cobra.Command) {
	run := help.Run
	help.Run = nil
	help.Args = nil
	help.RunE = func(c *cobra.Command, args []string) error {
		target, rest, err := c.Root().Find(args)
		if err != nil || len(rest) > 0 || target == nil {
			word := strings.Join(args, " ")
			if len(rest) > 0 {
				word = rest[0]
			}
			return exit.Usagef("see "+c.Root().Name()+" --help for the commands", "there is no help topic %q", word)
		}
		run(c, args)
		return nil
	}
}

// flagError is the FlagErrorFunc of every command: pflag's and cobra's flag errors in our
// words, with the command's help as the remedy.
func flagError(c *cobra.Command, err error) error {
	if exit.Classified(err) {
		return err
	}
	hint := helpFor(c)
	var (
		notExist *pflag.NotExistError
		required *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
		syntax   *pflag.InvalidSyntaxError
	)
	switch {
	case errors.As(err, &notExist):
		return exit.Usagef(hint, "unknown flag %s%s", flagName(notExist.GetSpecifiedName(), notExist.GetSpecifiedShortnames()), forCmd(c))
	case errors.As(err, &required):
		return exit.Usagef(hint, "the flag %s needs a value", flagName(required.GetSpecifiedName(), required.GetSpecifiedShortnames()))
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		var num *strconv.NumError
		if cause := errors.Unwrap(invalid); cause != nil && !errors.As(cause, &num) {
			if exit.Classified(cause) {
				return cause
			}
			return exit.Usagef(hint, "--%s %q: %s", f.Name, invalid.GetValue(), oneLine(cause.Error()))
		}
		return exit.Usagef(hint, "--%s %q is not a valid %s", f.Name, invalid.GetValue(), valueKind(f))
	case errors.As(err, &syntax):
		return exit.Usagef(hint, "%q is not a flag", syntax.GetSpecifiedFlag())
	}
	return exit.Usagef(hint, "%s", oneLine(err.Error()))
}

// flagName writes a flag as the user gave it: --name, or -n for a shorthand.
func flagName(name, short string) string {
	if name != "" {
		return "--" + name
	}
	return "-" + short
}

// valueKind names what a flag's value must be, in words.
func valueKind(f *pflag.Flag) string {
	switch t := f.Value.Type(); {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "whole number"
	case strings.HasPrefix(t, "float"):
		return "number"
	case t == "bool":
		return "true or false"
	case t == "duration":
		return "duration (like 90s, 15m or 2h)"
	default:
		return t
	}
}

// checkFlagsBeforeCommand finds an unknown flag among the words that lead to the command
// (`patchnight --frob client scan`). cobra skips such a flag and the word after it, taking
// that word for the flag's value, so it would blame the next word ("unknown command scan").
func checkFlagsBeforeCommand(root *cobra.Command, args []string) error {
	c := root
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !c.HasSubCommands() {
			return nil // the command parses the rest itself, and names what it does not know
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			next := subcommand(c, a)
			if next == nil {
				return nil // an unknown command: the group's Args says so
			}
			c = next
			continue
		}
		c.InitDefaultHelpFlag()
		c.InitDefaultVersionFlag()
		flags := c.Flags()
		_ = c.InheritedFlags() // merges the parents' persistent flags into c.Flags()
		var f *pflag.Flag
		inline := false
		if strings.HasPrefix(a, "--") {
			name, _, hasValue := strings.Cut(a[2:], "=")
			f, inline = flags.Lookup(name), hasValue
			if f == nil {
				return exit.Usagef(helpFor(c), "unknown flag --%s%s", name, forCmd(c))
			}
		} else {
			short := a[1:2]
			f, inline = flags.ShorthandLookup(short), len(a) > 2
			if f == nil {
				return exit.Usagef(helpFor(c), "unknown flag -%s%s", short, forCmd(c))
			}
		}
		if !inline && f.NoOptDefVal == "" {
			i++ // the flag's value
		}
	}
	return nil
}

// subcommand is the command of c named (or aliased) name, or nil.
func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name || s.HasAlias(name) {
			return s
		}
	}
	return nil
}
