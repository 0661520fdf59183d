// Command roost-test-agent is the agent roost's tests and demo run in
// sandboxes. It speaks the agent protocol (docs/agent-protocol.md): it
// serves a health check and sessions on ROOST_AGENT_ADDR, echoes each
// session message back, logs what it does, and runs until stopped.
//
// Flags shape its behaviour for tests: -crash-after makes it exit with a
// code after a while; -unhealthy makes its health check fail; -page PORT
// serves a small HTML page (and a websocket echo at /ws) on another port.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"
)

type session struct {
	ID            string   `json:"sessionId"`
	PresetID      string   `json:"presetId"`
	InitialPrompt string   `json:"initialPrompt,omitempty"`
	Inputs        []string `json:"inputs,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe-syscalls" {
		probeSyscalls()
		return
	}
	crashAfter := flag.Duration("crash-after", 0, "exit after this long")
	crashCode := flag.Int("crash-code", 3, "exit code of -crash-after")
	unhealthy := flag.Bool("unhealthy", false, "answer 503 on /health")
	page := flag.Int("page", 0, "serve an HTML page and a websocket echo on this port")
	tick := flag.Duration("tick", 2*time.Second, "log a line this often")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	addr := os.Getenv("ROOST_AGENT_ADDR")
	if addr == "" {
		addr = "127.0.0.1:7700"
	}
	log.Printf("test agent starting: instance=%s sandbox=%s addr=%s", os.Getenv("ROOST_INSTANCE_ID"), os.Getenv("ROOST_SANDBOX_ID"), addr)

	var mu sync.Mutex
	sessions := map[string]session{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if *unhealthy {
			http.Error(w, "unhealthy on purpose", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /sessions", func(w http.ResponseWriter, r *http.Request) {
		var s session
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil || s.ID == "" {
			http.Error(w, "bad session", http.StatusBadRequest)
			return
		}
		mu.Lock()
		sessions[s.ID] = s
		mu.Unlock()
		log.Printf("session %s opened with preset %s", s.ID, s.PresetID)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true})
	})
	mux.HandleFunc("DELETE /sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		delete(sessions, r.PathValue("id"))
		mu.Unlock()
		log.Printf("session %s closed", r.PathValue("id"))
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /sessions/{id}/ws", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		_, ok := sessions[r.PathValue("id")]
		mu.Unlock()
		if !ok {
			http.Error(w, "no such session", http.StatusNotFound)
			return
		}
		echo(w, r, "echo: ")
	})

	srv := &http.Server{Addr: addr, Handler: mux}
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatalf("listen %s: %v", addr, err)
		}
	}()
	if *page > 0 {
		pm := http.NewServeMux()
		pm.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><title>roost test page</title><h1>hello from %s</h1><p>path %s</p>\n", os.Getenv("ROOST_SANDBOX_ID"), r.URL.Path)
		})
		pm.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) { echo(w, r, "") })
		// /cookies sets what a hostile service would: cookies that would
		// shadow the platform's own, and one for a whole domain.
		pm.HandleFunc("GET /cookies", func(w http.ResponseWriter, r *http.Request) {
			for _, c := range []string{"roost_instance=tossed; Path=/api/v1/instances/" + r.URL.Query().Get("victim") + "/rpc",
				"roost_service=tossed; Path=/s/", "theirs=1; Path=/", "wide=1; Domain=" + r.URL.Query().Get("domain") + "; Path=/"} {
				w.Header().Add("Set-Cookie", c)
			}
			fmt.Fprint(w, "cookies set")
		})
		// /headers shows the credentials a request brought.
		pm.HandleFunc("GET /headers", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "authorization=%q cookie=%q", r.Header.Get("Authorization"), r.Header.Get("Cookie"))
		})
		go func() {
			if err := http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *page), pm); err != nil {
				log.Fatalf("page: %v", err)
			}
		}()
		log.Printf("serving a page on port %d", *page)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var crash <-chan time.Time
	if *crashAfter > 0 {
		crash = time.After(*crashAfter)
	}
	t := time.NewTicker(*tick)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			log.Printf("stopping")
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(sctx)
			cancel()
			return
		case <-crash:
			log.Printf("crashing with code %d on purpose", *crashCode)
			os.Exit(*crashCode)
		case <-t.C:
			log.Printf("tick %d", n)
		}
	}
}

// maxMessage is the largest websocket message the agent echoes.
const maxMessage = 64 << 20

// echo answers each websocket message with prefix + the message.
func echo(w http.ResponseWriter, r *http.Request, prefix string) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	// The library's default limit (32 KiB) would close the connection on
	// larger messages; the protocol carries messages of any size.
	c.SetReadLimit(maxMessage)
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, append([]byte(prefix), msg...)); err != nil {
			return
		}
	}
}

// probeSyscalls tries the system calls a sandbox's seccomp filter must
// refuse and prints "name errno" for each (0 when it was allowed); the
// tests of the filter run it inside a sandbox.
func probeSyscalls() {
	try := func(name string, nr uintptr, a ...uintptr) {
		args := make([]uintptr, 6)
		copy(args, a)
		_, _, errno := syscall.Syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
		fmt.Printf("%s %d\n", name, int(errno))
	}
	// Each with arguments that would do nothing harmful were it allowed.
	try("unshare-user", unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
	try("unshare-net", unix.SYS_UNSHARE, unix.CLONE_NEWNET)
	try("clone3", unix.SYS_CLONE3, 0, 0)
	try("setns", unix.SYS_SETNS, ^uintptr(0), 0)
	try("mount", unix.SYS_MOUNT, 0, 0, 0, 0, 0)
	try("umount2", unix.SYS_UMOUNT2, 0, 0)
	try("keyctl", unix.SYS_KEYCTL, 0 /* KEYCTL_GET_KEYRING_ID */, ^uintptr(2) /* session keyring */, 0)
	try("add_key", unix.SYS_ADD_KEY, 0, 0, 0, 0, 0)
	try("bpf", unix.SYS_BPF, 0, 0, 0)
	try("perf_event_open", unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0)
	try("kexec_load", unix.SYS_KEXEC_LOAD, 0, 0, 0, 0)
	try("init_module", unix.SYS_INIT_MODULE, 0, 0, 0)
	try("finit_module", unix.SYS_FINIT_MODULE, ^uintptr(0), 0, 0)
	try("delete_module", unix.SYS_DELETE_MODULE, 0, 0)
	try("userfaultfd", unix.SYS_USERFAULTFD, 0)
	try("io_uring_setup", unix.SYS_IO_URING_SETUP, 0, 0)
	try("swapon", unix.SYS_SWAPON, 0, 0)
	try("reboot", unix.SYS_REBOOT, 0, 0, 0, 0)
	try("open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0)
	// Allowed: an ordinary call, and clone/unshare without namespaces.
	try("getpid", unix.SYS_GETPID)
	try("unshare-files", unix.SYS_UNSHARE, unix.CLONE_FILES)
}
