// Package alert tells people what a night did without anyone watching: the morning report
// and every halt go out by e-mail (SMTP through github.com/wneessen/go-mail) and to a
// webhook (a JSON POST, or a Teams- or Slack-compatible body), and on Windows each step's
// start and end and every halt go to the Application event log under the source
// patchnight. Delivery is best effort: a failure is logged and retried a few times, and
// never stops the night.
package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/patchnight/patchnight/pkg/clock"
)

// Kind is what a message is about.
type Kind string

// Kinds.
const (
	KindHalt   Kind = "halt"   // the night halted its install and restart steps
	KindReport Kind = "report" // the morning report
)

// Message is one alert or report, rendered for every channel.
type Message struct {
	Kind    Kind   // halt or report
	Subject string // one line: the mail subject, the card title
	Text    string // plain text, a few lines
	// HTML is the body of the mail when set (the morning report), shown inline; Text is
	// then the plain-text alternative.
	HTML []byte
	// JSON is a document attached to the mail under JSONName and carried as "data" in the
	// webhook's JSON body (the morning report, the halt).
	JSON     []byte
	JSONName string
	At       time.Time
}

// Sink delivers messages over one channel.
type Sink interface {
	// Name names the channel in logs ("mail", "webhook"); it never carries a secret.
	Name() string
	Send(ctx context.Context, m Message) error
}

// Dispatcher sends each message to every sink, retrying a failed delivery. It never
// returns an error: what could not be delivered is logged.
type Dispatcher struct {
	Sinks   []Sink
	Tries   int           // attempts per sink and message; 0 = 3
	Backoff time.Duration // wait before the second attempt, doubled after; 0 = 10s
	// Sleep waits between attempts; nil = the wall clock. Tests pass one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
	// Events receives step starts and ends and halts (the Windows event log); nil = none.
	Events EventSink
}

// Send delivers m to every sink, each sink independently, and reports how many took it.
func (d *Dispatcher) Send(ctx context.Context, m Message) int {
	if d == nil {
		return 0
	}
	log := d.log()
	tries := d.Tries
	if tries <= 0 {
		tries = 3
	}
	wait := d.Backoff
	if wait <= 0 {
		wait = 10 * time.Second
	}
	sleep := d.Sleep
	if sleep == nil {
		sleep = clock.Sleep
	}
	delivered := 0
	for _, s := range d.Sinks {
		w := wait
		for attempt := 1; ; attempt++ {
			err := s.Send(ctx, m)
			if err == nil {
				delivered++
				break
			}
			log.Warn("alert delivery failed", "channel", s.Name(), "kind", string(m.Kind), "attempt", attempt, "error", err)
			if attempt >= tries || ctx.Err() != nil {
				log.Error("alert not delivered", "channel", s.Name(), "kind", string(m.Kind), "subject", m.Subject, "attempts", attempt)
				break
			}
			if err := sleep(ctx, w); err != nil {
				break
			}
			w *= 2
		}
	}
	return delivered
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return d.Log
}

// Event IDs written to the Windows Application event log (source patchnight). README
// lists them.
const (
	EventStepStart uint32 = 1000 // a step occurrence started (information)
	EventStepEnd   uint32 = 1001 // a step occurrence ended ok (information)
	EventStepWarn  uint32 = 1002 // a step occurrence ended partial, aborted or failed (warning)
	EventHalt      uint32 = 1100 // the night halted (error)
	EventResume    uint32 = 1101 // an operator resumed a halted night (information)
)

// EventSink writes step events (the Windows event log).
type EventSink interface {
	Info(id uint32, msg string) error
	Warning(id uint32, msg string) error
	Error(id uint32, msg string) error
	Close() error
}

// Event writes one event if an event sink is set; a failure is logged.
func (d *Dispatcher) Event(id uint32, msg string) {
	if d == nil || d.Events == nil {
		return
	}
	var err error
	switch {
	case id == EventHalt:
		err = d.Events.Error(id, msg)
	case id == EventStepWarn:
		err = d.Events.Warning(id, msg)
	default:
		err = d.Events.Info(id, msg)
	}
	if err != nil {
		d.log().Warn("event log write failed", "event", id, "error", err)
	}
}

// Close releases the event log.
func (d *Dispatcher) Close() error {
	if d == nil || d.Events == nil {
		return nil
	}
	return d.Events.Close()
}

// ErrNotConfigured is returned by the constructors when a channel has no settings.
var ErrNotConfigured = errors.New("alert channel not configured")

func wrap(channel string, err error) error { return fmt.Errorf("%s: %w", channel, err) }
