package session

import (
	"context"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/runner"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/pkg/wol"
)

// notify.Notices is what backs the runner's notice steps.
var _ runner.Notifier = (*notify.Notices)(nil)

// RunnerEnv opens what a night acts through: the site database, the journal, the hosts,
// the SMS Provider (when the profile names one) and the wake transports, with the
// profile's site code, concurrency, retries and time limits. The caller adds its output
// streams and may tune the rest.
func (s *Session) RunnerEnv(ctx context.Context) (runner.Env, error) {
	var env runner.Env
	db, j, err := s.store(ctx)
	if err != nil {
		return env, err
	}
	hosts, err := s.Hosts(ctx)
	if err != nil {
		return env, err
	}
	prov, err := s.OptionalProvider(ctx)
	if err != nil {
		return env, err
	}
	wake, err := s.NightWake(ctx)
	if err != nil {
		return env, err
	}
	p := s.opt.Profile
	return runner.Env{
		Site: db, Journal: j, Hosts: hosts, Provider: prov, Wol: wake, WolMode: wol.Mode(p.WoL.Mode),
		Clock: s.opt.Clock, Log: s.opt.Log, SiteCode: p.SiteCode, Concurrency: p.WinRM.Concurrency,
		Retries: p.WinRM.Retries, HostTimeout: p.WinRM.OperationTimeout.Std(), StateDir: p.StateDir,
	}, nil
}

// Notices backs a runner's notice steps with package notify, over the runner's site,
// journal, hosts and provider; scope is the night's collection ID ("" = every client).
func (s *Session) Notices(env runner.Env, settings *notify.Settings, scope string) *notify.Notices {
	return &notify.Notices{Site: env.Site, Journal: env.Journal, Hosts: env.Hosts, Provider: env.Provider,
		Settings: settings, Now: s.opt.Now, Concurrency: env.Concurrency, Threshold: settings.Threshold, Scope: scope}
}

// NotifyEnv opens what the notice commands need: the site database and the journal, and
// with remote the hosts and the SMS Provider (when the profile names one). Without remote,
// Connect is left nil for the caller to fill (a dry run refuses).
func (s *Session) NotifyEnv(ctx context.Context, settings *notify.Settings, withRemote bool) (notify.Env, error) {
	var env notify.Env
	db, j, err := s.store(ctx)
	if err != nil {
		return env, err
	}
	p := s.opt.Profile
	env = notify.Env{Site: db, Journal: j, Settings: settings, Now: s.opt.Now, Log: s.opt.Log,
		Concurrency: p.WinRM.Concurrency, DNSSuffix: p.WinRM.DNSSuffix}
	if !withRemote {
		return env, nil
	}
	hosts, err := s.Hosts(ctx)
	if err != nil {
		return env, err
	}
	env.Connect = hosts.Client
	if env.Provider, err = s.OptionalProvider(ctx); err != nil {
		return env, err
	}
	return env, nil
}

// store opens the site database and the journal.
func (s *Session) store(ctx context.Context) (*site.DB, *journal.DB, error) {
	db, err := s.Site(ctx)
	if err != nil {
		return nil, nil, err
	}
	j, err := s.Journal(ctx)
	if err != nil {
		return nil, nil, err
	}
	return db, j, nil
}

// DryRunEnv opens what a dry run of the night reads: the site database only, with the
// profile's settings that shape the night (site code, concurrency, retries, time limits,
// wake mode, state folder). It opens no journal, no WinRM connection, no SMS Provider and
// no wake socket; provider says whether the profile names an SMS Provider, so that the
// dry run can say what the night would do with it.
func (s *Session) DryRunEnv(ctx context.Context) (env runner.Env, provider bool, err error) {
	db, err := s.Site(ctx)
	if err != nil {
		return env, false, err
	}
	p := s.opt.Profile
	return runner.Env{
		Site: db, WolMode: wol.Mode(p.WoL.Mode), Clock: s.opt.Clock, Log: s.opt.Log, SiteCode: p.SiteCode,
		Concurrency: p.WinRM.Concurrency, Retries: p.WinRM.Retries, HostTimeout: p.WinRM.OperationTimeout.Std(),
		StateDir: p.StateDir,
	}, s.HasProvider(), nil
}
