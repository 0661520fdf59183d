package node

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/roosthq/roost/node/nodeapi"
)

// workspaceRel checks a path the platform names inside a workspace.
func workspaceRel(rel string) (string, error) {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains(rel, "\x00") {
		return "", fmt.Errorf("path %q must be relative to the workspace", rel)
	}
	c := filepath.Clean(rel)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("path %q leaves the workspace", rel)
	}
	return c, nil
}

// fileRoutes lets the platform put files into a workspace (inputs) and read
// files from it (published work), as the sandbox's own user.
func (n *Node) fileRoutes(mux *http.ServeMux) {
	rt := n.rt
	mux.HandleFunc("PUT "+nodeapi.SandboxFilesPath, rt.withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		rel, err := workspaceRel(r.URL.Query().Get("path"))
		if err != nil {
			refuse(w, nodeapi.CodeBadRequest, err.Error())
			return
		}
		// The workspace is the sandbox's: every step is resolved beneath
		// it without following links, and what is made is the sandbox's.
		if err := mkdirAllBeneath(s.workspace(), filepath.Dir(rel), s.uid); err != nil {
			refuse(w, nodeapi.CodeBadRequest, "cannot make the file's directory: "+err.Error())
			return
		}
		f, err := openBeneath(s.workspace(), rel, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
		if err != nil {
			refuse(w, nodeapi.CodeBadRequest, "cannot write the file: "+err.Error())
			return
		}
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			f.Close()
			refuse(w, nodeapi.CodeBadRequest, "the path is not a regular file")
			return
		}
		_, err = io.Copy(f, r.Body)
		if err == nil && os.Geteuid() == 0 {
			err = f.Chown(s.uid, s.uid)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}))
	mux.HandleFunc("GET "+nodeapi.SandboxFilesPath, rt.withBox(func(w http.ResponseWriter, r *http.Request, s *sbox) {
		rel, err := workspaceRel(r.URL.Query().Get("path"))
		if err != nil {
			refuse(w, nodeapi.CodeBadRequest, err.Error())
			return
		}
		f, err := openRegularBeneath(s.workspace(), rel)
		if errors.Is(err, os.ErrNotExist) {
			refuse(w, nodeapi.CodeNoFile, "no such file")
			return
		}
		if err != nil {
			refuse(w, nodeapi.CodeBadRequest, "cannot read the file: "+err.Error())
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, f)
	}))
}
