package node

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/roosthq/roost/node/nodeapi"
)

// workspacePath resolves a path relative to a sandbox's workspace, refusing
// anything that leaves it, including through symlinks the sandbox made.
func workspacePath(s *sbox, rel string) (string, error) {
	ws := s.workspace()
	if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains(rel, "\x00") {
		return "", fmt.Errorf("path %q must be relative to the workspace", rel)
	}
	p, err := safeJoin(ws, rel)
	if err != nil {
		return "", err
	}
	// Every existing parent must resolve inside the workspace.
	dir := filepath.Dir(p)
	for d := dir; d != ws && strings.HasPrefix(d, ws); d = filepath.Dir(d) {
		if st, err := os.Lstat(d); err == nil && st.Mode()&os.ModeSymlink != 0 {
			return "", fmt.Errorf("path %q goes through a link", rel)
		}
	}
	return p, nil
}

// fileRoutes lets the platform put files into a workspace (inputs) and read
// files from it (published work), as the sandbox's own user.
func (n *Node) fileRoutes(mux *http.ServeMux) {
	rt := n.rt
	mux.HandleFunc("PUT "+nodeapi.SandboxFilesPath, func(w http.ResponseWriter, r *http.Request) {
		s, err := rt.get(r.PathValue("id"))
		if err != nil {
			apiError(w, err)
			return
		}
		p, err := workspacePath(s, r.URL.Query().Get("path"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, nodeapi.ErrorResponse{Error: err.Error()})
			return
		}
		if err := mkdirOwned(s.workspace(), filepath.Dir(p), s.uid); err != nil {
			apiError(w, err)
			return
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscallNoFollow, 0o644)
		if err != nil {
			apiError(w, err)
			return
		}
		_, err = io.Copy(f, r.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && os.Geteuid() == 0 {
			err = os.Lchown(p, s.uid, s.uid)
		}
		if err != nil {
			os.Remove(p)
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET "+nodeapi.SandboxFilesPath, func(w http.ResponseWriter, r *http.Request) {
		s, err := rt.get(r.PathValue("id"))
		if err != nil {
			apiError(w, err)
			return
		}
		p, err := workspacePath(s, r.URL.Query().Get("path"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, nodeapi.ErrorResponse{Error: err.Error()})
			return
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscallNoFollow, 0)
		if errors.Is(err, os.ErrNotExist) {
			writeJSON(w, http.StatusNotFound, nodeapi.ErrorResponse{Error: "no such file"})
			return
		}
		if err != nil {
			apiError(w, err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, f)
	})
}

// mkdirOwned makes dir (under root) and its missing parents, owned by uid.
func mkdirOwned(root, dir string, uid int) error {
	if dir == root {
		return nil
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if err := mkdirOwned(root, filepath.Dir(dir), uid); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if os.Geteuid() == 0 {
		return os.Lchown(dir, uid, uid)
	}
	return nil
}
