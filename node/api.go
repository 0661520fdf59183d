package node

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/roosthq/roost/node/nodeapi"
)

// api is the node's own HTTP API, served to the platform through the tunnel.
func (n *Node) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+nodeapi.InfoPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, nodeapi.Info{NodeID: n.ID(), Name: n.o.Name, Hostname: n.hostname,
			Labels: n.o.Labels, Version: n.o.Version, Metrics: n.sample()})
	})
	// Echo streams the request body back: the platform uses it to check the
	// tunnel end to end and to measure it.
	mux.HandleFunc("POST "+nodeapi.EchoPath, func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		buf := make([]byte, 32<<10)
		for {
			k, err := r.Body.Read(buf)
			if k > 0 {
				if _, werr := w.Write(buf[:k]); werr != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				return
			}
		}
	})
	n.sandboxRoutes(mux)
	n.fileRoutes(mux)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
