package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/supervisor"
)

// errNoFDPass says a supervisor predates handing over sockets.
var errNoFDPass = errors.New("the supervisor does not hand over sockets")

// dialPort connects to a port inside the sandbox's network. The supervisor
// dials it and hands the node the connected socket, so that the bytes go
// straight between the node and the sandbox's process; a supervisor that
// cannot do that splices the connection itself.
func (s *sbox) dialPort(ctx context.Context, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, &refusal{nodeapi.CodeBadRequest, "port must be 1-65535"}
	}
	dctx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	conn, err := s.receivePort(dctx, port)
	if errors.Is(err, errNoFDPass) {
		return s.splicedPort(dctx, port)
	}
	return conn, err
}

// receivePort asks the supervisor for a connected socket.
func (s *sbox) receivePort(ctx context.Context, port int) (net.Conn, error) {
	c, err := dialBeneath(ctx, s.runDir(), supervisor.SocketName)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("the supervisor's socket is a %T", c)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = uc.SetDeadline(dl)
	}
	// A caller that goes away ends the wait at once.
	stop := context.AfterFunc(ctx, func() { _ = uc.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(uc, "GET "+supervisor.DialFDPath+"?port="+strconv.Itoa(port)+" HTTP/1.1\r\nHost: sandbox\r\n\r\n"); err != nil {
		return nil, err
	}
	// The socket rides on the answer's first bytes; read until the head
	// is complete, keeping the first descriptor and closing any other.
	fd := -1
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	var head []byte
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	for !bytes.Contains(head, []byte("\r\n\r\n")) && len(head) < 64<<10 {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		n, oobn = max(n, 0), max(oobn, 0) // a failed read may say -1
		if oobn > 0 {
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, f := range fds {
					if fd < 0 {
						fd = f
					} else {
						unix.Close(f)
					}
				}
			}
		}
		head = append(head, buf[:n]...)
		if err != nil || n == 0 {
			break
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader(head), uc)), nil)
	if err != nil {
		return nil, fmt.Errorf("the supervisor's dial answer: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound && resp.Header.Get("Content-Type") != "application/json":
		return nil, errNoFDPass
	case resp.StatusCode != http.StatusOK:
		var e nodeapi.ErrorResponse
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		if e.Code == "" {
			e.Code = nodeapi.CodeInternal
		}
		msg := "the supervisor refused the dial: " + e.Error
		if e.Code == nodeapi.CodeNotListening {
			msg = "nothing listens on port " + strconv.Itoa(port) + " in the sandbox"
		}
		return nil, &refusal{code: e.Code, msg: msg}
	case fd < 0:
		return nil, errors.New("the supervisor answered a dial without a socket")
	}
	// The sandbox controls its supervisor: take only a stream socket.
	if t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_STREAM {
		return nil, errors.New("the supervisor handed over something that is not a stream socket")
	}
	f := os.NewFile(uintptr(fd), "sandbox-port-"+strconv.Itoa(port))
	fd = -1
	defer f.Close()
	return net.FileConn(f)
}

// splicedPort is the older way: the supervisor dials and carries the bytes.
func (s *sbox) splicedPort(ctx context.Context, port int) (net.Conn, error) {
	up, err := dialBeneath(ctx, s.runDir(), supervisor.SocketName)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(up, "GET "+supervisor.DialPath+"?port="+strconv.Itoa(port)+" HTTP/1.1\r\nHost: sandbox\r\n\r\n"); err != nil {
		up.Close()
		return nil, err
	}
	// The supervisor may never answer: its answer is awaited only until
	// the dial's deadline.
	if dl, ok := ctx.Deadline(); ok {
		_ = up.SetDeadline(dl)
	}
	br := bufio.NewReader(up)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		up.Close()
		return nil, &refusal{nodeapi.CodeNotListening, "nothing listens on port " + strconv.Itoa(port) + " in the sandbox"}
	}
	_ = up.SetDeadline(time.Time{})
	return &bufferedConn{Conn: up, r: br}, nil
}

// bufferedConn reads through the reader that holds what was read past an
// answer's head.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes, as the connection beneath does.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// DialSandbox connects to a port inside one of this node's sandboxes: the
// embedded node's way for the platform in its own process, without the
// tunnel. Its errors carry the node API's codes (see NodeCode).
func (n *Node) DialSandbox(ctx context.Context, sandboxID string, port int) (net.Conn, error) {
	s, err := n.rt.get(sandboxID)
	if err != nil {
		return nil, err
	}
	if s.paused {
		return nil, errPaused
	}
	return s.dialPort(ctx, port)
}

// NodeCode is the node API's code for a refusal.
func (e *refusal) NodeCode() nodeapi.ErrorCode { return e.code }
