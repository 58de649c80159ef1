// Command patchnight runs the restart method for ConfigMgr software updates: compliance
// reports from the site database, client actions over WinRM, collections, Wake-on-LAN and
// the scheduled patch night. See README.md; `patchnight --help` lists the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		StdinTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		StderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
	}
	code := Main(ctx, os.Args[1:], streams, os.Getenv)
	stop()
	os.Exit(code)
}
