package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
)

// errFrameTooBig ends a connection whose client sent a frame over the
// limit, as API Gateway does with frames over 32 KB.
var errFrameTooBig = errors.New("frame is larger than the frame size limit")

// frameGuard watches the client's WebSocket frame headers on the raw
// connection and fails the read of any frame whose payload is over limit.
// (The WebSocket library enforces the message limit; frames are below it.)
type frameGuard struct {
	net.Conn
	limit  int64
	hdr    []byte
	skip   int64
	tooBig atomic.Bool
}

func (g *frameGuard) Read(p []byte) (int, error) {
	if g.tooBig.Load() {
		return 0, errFrameTooBig
	}
	n, err := g.Conn.Read(p)
	if n > 0 && !g.inspect(p[:n]) {
		g.tooBig.Store(true)
		return 0, errFrameTooBig
	}
	return n, err
}

// inspect follows frame boundaries through b and reports false at the
// first frame header announcing a payload over the limit.
func (g *frameGuard) inspect(b []byte) bool {
	for len(b) > 0 {
		if g.skip > 0 {
			k := min(int64(len(b)), g.skip)
			g.skip -= k
			b = b[k:]
			continue
		}
		g.hdr = append(g.hdr, b[0])
		b = b[1:]
		if len(g.hdr) < 2 {
			continue
		}
		l7, masked := g.hdr[1]&0x7f, g.hdr[1]&0x80 != 0
		need := 2
		switch l7 {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if masked {
			need += 4
		}
		if len(g.hdr) < need {
			continue
		}
		plen := int64(l7)
		switch l7 {
		case 126:
			plen = int64(binary.BigEndian.Uint16(g.hdr[2:4]))
		case 127:
			plen = int64(binary.BigEndian.Uint64(g.hdr[2:10]) & (1<<63 - 1))
		}
		g.hdr = g.hdr[:0]
		if plen > g.limit {
			return false
		}
		g.skip = plen
	}
	return true
}

// guardedWriter hands the WebSocket library a guarded connection on Hijack.
type guardedWriter struct {
	http.ResponseWriter
	guard **frameGuard
	limit int64
}

func (w guardedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	g := &frameGuard{Conn: c, limit: w.limit}
	// net/http sends the 101 before the hijack, so the client's first
	// frame may already sit in the server's buffer: the WebSocket library
	// reads those bytes before any through the guard, so the guard must
	// see them first, or it would parse frame headers out of step.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if !g.inspect(b) {
			g.tooBig.Store(true)
		}
	}
	*w.guard = g
	return g, brw, nil
}
