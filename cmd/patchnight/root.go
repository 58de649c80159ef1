package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
)

// IO is where a command reads and writes.
type IO struct {
	In             io.Reader
	Out            io.Writer
	Err            io.Writer
	StdinTerminal  bool // stdin is a terminal (prompts allowed)
	StderrTerminal bool // stderr is a terminal (progress bars allowed)
}

// App carries what every command needs: streams, environment, global flags and the
// configuration (loaded on first use, so that commands that need none never fail on it).
type App struct {
	IO     IO
	Getenv func(string) string
	Now    func() time.Time

	configPath string
	profile    string
	sql        string
	outputFlag string
	verbose    bool
	args       []string // the command line as given (wol --confirm probe reads it)

	root    *cobra.Command
	cfg     *config.Effective
	cfgErr  error
	loaded  bool
	started bool // a command's RunE began (errors after that are not usage errors)
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, streams IO, getenv func(string) string) int {
	app := &App{IO: streams, Getenv: getenv, Now: time.Now, args: args}
	root := newRootCmd(app)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	err := checkFlagsBeforeCommand(root, args)
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return exit.OK
	}
	code := exit.Code(err)
	var e *exit.Error
	if !errors.As(err, &e) && !app.started {
		code = exit.Usage // cobra's own flag and argument errors
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(streams.Err, "patchnight: interrupted")
		return exit.Failed
	}
	fmt.Fprintf(streams.Err, "patchnight: %s\n", oneLine(err.Error()))
	return code
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// cobra's settings are package variables: set them once, before any Main runs, so that
// Main can run concurrently in one process (the tests do) without a data race.
func init() {
	cobra.EnableTraverseRunHooks = true // every parent's PersistentPreRunE runs (config, env)
	cobra.MousetrapHelpText = ""        // no "run from cmd.exe" box when started from Explorer
}

func newRootCmd(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "patchnight",
		Short: "Run the restart method for ConfigMgr software updates on Patch Tuesday night",
		Long: `patchnight automates the "restart method" for Microsoft ConfigMgr (SCCM) software
updates: scan, wake, install and restart waves on a fixed timetable, per-update collections,
a collection of clients whose scan is a catalog version behind, notices to users, and a
morning compliance report. It reads the site database, acts through WinRM and the SMS
Provider, and wakes machines with Wake-on-LAN.

Try it without a site: patchnight demo`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		Version:           versionString(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return app.preRun(cmd) },
	}
	app.root = root
	pf := root.PersistentFlags()
	pf.StringVar(&app.configPath, "config", "", "configuration file (env PATCHNIGHT_CONFIG; default: the user's or machine's patchnight/config.yaml)")
	pf.StringVar(&app.profile, "profile", "", "profile in the configuration file (env PATCHNIGHT_PROFILE)")
	_ = root.RegisterFlagCompletionFunc("profile", app.completeProfiles)
	pf.StringVar(&app.sql, "sql", "", "site database DSN, overriding the profile: sqlserver://HOST?database=CM_ABC or sqlite:PATH (env PATCHNIGHT_SQL)")
	pf.StringVarP(&app.outputFlag, "output", "o", "table", "output format: table, json, csv or md (env PATCHNIGHT_OUTPUT)")
	_ = root.RegisterFlagCompletionFunc("output", fixedCompletion("table", "json", "csv", "md", "html"))
	pf.BoolVarP(&app.verbose, "verbose", "v", false, "log what is done to stderr (env PATCHNIGHT_VERBOSE)")
	for _, sub := range []func(*App) *cobra.Command{
		newConfigCmd,
		newLabCmd,
		newReportCmd,
		newDemoCmd,
		newDocsCmd,
		newPlanCmd,
		newCollectionsCmd,
		func(a *App) *cobra.Command { return newWolCmd(a, nil) },
		func(a *App) *cobra.Command { return newClientCmd(a, nil) },
		func(a *App) *cobra.Command { return newRunCmd(a, nil) },
		func(a *App) *cobra.Command { return newNightCmd(a, nil) },
		newNotifyCmd,
		newHistoryCmd,
		newDoctorCmd,
	} {
		root.AddCommand(sub(app))
	}
	// cobra's completion commands keep the writer the root has when they are made: give
	// the root its streams first.
	root.SetIn(app.IO.In)
	root.SetOut(app.IO.Out)
	root.SetErr(app.IO.Err)
	enforceContract(root)
	addExamples(root)
	return root
}

