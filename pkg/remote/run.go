package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/patchnight/patchnight/scripts"
)

// maxOutput bounds what a script may print (stdout and stderr together).
const maxOutput = 16 << 20

// cleanupTimeout bounds the Signal and Delete that end a shell after a failure, a
// timeout or a cancel. They go out on a fresh context of their own (the operation's may
// have ended), so a dead host costs at most this long more.
const cleanupTimeout = 5 * time.Second

// Run runs the named script from scripts/ (e.g. "client-trigger-schedule") on the host
// with params marshalled as its JSON parameter object (nil: {}), and decodes the one JSON
// object the script prints into out (nil: discard). The whole operation is bounded by
// Config.OperationTimeout and by ctx; when either ends, Run returns promptly with a
// timeout (or canceled) *Error, whatever the host is doing. Every failure is an *Error.
func (c *Client) Run(ctx context.Context, script string, params any, out any) error {
	s, err := c.scripts.get(script)
	if err != nil {
		return &Error{Host: c.host, Op: script, Kind: KindProtocol, Message: err.Error(), Err: err}
	}
	return c.runScript(ctx, script, s.text, s.b64, params, out)
}

// scriptCache keeps each script a Connector's clients run, composed (scripts.Get) and in
// base64 (the second line of its stdin): scripts are fixed for the life of the binary, so
// a run of thousands of actions reads and encodes each only once. Safe for concurrent use.
type scriptCache struct {
	m sync.Map // name -> *cachedScript
}

type cachedScript struct {
	text string
	b64  []byte // base64 of text; read only
}

// get returns the named script; a nil cache reads it afresh.
func (c *scriptCache) get(name string) (*cachedScript, error) {
	if c != nil {
		if v, ok := c.m.Load(name); ok {
			return v.(*cachedScript), nil
		}
	}
	text, err := scripts.Get(name)
	if err != nil {
		return nil, err
	}
	s := &cachedScript{text: text, b64: base64.StdEncoding.AppendEncode(nil, []byte(text))}
	if c == nil {
		return s, nil
	}
	v, _ := c.m.LoadOrStore(name, s)
	return v.(*cachedScript), nil
}

// Result is what a script run produced, for callers that want the raw output.
type execResult struct {
	stdout, stderr []byte
	exitCode       int
}

// runScript runs text (script64: its base64, or nil to encode it here) with params.
func (c *Client) runScript(parent context.Context, op, text string, script64 []byte, params any, out any) error {
	if name, _ := scripts.Op(text); name == "" {
		return &Error{Host: c.host, Op: op, Kind: KindProtocol, Message: "the script has no '# patchnight-op: name/N' first line"}
	} else if op == "" {
		op = name
	}
	pj := []byte("{}")
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return &Error{Host: c.host, Op: op, Kind: KindProtocol, Message: "cannot encode the parameters: " + err.Error(), Err: err}
		}
		if len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
			return &Error{Host: c.host, Op: op, Kind: KindProtocol, Message: "the parameters must encode to a JSON object"}
		}
		pj = b
	}
	if n := scripts.ParamsChars(pj); n > scripts.MaxParamsChars {
		return &Error{Host: c.host, Op: op, Kind: KindProtocol, Code: "params-too-long",
			Message: fmt.Sprintf("the parameters are %d characters of JSON; Windows PowerShell 5.1's ConvertFrom-Json on the host refuses more than %d", n, scripts.MaxParamsChars),
			Hint:    "split the request into smaller calls"}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, c.cfg.OperationTimeout)
	defer cancel()
	if script64 == nil {
		script64 = base64.StdEncoding.AppendEncode(nil, []byte(text))
	}
	stdin := scripts.AppendInputEncoded(c.bufs.get(scripts.InputEncodedLen(script64, pj)), script64, pj)
	res, err := c.exec(ctx, c.command, stdin)
	c.bufs.put(stdin) // exec copied it into its Send messages
	if err != nil {
		return c.classify(parent, ctx, op, err, time.Since(start))
	}
	return c.decode(op, res, out)
}

