package node

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/splice"
	"github.com/roosthq/roost/node/supervisor"
)

// apiError answers a failed call with the code of its refusal; anything
// else is internal.
func apiError(w http.ResponseWriter, err error) {
	code := nodeapi.CodeInternal
	var rf *refusal
	if errors.As(err, &rf) {
		code = rf.code
	}
	refuse(w, code, err.Error())
}

// refuse answers a call with a code and a sentence.
func refuse(w http.ResponseWriter, code nodeapi.ErrorCode, msg string) {
	writeJSON(w, code.Status(), nodeapi.ErrorResponse{Error: msg, Code: code})
}

// withBox runs h with the sandbox the path names, or refuses.
func (rt *runtime) withBox(h func(w http.ResponseWriter, r *http.Request, s *sbox)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := rt.get(r.PathValue("id"))
		if err != nil {
			apiError(w, err)
			return
		}
		h(w, r, s)
	}
}

// sandboxRoutes adds the sandbox endpoints to the node's API.
func (n *Node) sandboxRoutes(mux *http.ServeMux) {
	rt := n.rt
	withBox := rt.withBox
	mux.HandleFunc("GET "+nodeapi.SandboxesPath, func(w http.ResponseWriter, r *http.Request) {
		out := []nodeapi.SandboxInfo{}
		for _, id := range rt.ids() {
			if s, err := rt.get(id); err == nil {
				out = append(out, rt.info(s))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("PUT "+nodeapi.PoolPath, func(w http.ResponseWriter, r *http.Request) {
		var cfg nodeapi.PoolConfig
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&cfg); err != nil {
			refuse(w, nodeapi.CodeBadRequest, "bad pool config: "+err.Error())
			return
		}
		if err := rt.setPools(cfg); err != nil {
			refuse(w, nodeapi.CodeBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, rt.poolStatus())
	})
	mux.HandleFunc("PUT "+nodeapi.SandboxPath, func(w http.ResponseWriter, r *http.Request) {
		var spec nodeapi.SandboxSpec
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&spec); err != nil || spec.SandboxID != r.PathValue("id") {
			refuse(w, nodeapi.CodeBadRequest, "bad sandbox spec")
			return
		}
		info, err := rt.create(r.Context(), spec)
		if err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
	mux.HandleFunc("GET "+nodeapi.SandboxPath, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		writeJSON(w, http.StatusOK, rt.info(s))
	}))
	mux.HandleFunc("DELETE "+nodeapi.SandboxPath, func(w http.ResponseWriter, r *http.Request) {
		// A sandbox still starting is stopped once it has started.
		// ?keep=workspace removes all of it but its workspace, which a
		// later sandbox of the instance takes over (ReuseWorkspace).
		keep := r.URL.Query().Get("keep") == "workspace"
		id := r.PathValue("id")
		s, err := rt.getStarted(r.Context(), id)
		if errors.Is(err, errNoSandbox) {
			// Not running: what is left of it on disk goes (or all but
			// its workspace).
			if err := rt.removeDead(id, keep); err != nil {
				apiError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
			return
		}
		if err != nil {
			apiError(w, err)
			return
		}
		stop := rt.stop
		if keep {
			stop = rt.stopKeepWorkspace
		}
		if err := stop(r.Context(), s); err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	for path, frozen := range map[string]bool{nodeapi.SandboxPausePath: true, nodeapi.SandboxResumePath: false} {
		mux.HandleFunc("POST "+path, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
			if err := rt.pause(s, frozen); err != nil {
				apiError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, rt.info(s))
		}))
	}
	mux.HandleFunc("POST "+nodeapi.SandboxRestartPath, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		if s.paused {
			apiError(w, errPaused)
			return
		}
		if err := s.postJSON(r.Context(), supervisor.RestartAgentPath, struct{}{}, nil); err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}))
	mux.HandleFunc("GET "+nodeapi.SandboxLogsPath, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		lines, _ := strconv.Atoi(r.URL.Query().Get("lines"))
		writeJSON(w, http.StatusOK, rt.logs(s, lines))
	}))
	mux.HandleFunc("POST "+nodeapi.SandboxExecPath, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		if s.paused {
			apiError(w, errPaused)
			return
		}
		var req nodeapi.ExecRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || !idForm(req.ExecID) {
			refuse(w, nodeapi.CodeBadRequest, "bad exec request")
			return
		}
		var res nodeapi.ExecResult
		kills := s.cg.oomKills()
		if err := s.postJSON(r.Context(), supervisor.ExecPath, req, &res); err != nil {
			apiError(w, err)
			return
		}
		// Killed (SIGKILL: 137) while the sandbox's memory cgroup killed
		// for lack of memory: the command ran out of it.
		if res.ExitCode == 137 && !res.TimedOut && !res.Cancelled && kills >= 0 && s.cg.oomKills() > kills {
			res.OutOfMemory, res.LimitMB = true, s.spec.MemoryMB
		}
		if res.ExitCode != 0 && s.diskFull() {
			res.DiskFull, res.DiskMB = true, s.spec.DiskMB
		}
		writeJSON(w, http.StatusOK, res)
	}))
	mux.HandleFunc("POST "+nodeapi.SandboxExecCancel, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		var out map[string]bool
		if err := s.postJSON(r.Context(), supervisor.ExecPath+"/"+r.PathValue("exec")+"/cancel", struct{}{}, &out); err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}))
	mux.HandleFunc("GET "+nodeapi.SandboxExecOutput, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		q := r.URL.Query()
		offset, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
		limit, _ := strconv.ParseInt(q.Get("limit"), 10, 64)
		b, total, err := rt.execOutput(s, r.PathValue("exec"), q.Get("stream"), offset, limit)
		if err != nil {
			refuse(w, nodeapi.CodeNoOutput, "no output for this exec")
			return
		}
		w.Header().Set("X-Total-Size", strconv.FormatInt(total, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	}))
	// Dial carries raw bytes between the caller and a port inside the
	// sandbox's network: a socket the supervisor connected and handed over.
	mux.HandleFunc("GET "+nodeapi.SandboxDialPath, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		if s.paused {
			apiError(w, errPaused)
			return
		}
		port, _ := strconv.Atoi(r.URL.Query().Get("port"))
		up, err := s.dialPort(r.Context(), port)
		if err != nil {
			apiError(w, err)
			return
		}
		// 101 lets an http.Client on the other side take the connection as
		// a raw stream (its Body becomes read-write).
		splice.Hijack(w, up, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: roost-dial\r\n\r\n", nil)
	}))
}
