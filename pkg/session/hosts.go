package session

import (
	"context"
	"encoding/json"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/wol"
)

// Hosts turns a machine name into a client runner over the session's WinRM connector. It
// is the one place where winrm.dns_suffix is applied and where the retry rule is read.
type Hosts struct {
	k       *remote.Connector
	suffix  string
	retries int
}

// Name is the DNS name a machine is reached at (remote.Qualify with the profile's suffix).
func (h *Hosts) Name(host string) string { return remote.Qualify(host, h.suffix) }

// Suffix is the profile's winrm.dns_suffix.
func (h *Hosts) Suffix() string { return h.suffix }

// Client returns a runner for the machine and a function that releases it.
func (h *Hosts) Client(host string) (client.Runner, func(), error) {
	c, err := h.k.Client(h.Name(host))
	if err != nil {
		return nil, nil, err
	}
	return c, func() { c.Close() }, nil
}

// Retries is how often an action is retried after a transient fault (client.Retries: a
// restart never).
func (h *Hosts) Retries(restart bool) int { return client.Retries(restart, h.retries) }

// Run runs one script on one machine.
func (h *Hosts) Run(ctx context.Context, host, script string, params, out any) error {
	return run(ctx, h.k, h.Name(host), script, params, out)
}

// Addresses runs scripts on hosts named by their address, adding no suffix: the SMS
// Provider host of the profile, and names that Name already gave (doctor's Remote).
type Addresses struct{ k *remote.Connector }

// Addresses returns the runner by address over the same connector.
func (h *Hosts) Addresses() Addresses { return Addresses{h.k} }

// Run runs one script on the host at this address.
func (a Addresses) Run(ctx context.Context, addr, script string, params, out any) error {
	return run(ctx, a.k, addr, script, params, out)
}

func run(ctx context.Context, k *remote.Connector, addr, script string, params, out any) error {
	c, err := k.Client(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Run(ctx, script, params, out)
}

// Relayer asks an online client to send the packets on its own subnet (scripts/wol-relay.ps1).
type Relayer struct{ Hosts *Hosts }

// Relay implements wol.Relayer.
func (r Relayer) Relay(ctx context.Context, via string, req wol.RelayRequest) (int, error) {
	var out struct {
		Sent int `json:"sent"`
	}
	if err := r.Hosts.Run(ctx, via, "wol-relay", req, &out); err != nil {
		return 0, err
	}
	return out.Sent, nil
}

// Prober checks over WinRM which hosts answer (scripts/probe.ps1).
type Prober struct{ Hosts *Hosts }

// Probe implements wol.Prober.
func (p Prober) Probe(ctx context.Context, hosts []string) (map[string]bool, error) {
	online := map[string]bool{}
	remote.FanOut(ctx, func(yield func(string) bool) {
		for _, h := range hosts {
			if !yield(h) {
				return
			}
		}
	}, remote.FanOutOptions{Retries: -1, Label: "probe"}, func(ctx context.Context, host string) (struct{}, error) {
		var out json.RawMessage
		return struct{}{}, p.Hosts.Run(ctx, host, "probe", map[string]any{}, &out)
	}, func(r remote.HostResult[struct{}]) {
		if r.Outcome == remote.OutcomeOK {
			online[r.Host] = true
		}
	})
	return online, nil
}

// SiteWaker wakes through the site: SMS_SleepServer.MachinesToWakeup, which answers
// NumSleepers, the sleepers an awake client on their subnet was asked to wake. That count
// is what the wake reports; client operation type 150 gives no such count (whether it
// wakes at all is unconfirmed, configmgr.md section 7).
type SiteWaker struct{ Provider *provider.Provider }

// WakeSite implements wol.SiteWaker.
func (s SiteWaker) WakeSite(ctx context.Context, req wol.SiteRequest) (int, error) {
	if req.CollectionID == "" {
		return 0, exit.Usagef("pass --collection with --mode site", "site wake needs a collection")
	}
	n, err := s.Provider.MachinesToWakeup(ctx, req.CollectionID, req.ResourceIDs)
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// Wake opens the transports a wake in this mode needs: the socket always, the relay and
// probe channels (WinRM) for relay and auto, the site channel (SMS Provider) for site.
func (s *Session) Wake(ctx context.Context, mode wol.Mode) (wol.Transports, wol.Prober, error) {
	var t wol.Transports
	var prober wol.Prober
	conn, err := s.WakeConn(ctx)
	if err != nil {
		return t, nil, err
	}
	t.Conn = conn
	switch mode {
	case wol.ModeRelay, wol.ModeAuto:
		h, err := s.Hosts(ctx)
		if err != nil {
			return t, nil, err
		}
		t.Relayer, prober = Relayer{h}, Prober{h}
	case wol.ModeSite:
		p, err := s.Provider(ctx)
		if err != nil {
			return t, nil, err
		}
		t.Site = SiteWaker{p}
	}
	return t, prober, nil
}

// NightWake opens every transport a night's wake steps may use: the socket, the relay
// channel, and the site channel when the profile names an SMS Provider.
func (s *Session) NightWake(ctx context.Context) (wol.Transports, error) {
	t, _, err := s.Wake(ctx, wol.ModeRelay)
	if err != nil {
		return t, err
	}
	p, err := s.OptionalProvider(ctx)
	if err != nil {
		return t, err
	}
	if p != nil {
		t.Site = SiteWaker{p}
	}
	return t, nil
}
