// Package labsite runs a whole lab site on loopback: the lab database and its simulator, a
// WS-Man endpoint (HTTPS with a throw-away CA, NTLM and Basic, optionally Kerberos with a
// keytab) that answers every patchnight script for the simulated hosts and for the SMS
// Provider, and the Wake-on-LAN listener. It is the double that `patchnight lab serve`, the demo and the
// integration tests run the real product code against; nothing in the product imports it.
//
// Routing: every host name resolves to the one endpoint (Dial), and the HTTP Host header
// (the host the client meant) picks the simulated machine, as a real network would by
// address. The SMS Provider answers as the host named by ProviderHost.
package labsite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/remote"
)

// ProviderHost is the lab's site server: the SMS Provider's host name.
const ProviderHost = "cm01.lab.patchnight.test"

// ServerName is the name on the endpoint's certificate; clients verify it through the
// TLS server-name override (remote.Config.TLSServerName).
const ServerName = "winrm.lab.patchnight.test"

// User is the lab's WinRM account.
const User = `LAB\patchnight`

// Options configure Start.
type Options struct {
	// Addr is the TCP address of the WS-Man endpoint; default 127.0.0.1:0.
	Addr string
	// HTTP serves plain HTTP (NTLM or Kerberos with message encryption, as the product
	// allows) instead of HTTPS.
	HTTP bool
	// Kerberos, when set, makes the endpoint accept Kerberos service tickets for
	// HTTP/<host> checked with the keytab it names (real tickets from a KDC: tests run MIT's,
	// internal/kdctest), besides NTLM.
	Kerberos *lab.WSManKerberos
	// Clock is the lab's clock; nil means the lab's stored time advancing in real time.
	Clock *Clock
	// Faults injects failures per host on top of the simulation (offline hosts are refused
	// by the endpoint whatever this says).
	Faults func(host string) lab.Fault
	// RestartDuration is how long a restarted host stays away (default 4 minutes).
	RestartDuration time.Duration
	// Password is the lab account's password; empty means a random one (see Credentials).
	Password string
	// Tick, when positive, makes the site call Sim.Tick that often (wall clock) until
	// Close, so that restarted machines come back, install jobs end and state message
	// reporting cycles come round in the site's views without anyone acting on the hosts
	// (lab serve). With a simulated Clock the caller ticks instead.
	Tick time.Duration
}

// Site is a running lab site.
type Site struct {
	Path string
	Sim  *lab.Sim
	DB   *sql.DB // read-write handle for the provider double
	Wake *lab.WakeListener
	PKI  *lab.TestPKI // nil over HTTP

	wsman    *lab.WSMan
	srv      *http.Server
	ln       net.Listener
	http     bool
	password string
	clock    *Clock

	mu       sync.Mutex
	udp      []*net.UDPConn
	opSeq    uint32
	ops      map[uint32]clientOperation
	notices  []Notice
	draining map[string]time.Time // restarted hosts whose shell is still open, until when
	stopTick context.CancelFunc   // ends the Tick loop (Options.Tick)
	ticking  sync.WaitGroup
	// dayStarted is the last simulated morning the lab's working day began (see Morning).
	dayStarted time.Time
}

// drainGrace bounds how long a restarted host keeps answering the shell that asked for the
// restart, should the client never delete it.
const drainGrace = 30 * time.Second

// drain lets the shell that restarted host (a lower-case name, as the endpoint routes it)
// finish: a real client returns from the restart request before Windows shuts down, so
// the caller still gets the answer; until the shell is deleted (or drainGrace passes) the
// endpoint keeps answering for the host, and the simulator refuses anything new with
// "offline".
func (s *Site) drain(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining[strings.ToLower(host)] = time.Now().Add(drainGrace)
}

// isDraining reports whether host's restart shell is still being answered.
func (s *Site) isDraining(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.draining[host]
	if ok && time.Now().After(until) {
		delete(s.draining, host)
		return false
	}
	return ok
}

// shellDone ends host's drain when its shell is deleted.
func (s *Site) shellDone(host, action string) {
	if action != "Delete" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.draining, host)
}

