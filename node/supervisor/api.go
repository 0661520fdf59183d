package supervisor

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/splice"
)

// Paths of the supervisor's API on its unix socket.
const (
	StatusPath       = "/status"
	EventsPath       = "/events"
	RestartAgentPath = "/agent/restart"
	ExecPath         = "/exec"
	ShutdownPath     = "/shutdown"
	DialPath         = "/dial"
	// DialFDPath connects like DialPath but hands the caller the connected
	// socket itself (SCM_RIGHTS on the unix socket) with a 200 answer, so
	// that its bytes need not pass through the supervisor.
	DialFDPath = "/dial-fd"
	// ClaimPath makes a warm pool member a sandbox (see Claim).
	ClaimPath = "/claim"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// refuse answers a failed call with its code, which the node passes on.
func refuse(w http.ResponseWriter, code nodeapi.ErrorCode, msg string) {
	writeJSON(w, code.Status(), nodeapi.ErrorResponse{Error: msg, Code: code})
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
		if len(s.cur().Entrypoint) == 0 {
			refuse(w, nodeapi.CodeNoAgent, "this sandbox has no agent")
			return
		}
		go s.restartAgent()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST "+ExecPath, func(w http.ResponseWriter, r *http.Request) {
		var req ExecRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			refuse(w, nodeapi.CodeBadRequest, "bad exec request")
			return
		}
		res, err := s.exec(req)
		if err != nil {
			refuse(w, nodeapi.CodeInternal, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST "+ExecPath+"/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"cancelled": s.cancelExec(r.PathValue("id"))})
	})
	mux.HandleFunc("POST "+ClaimPath, func(w http.ResponseWriter, r *http.Request) {
		var c Claim
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&c); err != nil || c.SandboxID == "" {
			refuse(w, nodeapi.CodeBadRequest, "bad claim: it needs a JSON body with a sandboxId")
			return
		}
		if err := s.claim(c); err != nil {
			refuse(w, nodeapi.CodeClaimed, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST "+ShutdownPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		go s.shutdown()
	})
	// Dial connects to a port inside the sandbox's network and then carries
	// raw bytes both ways on the caller's connection.
	mux.HandleFunc("GET "+DialPath, func(w http.ResponseWriter, r *http.Request) {
		if up := dialPort(w, r); up != nil {
			splice.Hijack(w, up, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", nil)
		}
	})
	mux.HandleFunc("GET "+DialFDPath, func(w http.ResponseWriter, r *http.Request) {
		up := dialPort(w, r)
		if up == nil {
			return
		}
		defer up.Close()
		_ = sendConn(w, up)
	})
	return mux
}

// dialPort connects to the port a dial request names, inside the
// sandbox's network, or answers why not (and returns nil).
func dialPort(w http.ResponseWriter, r *http.Request) *net.TCPConn {
	port, err := strconv.Atoi(r.URL.Query().Get("port"))
	if err != nil || port < 1 || port > 65535 {
		refuse(w, nodeapi.CodeBadRequest, "port must be 1-65535")
		return nil
	}
	up, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		refuse(w, nodeapi.CodeNotListening, "nothing listens on port "+strconv.Itoa(port))
		return nil
	}
	return up.(*net.TCPConn)
}