// preRun applies PATCHNIGHT_* to global flags that were not given and validates --output.
func (a *App) preRun(cmd *cobra.Command) error {
	var ferr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || ferr != nil {
			return
		}
		switch f.Name {
		case "config", "profile", "sql", "output", "verbose":
			if v := a.Getenv(config.EnvName(f.Name)); v != "" {
				if err := f.Value.Set(v); err != nil {
					ferr = exit.Usagef("fix or unset "+config.EnvName(f.Name), "%s=%q: %v", config.EnvName(f.Name), v, err)
				}
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	f, err := output.ParseFormat(a.outputFlag)
	if err != nil {
		return err
	}
	if err := checkFormat(cmd, f); err != nil {
		return err
	}
	// cobra checks required and mutually exclusive flags only after this hook, where an
	// error would no longer count as a usage error: check them here.
	for _, check := range []func() error{cmd.ValidateRequiredFlags, cmd.ValidateFlagGroups} {
		if err := check(); err != nil {
			return exit.Usagef("see --help", "%s", err.Error())
		}
	}
	a.started = true
	return nil
}

// Format is the --output format.
func (a *App) Format() output.Format {
	f, _ := output.ParseFormat(a.outputFlag)
	return f
}

// Config loads the configuration file (if any) and resolves the effective profile.
func (a *App) Config() (*config.Effective, error) {
	if a.loaded {
		return a.cfg, a.cfgErr
	}
	a.loaded = true
	a.cfg, a.cfgErr = a.loadConfig()
	return a.cfg, a.cfgErr
}

func (a *App) loadConfig() (*config.Effective, error) {
	path := a.configPath
	var file *config.File
	if path != "" {
		f, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		file = f
	} else {
		for _, p := range config.DefaultPath() {
			if _, err := os.Stat(p); err == nil {
				f, err := config.Load(p)
				if err != nil {
					return nil, err
				}
				path, file = p, f
				break
			}
		}
	}
	flags := map[string]string{}
	if a.sql != "" {
		flags["sql"] = a.sql
	}
	return config.Resolve(path, file, a.profile, a.Getenv, flags)
}

// Site opens the site database of the effective configuration and checks that it is one.
// The caller closes it.
func (a *App) Site(ctx context.Context) (*site.DB, error) {
	s, err := a.Session()
	if err != nil {
		return nil, err
	}
	return s.Site(ctx) // the session holds nothing else: closing the database is enough
}

// Logger logs to stderr: warnings always, details with --verbose.
func (a *App) Logger() *slog.Logger {
	level := slog.LevelWarn
	if a.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.IO.Err, &slog.HandlerOptions{Level: level}))
}

// Print writes a result in the --output format.
func (a *App) Print(v output.Tabular) error {
	return output.Write(a.IO.Out, a.Format(), v)
}

// formatsAnnotation lists, comma-separated, the only --output formats a command can give
// (one whose output is prose, a script or a server's log); a command without it gives
// every format of pkg/output through App.Print.
const formatsAnnotation = "patchnight/formats"

// onlyFormats marks c as giving only the formats fs (see formatsAnnotation) and returns c.
func onlyFormats(c *cobra.Command, fs ...output.Format) *cobra.Command {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[formatsAnnotation] = strings.Join(names, ",")
	return c
}

// dryRunFormatsAnnotation lists the formats a command gives with --dry-run when they
// differ from formatsAnnotation's (night and run print a rehearsal, a document, there).
const dryRunFormatsAnnotation = "patchnight/formats-dry-run"

// dryRunFormats marks c as giving the formats fs when --dry-run is set.
func dryRunFormats(c *cobra.Command, fs ...output.Format) *cobra.Command {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[dryRunFormatsAnnotation] = strings.Join(names, ",")
	return c
}

// checkFormat refuses (64), before the command does anything, a format that cmd cannot give.
func checkFormat(cmd *cobra.Command, f output.Format) error {
	list, ok := cmd.Annotations[formatsAnnotation]
	if dry, has := cmd.Annotations[dryRunFormatsAnnotation]; has {
		if fl := cmd.Flags().Lookup("dry-run"); fl != nil && fl.Value.String() == "true" {
			list, ok = dry, true
		}
	}
	if !ok {
		return nil
	}
	allowed := strings.Split(list, ",")
	for _, a := range allowed {
		if string(f) == a {
			return nil
		}
	}
	hint := "use -o " + strings.Join(allowed, " or -o ")
	if len(allowed) == 1 {
		hint = "leave out -o"
	}
	return exit.Usagef(hint, "%s cannot write %s", subPath(cmd), f)
}

// printText prints a result whose table form is a few lines of prose: -o json writes v as
// one JSON document, the table form writes the lines. The command is marked
// onlyFormats(table, json), so no other format gets here.
func (a *App) printText(v any, lines ...string) error {
	if a.Format() == output.JSON {
		return output.WriteJSON(a.IO.Out, v)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(a.IO.Out, l); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

// version is set at build time with -ldflags "-X main.version=..."; without it the
// version comes from the build info (versionString).
var version = ""

// versionString is --version's answer: the -ldflags version when set, otherwise the
// module version and the commit the binary was built from, as Go records them.
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	return versionFrom(bi)
}

// fixedCompletion offers a flag's fixed values to shell completion.
func fixedCompletion(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// versionFrom renders a build info: "v1.2.3", "(devel), commit 0123456789ab, modified".
func versionFrom(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		v += ", commit " + rev[:min(len(rev), 12)]
		if modified == "true" {
			v += ", modified"
		}
	}
	return v
}
