package node

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/supervisor"
)

// fakeSupervisor listens on a sandbox's supervisor socket and answers each
// connection with answer.
func fakeSupervisor(t *testing.T, answer func(c *net.UnixConn, req *http.Request)) *sbox {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := supervisor.ListenSocket(filepath.Join(dir, "run", supervisor.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				answer(c.(*net.UnixConn), req)
			}()
		}
	}()
	return &sbox{dir: dir}
}

func sendFD(t *testing.T, c *net.UnixConn, fd int) {
	if _, _, err := c.WriteMsgUnix([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), unix.UnixRights(fd), nil); err != nil {
		t.Error(err)
	}
}

func TestDialPortTakesTheHandedOverSocket(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		c, err := target.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "hello from the port")
			c.Close()
		}
	}()
	s := fakeSupervisor(t, func(c *net.UnixConn, req *http.Request) {
		if req.URL.Path != supervisor.DialFDPath || req.URL.Query().Get("port") != "4242" {
			t.Errorf("asked %s", req.URL)
		}
		up, err := net.Dial("tcp", target.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		defer up.Close()
		f, _ := up.(*net.TCPConn).File()
		defer f.Close()
		sendFD(t, c, int(f.Fd()))
	})
	conn, err := s.dialPort(context.Background(), 4242)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, ok := conn.(*net.TCPConn); !ok {
		t.Errorf("the connection is a %T, not the TCP socket itself", conn)
	}
	b, _ := io.ReadAll(conn)
	if string(b) != "hello from the port" {
		t.Errorf("read %q", b)
	}
}

func TestDialPortRefusesWhatIsNotAStreamSocket(t *testing.T) {
	s := fakeSupervisor(t, func(c *net.UnixConn, req *http.Request) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Error(err)
			return
		}
		defer r.Close()
		defer w.Close()
		sendFD(t, c, int(r.Fd()))
	})
	if conn, err := s.dialPort(context.Background(), 80); err == nil {
		conn.Close()
		t.Fatal("a pipe was taken as a connection")
	}
	s = fakeSupervisor(t, func(c *net.UnixConn, req *http.Request) {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	if conn, err := s.dialPort(context.Background(), 80); err == nil {
		conn.Close()
		t.Fatal("an answer without a socket was taken as a connection")
	}
}

func TestDialPortPassesTheSupervisorsCode(t *testing.T) {
	s := fakeSupervisor(t, func(c *net.UnixConn, req *http.Request) {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: 61\r\n\r\n"+
			`{"error":"nothing listens on port 80","code":"not_listening"}`)
	})
	_, err := s.dialPort(context.Background(), 80)
	var rf *refusal
	if !errors.As(err, &rf) || rf.code != nodeapi.CodeNotListening {
		t.Fatalf("err = %v, want a not_listening refusal", err)
	}
	if _, err := s.dialPort(context.Background(), 0); !errors.As(err, &rf) || rf.code != nodeapi.CodeBadRequest {
		t.Fatalf("port 0: err = %v, want bad_request", err)
	}
}

func TestDialPortFallsBackToASplicingSupervisor(t *testing.T) {
	s := fakeSupervisor(t, func(c *net.UnixConn, req *http.Request) {
		switch req.URL.Path {
		case supervisor.DialFDPath:
			_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found")
		case supervisor.DialPath:
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nspliced bytes")
		}
	})
	conn, err := s.dialPort(context.Background(), 80)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b, _ := io.ReadAll(conn)
	if string(b) != "spliced bytes" {
		t.Errorf("read %q", b)
	}
}

func TestDialPortGivesUpOnASilentSupervisor(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, path := range []string{supervisor.DialFDPath, supervisor.DialPath} {
		s := fakeSupervisor(t, func(c *net.UnixConn, req *http.Request) {
			if req.URL.Path == supervisor.DialFDPath && path == supervisor.DialPath {
				_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found")
				return
			}
			<-release // says nothing
		})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		conn, err := s.dialPort(ctx, 80)
		cancel()
		if err == nil {
			conn.Close()
			t.Fatalf("silent at %s: a dial succeeded", path)
		}
	}
}