// Start opens the lab database at path and serves it. Close stops everything.
func Start(ctx context.Context, path string, opt Options) (*Site, error) {
	s := &Site{Path: path, http: opt.HTTP, clock: opt.Clock, ops: map[uint32]clientOperation{}, draining: map[string]time.Time{}}
	var clock func() time.Time
	if opt.Clock != nil {
		clock = opt.Clock.Now
	}
	var simOpts []lab.SimOption
	if opt.RestartDuration > 0 {
		simOpts = append(simOpts, lab.WithRestartDuration(opt.RestartDuration))
	}
	sim, err := lab.OpenSim(path, clock, simOpts...)
	if err != nil {
		return nil, fmt.Errorf("open lab %s: %w", path, err)
	}
	s.Sim = sim
	// The working day of the day the lab starts in has begun already if it is past 08:30.
	if now := sim.Now(); now.Hour()*60+now.Minute() >= 8*60+30 {
		s.dayStarted = time.Date(now.Year(), now.Month(), now.Day(), 8, 30, 0, 0, time.UTC)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(20000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open lab %s: %w", path, err)
	}
	s.DB = db
	hosts, err := lab.LoadWakeHosts(ctx, db)
	if err != nil {
		s.Close()
		return nil, err
	}
	if s.Wake, err = lab.NewWakeListener(ctx, sim, hosts); err != nil {
		s.Close()
		return nil, err
	}
	s.password = opt.Password
	if s.password == "" {
		var pw [18]byte
		if _, err := rand.Read(pw[:]); err != nil {
			s.Close()
			return nil, fmt.Errorf("lab password: %w", err)
		}
		s.password = hex.EncodeToString(pw[:])
	}
	s.wsman = lab.NewWSMan(lab.OpHandlerFunc(s.handle), lab.WSManOptions{
		Users:          map[string]string{User: s.password},
		DisableBasic:   opt.HTTP,
		Kerberos:       opt.Kerberos,
		ReceiveTimeout: 5 * time.Second,
		OnRequest:      s.shellDone,
		Faults: func(host string) lab.Fault {
			if !strings.EqualFold(host, ProviderHost) {
				if on, err := sim.Online(context.Background(), host); (err != nil || !on) && !s.isDraining(host) {
					return lab.Fault{Kind: lab.FaultRefuse}
				}
			}
			if opt.Faults != nil {
				return opt.Faults(host)
			}
			return lab.Fault{}
		},
	})
	addr := opt.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if h, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(h).IsLoopback() {
		s.Close()
		return nil, fmt.Errorf("lab endpoint address %q: the lab listens on loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			// The port is the caller's choice: another one is the remedy (64, not a
			// dependency that is down). The cause is dropped from the text: it only
			// repeats the address in the socket library's words.
			return nil, &exit.Error{Code: exit.Usage, Msg: fmt.Sprintf("the lab endpoint address %s is in use", addr),
				Hint: "give another port with --addr, or stop the process that listens on it"}
		}
		return nil, fmt.Errorf("lab endpoint: %w", err)
	}
	// Handshake errors of clients that refuse the lab's certificate (tests do that on
	// purpose) are the client's to report, not noise on the lab's stderr.
	s.srv = &http.Server{Handler: s.wsman, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	s.wsman.Attach(s.srv)
	if !opt.HTTP {
		pki, err := lab.NewTestPKI(lab.TestPKIOptions{Names: []string{ServerName, "localhost", "127.0.0.1"}})
		if err != nil {
			ln.Close()
			s.Close()
			return nil, err
		}
		s.PKI = pki
		s.srv.TLSConfig = pki.ServerTLSConfig()
		s.ln = ln
		go s.srv.ServeTLS(ln, "", "")
	} else {
		s.ln = ln
		go s.srv.Serve(ln)
	}
	if opt.Tick > 0 {
		tctx, cancel := context.WithCancel(context.Background())
		s.stopTick = cancel
		s.ticking.Add(1)
		go s.tickLoop(tctx, opt.Tick)
	}
	return s, nil
}

// tickLoop calls Sim.Tick every d until ctx ends; a failed tick is tried again next time.
func (s *Site) tickLoop(ctx context.Context, d time.Duration) {
	defer s.ticking.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.Sim.Tick(ctx) // a failed tick is tried again at the next
		}
	}
}

// Close stops the endpoint and the listener and closes the database.
func (s *Site) Close() error {
	var errs []error
	if s.stopTick != nil {
		s.stopTick()
		s.ticking.Wait()
	}
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.srv.Shutdown(ctx)
		cancel()
		s.srv.Close()
	}
	if s.wsman != nil {
		s.wsman.Close()
	}
	s.mu.Lock()
	for _, c := range s.udp {
		c.Close()
	}
	s.udp = nil
	s.mu.Unlock()
	if s.Wake != nil {
		errs = append(errs, s.Wake.Close())
	}
	if s.DB != nil {
		errs = append(errs, s.DB.Close())
	}
	if s.Sim != nil {
		errs = append(errs, s.Sim.Close())
	}
	return errors.Join(errs...)
}

// Addr is the endpoint's TCP address.
func (s *Site) Addr() string { return s.ln.Addr().String() }

// Stats returns the endpoint's request counters.
func (s *Site) Stats() lab.WSManStats { return s.wsman.Stats() }

// Dial opens a connection to the endpoint whatever address is asked for: the lab's DNS.
func (s *Site) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, s.Addr())
}

// RemoteConfig is how product code reaches the lab: NTLM over HTTPS verified against the
// lab's CA (or NTLM over HTTP when the lab serves HTTP), every host dialled to the endpoint.
func (s *Site) RemoteConfig() remote.Config {
	_, port, _ := net.SplitHostPort(s.Addr())
	var p int
	fmt.Sscan(port, &p)
	c := remote.Config{Auth: remote.AuthNTLM, Port: p, Dial: s.Dial, ConnectTimeout: 5 * time.Second,
		OperationTimeout: 30 * time.Second}
	if s.http {
		c.HTTP = true
	} else {
		c.CAPEM = s.PKI.CAPEM
		c.TLSServerName = ServerName
	}
	return c
}

// Credentials are the lab account's; the password is random for each Start.
func (s *Site) Credentials() remote.Credentials {
	return remote.Credentials{User: User, Password: s.password}
}

// result marshals v as the one JSON object a script prints.
func result(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("lab result: %w", err)
	}
	return b, nil
}
