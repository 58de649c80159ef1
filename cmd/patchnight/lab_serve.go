package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/labsite"
	"github.com/patchnight/patchnight/pkg/output"
)

func newLabServeCmd(app *App) *cobra.Command {
	var path, addr string
	var plainHTTP bool
	var wolPort int
	var tick time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a lab site on loopback: WS-Man endpoint for every lab host and the SMS Provider, and Wake-on-LAN",
		Long: `Serve a lab site on loopback until interrupted: a WS-Man endpoint (HTTPS with a
throw-away CA, NTLM) that answers patchnight's scripts for every simulated host and for the
SMS Provider (` + labsite.ProviderHost + `), and sockets on every lab subnet's broadcast address
that take magic packets. It writes, next to the database, a configuration file with a "lab"
profile, the lab CA and a credential file (mode 0600), and prints the command line to use.
Every host name goes to the endpoint (winrm.connect_to); the HTTP Host header names the host.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return exit.Usagef("pass --db PATH (build one with patchnight lab init)", "no lab database")
			}
			if _, err := os.Stat(path); err != nil {
				return exit.Wrap(exit.Usage, err, "build one with: patchnight lab init --db "+path, "lab database %s", path)
			}
			if tick < 0 {
				return exit.Usagef("use 0 to leave the lab's state as it is until a host is acted on", "--tick %s is negative", tick)
			}
			if h, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(h).IsLoopback() {
				return exit.Usagef("use a loopback address such as 127.0.0.1:15986", "--addr %q is not a loopback host:port", addr)
			}
			var pw [18]byte
			if _, err := rand.Read(pw[:]); err != nil {
				return fmt.Errorf("lab password: %w", err)
			}
			password := hex.EncodeToString(pw[:])
			s, err := labsite.Start(cmd.Context(), path, labsite.Options{Addr: addr, HTTP: plainHTTP, Password: password,
				Tick: tick})
			if err != nil {
				return fmt.Errorf("start the lab site: %w", err) // keeps the site's exit code (address in use: 64)
			}
			defer s.Close()
			n, err := s.ServeBroadcasts(cmd.Context(), wolPort)
			if err != nil {
				fmt.Fprintf(app.IO.Err, "patchnight: Wake-on-LAN from other processes will not reach the lab: %v\n", err)
			}
			dir := filepath.Dir(path)
			abs, _ := filepath.Abs(path)
			cred := filepath.Join(dir, "patchnight-lab.credential")
			ca := filepath.Join(dir, "patchnight-lab-ca.pem")
			cfgPath := filepath.Join(dir, "patchnight-lab.yaml")
			if err := writeNew(cred, []byte(password+"\n"), true); err != nil {
				return err
			}
			https := "true"
			if plainHTTP {
				https = "false"
			} else if err := writeNew(ca, s.PKI.CAPEM, true); err != nil {
				return err
			}
			_, port, _ := net.SplitHostPort(s.Addr())
			credAbs, _ := filepath.Abs(cred)
			caAbs, _ := filepath.Abs(ca)
			lines := []string{
				"# Written by patchnight lab serve: a profile for the lab site it serves.",
				"default_profile: lab",
				"profiles:",
				"  lab:",
				"    site_code: LAB",
				"    sql: sqlite:" + abs,
				"    provider: " + labsite.ProviderHost,
				"    state_dir: " + labStateDir(abs),
				"    time_zone: UTC",
				"    winrm:",
				"      auth: ntlm",
				`      user: '` + labsite.User + `'`,
				"      credential_file: " + credAbs,
				"      https: " + https,
				"      port: " + port,
			}
			if !plainHTTP {
				// TLS settings only for HTTPS: the client refuses them for plain HTTP.
				lines = append(lines,
					"      ca_file: "+caAbs,
					"      server_name: "+labsite.ServerName)
			}
			lines = append(lines,
				"      ntlm_encryption: true",
				"      connect_to: "+s.Addr(),
				"    wol:",
				fmt.Sprintf("      port: %d", wolPort),
				"")
			conf := strings.Join(lines, "\n")
			if err := writeNew(cfgPath, []byte(conf), true); err != nil {
				return err
			}
			fmt.Fprintf(app.IO.Out, "lab site %s serving WS-Man on %s and Wake-on-LAN on %d lab addresses (UDP %d)\n", path, s.Addr(), n, wolPort)
			fmt.Fprintf(app.IO.Out, "use it with: patchnight --config %s client scan --collection LAB00011\n", cfgPath)
			fmt.Fprintln(app.IO.Out, "stop with Ctrl-C")
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "db", "", "lab database (from patchnight lab init)")
	f.StringVar(&addr, "addr", "127.0.0.1:15986", "loopback address of the WS-Man endpoint")
	f.BoolVar(&plainHTTP, "http", false, "serve plain HTTP (NTLM with message encryption) instead of HTTPS")
	f.IntVar(&wolPort, "wol-port", 40009, "UDP port for magic packets on the lab subnets' broadcast addresses")
	f.DurationVar(&tick, "tick", 30*time.Second, "how often the lab applies what is due (restarted machines back, install jobs ended, state messages sent); 0: only when a host is acted on")
	onlyFormats(cmd, output.Table) // a server: its lines are a log, not a result
	return cmd
}

// labStateDir is the state folder (journal, lock, reports) of the lab profile lab serve
// writes for the lab database at db: patchnight-state beside it. demo --keep uses the same
// folder, so that the profile finds the demo's journal.
func labStateDir(db string) string {
	return filepath.Join(filepath.Dir(db), "patchnight-state")
}
