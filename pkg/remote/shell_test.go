package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/scripts"
)

// bigScript returns a script of about n bytes (first line: the op header).
func bigScript(n int) string {
	var b strings.Builder
	b.WriteString("# patchnight-op: big-test/1\nparam($p)\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "$v%d = 'line %d padding the script to many Send chunks \u00e9'\n", i, i)
	}
	return b.String()
}

// The Command goes out in pipe mode (stdin a pipe, no cmd.exe), and stdin is cut so that
// no Send envelope exceeds MaxEnvelopeSize once base64-encoded; the lab refuses a larger
// envelope as Windows does.
func TestCommandPipeModeAndSendEnvelopes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen string
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{OnScript: func(_, _, script string) {
		mu.Lock()
		seen = script
		mu.Unlock()
	}}, false, lab.TestPKIOptions{})
	script := bigScript(400_000) // several Send chunks
	c := newClient(t, "pc0031.lab.test", s.config(remote.AuthNTLM), labCreds)
	var res echoResult
	if err := c.RunText(context.Background(), script, map[string]string{"k": "v"}, &res); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	same := seen == script
	mu.Unlock()
	if !same {
		t.Fatalf("the script arrived changed")
	}
	st := s.w.Stats()
	for _, o := range []string{"Command WINRS_CONSOLEMODE_STDIN=FALSE", "Command WINRS_SKIP_CMD_SHELL=TRUE"} {
		if st.Options[o] != 1 {
			t.Errorf("option %s sent %d times; options seen: %v", o, st.Options[o], st.Options)
		}
	}
	for _, o := range []string{"Command WINRS_CONSOLEMODE_STDIN=TRUE", "Command WINRS_SKIP_CMD_SHELL=FALSE"} {
		if st.Options[o] != 0 {
			t.Errorf("option %s sent", o)
		}
	}
	if st.ByAction["Send"] < 4 {
		t.Errorf("%d Send requests for a %d-byte script: want several chunks", st.ByAction["Send"], len(script))
	}
	if max := st.MaxEnvelope["Send"]; max > lab.DefaultMaxEnvelopeSize || st.TooLarge != 0 {
		t.Errorf("largest Send envelope %d bytes (limit %d), %d refused", max, lab.DefaultMaxEnvelopeSize, st.TooLarge)
	}
	sh := s.w.Shells()
	if len(sh) != 1 || sh[0].Options["Command WINRS_CONSOLEMODE_STDIN"] != "FALSE" || sh[0].Options["Create WINRS_CODEPAGE"] != "65001" ||
		!sh[0].Deleted || len(sh[0].Signals) != 0 {
		t.Errorf("shell records: %+v", sh)
	}
	// The longest host name a URL can hold still leaves the envelope within the limit.
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 52) + ".lab.test"
	if len(long) != 253 {
		t.Fatalf("host name of %d characters", len(long))
	}
	c2 := newClient(t, long, s.config(remote.AuthNTLM), labCreds)
	if err := c2.RunText(context.Background(), script, nil, nil); err != nil {
		t.Fatal(err)
	}
	if st := s.w.Stats(); st.MaxEnvelope["Send"] > lab.DefaultMaxEnvelopeSize || st.TooLarge != 0 {
		t.Errorf("with a 253-character host: largest Send envelope %d bytes (limit %d)", st.MaxEnvelope["Send"], lab.DefaultMaxEnvelopeSize)
	} else {
		t.Logf("largest Send envelope %d bytes of %d", st.MaxEnvelope["Send"], lab.DefaultMaxEnvelopeSize)
	}
}

// A host whose MaxEnvelopeSizekb is below what the client sends refuses the request with
// a WS-Man fault (0x80338111); the client reports it as a protocol error, not a busy host
// to retry.
func TestEnvelopeOverHostLimitIsRefused(t *testing.T) {
	t.Parallel()
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{MaxEnvelopeSize: 64 * 1024}, false, lab.TestPKIOptions{})
	c := newClient(t, "pc0032.lab.test", s.config(remote.AuthNTLM), labCreds)
	err := c.RunText(context.Background(), bigScript(200_000), nil, nil)
	var e *remote.Error
	if !errors.As(err, &e) || e.Kind != remote.KindProtocol || e.Code != "2150859025" || e.Transient() ||
		!strings.Contains(e.Message, "MaxEnvelopeSize") {
		t.Fatalf("want a protocol error with fault 2150859025, got %#v", err)
	}
	if st := s.w.Stats(); st.TooLarge != 1 {
		t.Errorf("%d requests refused for size, want 1", st.TooLarge)
	}
}

// When the operation times out or the caller cancels, the client still ends the shell:
// Signal (terminate) and Delete go out on a fresh context, so the script stops.
func TestTimedOutRunSignalsAndDeletesShell(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cancel bool
		kind   remote.Kind
	}{
		{"timeout", false, remote.KindTimeout},
		{"cancel", true, remote.KindCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			stopped := make(chan struct{})
			var once sync.Once
			s := startLab(t, lab.OpHandlerFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (json.RawMessage, error) {
				once.Do(func() { close(started) })
				<-ctx.Done() // a long provider call: runs until the shell ends
				close(stopped)
				return nil, ctx.Err()
			}), lab.WSManOptions{ReceiveTimeout: 20 * time.Millisecond}, false, lab.TestPKIOptions{})
			cfg := s.config(remote.AuthNTLM)
			if !tc.cancel {
				cfg.OperationTimeout = 300 * time.Millisecond
			}
			c := newClient(t, "site01.lab.test", cfg, labCreds)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, "provider-collections", map[string]any{}, nil) }()
			<-started
			if tc.cancel {
				cancel()
			}
			err := <-done
			var e *remote.Error
			if !errors.As(err, &e) || e.Kind != tc.kind {
				t.Fatalf("want %s, got %v", tc.kind, err)
			}
			// Run ends the shell before it returns: the endpoint has seen both requests.
			sh := s.w.Shells()
			if len(sh) != 1 {
				t.Fatalf("%d shells", len(sh))
			}
			r := sh[0]
			if len(r.Signals) != 1 || !strings.HasSuffix(r.Signals[0], "/signal/terminate") || !r.Deleted || r.Done || r.Op != "provider-collections" {
				t.Fatalf("the shell was not signalled and deleted: %+v", r)
			}
			<-stopped // and so the script was stopped, not left running
		})
	}
}

// A parameter object whose JSON is longer than ConvertFrom-Json accepts on Windows
// PowerShell 5.1 is refused before anything is sent.
func TestParamsOverConvertFromJSONLimitRefused(t *testing.T) {
	t.Parallel()
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{}, false, lab.TestPKIOptions{})
	c := newClient(t, "pc0033.lab.test", s.config(remote.AuthNTLM), labCreds)
	for _, tc := range []struct {
		name  string
		chars int // characters of the string value; the JSON adds 8 ({"v":""})
		ok    bool
	}{
		{"at-limit", scripts.MaxParamsChars - 8, true},
		{"one-over", scripts.MaxParamsChars - 7, false},
	} {
		before := c.Requests()
		err := c.Run(context.Background(), "probe", map[string]string{"v": strings.Repeat("a", tc.chars)}, nil)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var e *remote.Error
		if !errors.As(err, &e) || e.Kind != remote.KindProtocol || e.Code != "params-too-long" || !strings.Contains(e.Message, "2097152") {
			t.Errorf("%s: want params-too-long, got %v", tc.name, err)
		}
		if n := c.Requests() - before; n != 0 {
			t.Errorf("%s: %d requests sent for a refused call", tc.name, n)
		}
	}
}
