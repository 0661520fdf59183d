package supervisor

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Paths of the supervisor's API on its unix socket.
const (
	StatusPath       = "/status"
	EventsPath       = "/events"
	RestartAgentPath = "/agent/restart"
	ExecPath         = "/exec"
	ShutdownPath     = "/shutdown"
	DialPath         = "/dial"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Supervisor) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StatusPath, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		st := s.status
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, st)
	})
	// Events streams the agent's events as JSON lines: those after ?since=,
	// then each new one as it happens.
	mux.HandleFunc("GET "+EventsPath, func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		ctx := r.Context()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-ctx.Done():
			case <-s.done:
			case <-stop:
				return
			}
			s.mu.Lock()
			s.cond.Broadcast()
			s.mu.Unlock()
		}()
		for {
			s.mu.Lock()
			var batch []Event
			for {
				batch = batch[:0]
				for _, e := range s.events {
					if e.Seq > since {
						batch = append(batch, e)
					}
				}
				if len(batch) > 0 || ctx.Err() != nil || s.stopping {
					break
				}
				s.cond.Wait()
			}
			s.mu.Unlock()
			for _, e := range batch {
				if enc.Encode(e) != nil {
					return
				}
				since = e.Seq
			}
			if fl != nil {
				fl.Flush()
			}
			if ctx.Err() != nil || len(batch) == 0 {
				return
			}
		}
	})
	mux.HandleFunc("POST "+RestartAgentPath, func(w http.ResponseWriter, r *http.Request) {
		if len(s.spec.Entrypoint) == 0 {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "this sandbox has no agent"})
			return
		}
		go s.restartAgent()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST "+ExecPath, func(w http.ResponseWriter, r *http.Request) {
		var req ExecRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad exec request"})
			return
		}
		res, err := s.exec(req)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST "+ExecPath+"/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"cancelled": s.cancelExec(r.PathValue("id"))})
	})
	mux.HandleFunc("POST "+ShutdownPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		go s.shutdown()
	})
	// Dial connects to a port inside the sandbox's network and then carries
	// raw bytes both ways on the caller's connection.
	mux.HandleFunc("GET "+DialPath, func(w http.ResponseWriter, r *http.Request) {
		port, err := strconv.Atoi(r.URL.Query().Get("port"))
		if err != nil || port < 1 || port > 65535 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "port must be 1-65535"})
			return
		}
		up, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "nothing listens on port " + strconv.Itoa(port)})
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			up.Close()
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			up.Close()
			return
		}
		_, _ = conn.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"))
		go func() {
			if buf.Reader.Buffered() > 0 {
				b, _ := buf.Reader.Peek(buf.Reader.Buffered())
				_, _ = up.Write(b)
			}
			_, _ = io.Copy(up, conn)
			if tc, ok := up.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		}()
		_, _ = io.Copy(conn, up)
		conn.Close()
		up.Close()
	})
	return mux
}
