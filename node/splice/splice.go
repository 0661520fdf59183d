// Package splice takes over an HTTP connection and carries raw bytes both
// ways between it and another connection: how the node and a sandbox's
// supervisor hand a caller a stream to a port inside the sandbox.
package splice

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// Hijack takes w's connection, writes head (a raw HTTP status line and
// headers) on it, and splices it with up until both directions end. upRead,
// if not nil, reads up with bytes already buffered from it. Bytes the
// client sent past its request go to up first. Hijack closes up.
func Hijack(w http.ResponseWriter, up net.Conn, head string, upRead *bufio.Reader) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "this connection cannot be taken over", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		up.Close()
		return
	}
	go func() {
		if k := buf.Reader.Buffered(); k > 0 {
			b, _ := buf.Reader.Peek(k)
			_, _ = up.Write(b)
		}
		_, _ = io.Copy(up, conn)
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	var from io.Reader = up
	if upRead != nil {
		from = upRead
	}
	_, _ = io.Copy(conn, from)
	conn.Close()
	up.Close()
}