// exec runs one command with stdin in a fresh shell: Create, Command (in pipe mode, see
// commandRequest), Send (one request per sendChunk bytes, End on the last), Receive until
// Done, Delete (after a Signal when the command did not finish).
func (c *Client) exec(ctx context.Context, command string, stdin []byte) (*execResult, error) {
	p := &c.wc.Parameters
	var shellID string
	err := c.t.do(ctx, c.msgs.build(msgCreate, p, command, &values{url: c.url}, c.bufs), func(a []byte) (err error) {
		if shellID, err = parseCreate(a); err != nil {
			return &httpStatusError{status: 200, body: err.Error()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	done := false
	var cmdID string
	defer func() { c.cleanup(ctx, shellID, cmdID, done) }()

	err = c.t.do(ctx, c.msgs.build(msgCommand, p, command, &values{url: c.url, shell: shellID}, c.bufs), func(a []byte) (err error) {
		if cmdID, err = parseCommand(a); err != nil {
			return &httpStatusError{status: 200, body: err.Error()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	chunk := sendChunk(p.EnvelopeSize)
	for len(stdin) > 0 {
		n := min(chunk, len(stdin))
		last := n == len(stdin)
		kind := msgSend
		if last {
			kind = msgSendLast
		}
		if err := c.t.do(ctx, c.msgs.build(kind, p, command, &values{url: c.url, shell: shellID, cmd: cmdID, stdin: stdin[:n]}, c.bufs), nil); err != nil {
			return nil, err
		}
		stdin = stdin[n:]
	}

	res := &execResult{}
	receive := &values{url: c.url, shell: shellID, cmd: cmdID}
	for !done {
		var finished bool
		var code int
		err := c.t.do(ctx, c.msgs.build(msgReceive, p, command, receive, c.bufs), func(a []byte) (err error) {
			if finished, code, err = parseReceive(a, &res.stdout, &res.stderr); err != nil {
				return &httpStatusError{status: 200, body: "unreadable Receive answer: " + err.Error()}
			}
			return nil
		})
		if err != nil {
			if isOperationTimeout(err) && ctx.Err() == nil {
				continue // long poll ended without output: ask again
			}
			return nil, err
		}
		if len(res.stdout)+len(res.stderr) > maxOutput {
			return nil, &httpStatusError{status: 200, body: fmt.Sprintf("the script printed more than %d bytes", maxOutput)}
		}
		if finished {
			done = true
			res.exitCode = code
		}
	}
	return res, nil
}

// cleanup ends the shell: Delete, after a Signal (terminate) when the command did not
// finish. It runs also when the operation timed out or was canceled, so that a script
// the client gave up on does not go on changing the host (or the site) unseen: both
// requests go out on a fresh context bounded by cleanupTimeout, best effort, so a host
// that stopped answering still lets Run return promptly. A failed Signal does not stop
// the Delete, which ends the shell's processes too.
func (c *Client) cleanup(ctx context.Context, shellID, cmdID string, finished bool) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	p := &c.wc.Parameters
	if !finished && cmdID != "" {
		_ = c.t.do(cctx, c.msgs.build(msgSignal, p, c.command, &values{url: c.url, shell: shellID, cmd: cmdID}, c.bufs), nil)
	}
	if cctx.Err() != nil {
		return
	}
	_ = c.t.do(cctx, c.msgs.build(msgDelete, p, c.command, &values{url: c.url, shell: shellID}, c.bufs), nil)
}

// scriptError is the error object a script prints.
type scriptError struct {
	Error *struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
}

// decode interprets what the script printed: one JSON object on stdout; an "error" member
// or a non-zero exit code is a script failure (message from the JSON, else from the
// CLIXML on stderr).
func (c *Client) decode(op string, res *execResult, out any) error {
	obj := lastJSONObject(res.stdout)
	var se scriptError
	if obj != nil {
		_ = json.Unmarshal(obj, &se)
	}
	serr := c.creds.scrub(DecodeCLIXML(string(res.stderr)))
	if se.Error != nil {
		code := strings.Trim(string(se.Error.Code), `"`)
		msg := c.creds.scrub(strings.TrimSpace(se.Error.Message))
		if msg == "" {
			msg = "the script reported an error"
		}
		if code == "" {
			code = "error"
		}
		return &Error{Host: c.host, Op: op, Kind: KindScript, Code: code, Message: msg}
	}
	if res.exitCode != 0 {
		msg := firstLines(serr, 3)
		if msg == "" {
			msg = fmt.Sprintf("the script exited with code %d and printed no error", res.exitCode)
		}
		return &Error{Host: c.host, Op: op, Kind: KindScript, Code: fmt.Sprintf("exit-%d", res.exitCode), Message: msg}
	}
	if obj == nil {
		msg := "the script printed no JSON object"
		if serr != "" {
			msg += ": " + firstLines(serr, 3)
		}
		return &Error{Host: c.host, Op: op, Kind: KindProtocol, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(obj, out); err != nil {
			return &Error{Host: c.host, Op: op, Kind: KindProtocol, Message: "the script's JSON does not fit the result: " + err.Error(), Err: err}
		}
	}
	return nil
}

// lastJSONObject returns the last line of stdout that is a JSON object (scripts print
// exactly one; anything a profile or a module printed before it is ignored).
func lastJSONObject(stdout []byte) []byte {
	lines := bytes.Split(stdout, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) > 0 && l[0] == '{' && json.Valid(l) {
			return l
		}
	}
	if t := bytes.TrimSpace(stdout); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return t
	}
	return nil
}

func firstLines(s string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, " / ")
}
