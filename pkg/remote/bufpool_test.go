package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/masterzen/winrm"
)

// A message's pooled buffer is not handed out again while net/http may still be writing
// it: the host answers before it reads the body (the request goes over an unbuffered pipe,
// so the write is still under way when do returns), and until the host reads, the pool
// must not hand out the message's buffer. (net/http then gives up on the write and drops
// the connection, and the buffer is left to the garbage collector.)
func TestPooledMessageOutlivesAnEarlyAnswer(t *testing.T) {
	t.Parallel()
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	read := make(chan struct{})
	got := make(chan []byte, 1)
	srv := &http.Server{ReadHeaderTimeout: time.Minute, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil {
			t.Error(err)
		}
		<-read
		b, _ := io.ReadAll(r.Body)
		got <- b
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	cfg := Config{ConnectTimeout: time.Minute, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, s := net.Pipe()
		select {
		case ln.conns <- s:
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	pool := &bufPool{}
	tr := newTransporter("http://pc1.lab.test:5985/wsman", cfg, Credentials{User: "u", Password: "p"}, nil, false)
	tr.bufs = pool
	if err := tr.Transport(&winrm.Endpoint{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.close)

	const size = 100 << 10
	msg := append(pool.get(size), bytes.Repeat([]byte{'a'}, size)...)
	if err := tr.do(t.Context(), msg, nil); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		b := pool.get(size)
		if cap(b) > 0 && cap(msg) > 0 && &b[:1][0] == &msg[:1][0] {
			t.Fatal("the pool handed out the buffer of a message still being written")
		}
		defer pool.put(b)
	}
	close(read)
	if body := <-got; bytes.Count(body, []byte{'a'}) != len(body) {
		t.Fatalf("the host read %d bytes, %d of them the message's", len(body), bytes.Count(body, []byte{'a'}))
	}
}

// pipeListener hands the server ends of net.Pipe connections to an http.Server.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, errors.New("listener closed")
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// The pool hands out buffers of at least the size asked for, and keeps only buffers of
// the sizes it hands out.
func TestBufPoolSizes(t *testing.T) {
	t.Parallel()
	var p bufPool
	for _, n := range []int{0, 1, 4 << 10, 4<<10 + 1, 200 << 10, 300 << 10} {
		if b := p.get(n); cap(b) < n || len(b) != 0 {
			t.Errorf("get(%d): len %d cap %d", n, len(b), cap(b))
		}
	}
	p.put(make([]byte, 10, 1<<20)) // too large to keep
	p.put(make([]byte, 10, 100))   // too small to keep
	var nilPool *bufPool
	nilPool.put(make([]byte, 4<<10))
	if b := nilPool.get(5); cap(b) < 5 {
		t.Errorf("nil pool: cap %d", cap(b))
	}
}
