package remote

import (
	"sync"
	"sync/atomic"
)

// bufPool keeps the byte buffers a Connector's clients write messages into and read
// answers into, so that an action does not allocate a buffer per message: a run sends
// tens of thousands of messages of a few kilobytes each. Buffers are kept by size class
// (a Send of a script is ten times a Receive). Safe for concurrent use; a nil pool
// allocates afresh.
type bufPool struct {
	classes [len(bufClasses)]sync.Pool // *[]byte of cap bufClasses[i]
}

// bufClasses are the capacities kept; larger buffers are not held for the whole run.
var bufClasses = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10}

// get returns an empty buffer of capacity at least n.
func (b *bufPool) get(n int) []byte {
	for i, c := range bufClasses {
		if n > c {
			continue
		}
		if b != nil {
			if v, ok := b.classes[i].Get().(*[]byte); ok {
				return (*v)[:0]
			}
		}
		return make([]byte, 0, c)
	}
	return make([]byte, 0, n)
}

// put gives a buffer back; its contents must no longer be read by anyone.
func (b *bufPool) put(s []byte) {
	if b == nil {
		return
	}
	for i := len(bufClasses) - 1; i >= 0; i-- {
		if cap(s) >= bufClasses[i] {
			if cap(s) <= 2*bufClasses[i] {
				s = s[:0]
				b.classes[i].Put(&s)
			}
			return
		}
	}
}

// sharedBody is a message that the requests of one post carry (the legs of a handshake
// may send it more than once). net/http may still be writing a request's body after
// RoundTrip returned (a host that answers before reading it), so the buffer goes back to
// the pool only when post is done with it and every request that carried it has been
// written. A request whose write fails keeps the buffer out of the pool for good (the
// garbage collector takes it): a failed write is not followed by another read of it we
// could wait for.
type sharedBody struct {
	buf  []byte
	pool *bufPool
	refs atomic.Int32
}

func newSharedBody(buf []byte, pool *bufPool) *sharedBody {
	s := &sharedBody{buf: buf, pool: pool}
	s.refs.Store(1) // post's own
	return s
}

// hold counts a request that will read the message.
func (s *sharedBody) hold() { s.refs.Add(1) }

// release drops one holder; the last gives the buffer back.
func (s *sharedBody) release() {
	if s.refs.Add(-1) == 0 {
		s.pool.put(s.buf)
	}
}
