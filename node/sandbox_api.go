package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/supervisor"
)

func apiError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errNoSandbox):
		status = http.StatusNotFound
	case errors.Is(err, errPaused):
		status = http.StatusConflict
	}
	writeJSON(w, status, nodeapi.ErrorResponse{Error: err.Error()})
}

// sandboxRoutes adds the sandbox endpoints to the node's API.
func (n *Node) sandboxRoutes(mux *http.ServeMux) {
	rt := n.rt
	withBox := func(h func(w http.ResponseWriter, r *http.Request, s *sbox)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s, err := rt.get(r.PathValue("id"))
			if err != nil {
				apiError(w, err)
				return
			}
			h(w, r, s)
		}
	}
	mux.HandleFunc("GET "+nodeapi.SandboxesPath, func(w http.ResponseWriter, r *http.Request) {
		out := []nodeapi.SandboxInfo{}
		for _, id := range rt.ids() {
			if s, err := rt.get(id); err == nil {
				out = append(out, rt.info(s))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("PUT "+nodeapi.SandboxPath, func(w http.ResponseWriter, r *http.Request) {
		var spec nodeapi.SandboxSpec
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&spec); err != nil || spec.SandboxID != r.PathValue("id") {
			writeJSON(w, http.StatusBadRequest, nodeapi.ErrorResponse{Error: "bad sandbox spec"})
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
		s, err := rt.get(r.PathValue("id"))
		if errors.Is(err, errNoSandbox) {
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true}) // already gone
			return
		}
		if err := rt.stop(r.Context(), s); err != nil {
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
			writeJSON(w, http.StatusBadRequest, nodeapi.ErrorResponse{Error: "bad exec request"})
			return
		}
		var res nodeapi.ExecResult
		if err := s.postJSON(r.Context(), supervisor.ExecPath, req, &res); err != nil {
			apiError(w, err)
			return
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
			writeJSON(w, http.StatusNotFound, nodeapi.ErrorResponse{Error: "no output for this exec"})
			return
		}
		w.Header().Set("X-Total-Size", strconv.FormatInt(total, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	}))
	// Dial carries raw bytes between the caller and a port inside the
	// sandbox's network, through the supervisor.
	mux.HandleFunc("GET "+nodeapi.SandboxDialPath, withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		if s.paused {
			apiError(w, errPaused)
			return
		}
		dctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		up, err := dialBeneath(dctx, s.runDir(), supervisor.SocketName)
		cancel()
		if err != nil {
			apiError(w, err)
			return
		}
		port := r.URL.Query().Get("port")
		if _, err := io.WriteString(up, "GET "+supervisor.DialPath+"?port="+port+" HTTP/1.1\r\nHost: sandbox\r\n\r\n"); err != nil {
			up.Close()
			apiError(w, err)
			return
		}
		br := bufio.NewReader(up)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			up.Close()
			writeJSON(w, http.StatusBadGateway, nodeapi.ErrorResponse{Error: "nothing listens on port " + port + " in the sandbox"})
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			up.Close()
			return
		}
		conn, cbuf, err := hj.Hijack()
		if err != nil {
			up.Close()
			return
		}
		// 101 lets an http.Client on the other side take the connection as
		// a raw stream (its Body becomes read-write).
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: roost-dial\r\n\r\n")
		go func() {
			if k := cbuf.Reader.Buffered(); k > 0 {
				b, _ := cbuf.Reader.Peek(k)
				_, _ = up.Write(b)
			}
			_, _ = io.Copy(up, conn)
			if uc, ok := up.(*net.UnixConn); ok {
				_ = uc.CloseWrite()
			}
		}()
		if k := br.Buffered(); k > 0 {
			b, _ := br.Peek(k)
			_, _ = conn.Write(b)
		}
		_, _ = io.Copy(conn, up)
		conn.Close()
		up.Close()
	}))
}
