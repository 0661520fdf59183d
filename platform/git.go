package platform

import (
	"net/http/cgi"
	"os"
	"os/exec"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform/auth"
	"github.com/roosthq/roost/rpc"
)

var errReadOnlyGit = rpc.Errorf(methods.Forbidden, "The platform's git repositories are read-only: clone or fetch them, do not push.")

// handleGit serves an instance's bare repository read-only over git's
// smart HTTP, to an API key of its org or a token of that instance (as
// Bearer, or as the password of Basic auth, which git clients send).
func (s *Server) handleGit(c echo.Context) error {
	req := c.Request()
	repo := c.Param("repo")
	instanceID, ok := strings.CutSuffix(repo, ".git")
	if !ok || instanceID == "" {
		rpc.WriteError(c.Response(), rpc.Errorf(methods.NotFound, "Repositories are at /git/{instanceId}.git."))
		return nil
	}
	cred, _ := bearer(req)
	if cred == "" {
		if _, pw, ok := req.BasicAuth(); ok {
			cred = pw
		}
	}
	if cred == "" {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="roost"`)
		rpc.WriteError(c.Response(), auth.ErrNoCredential)
		return nil
	}
	if auth.LooksLikeKey(cred) {
		key, err := s.keys.Authenticate(req.Context(), cred)
		if err == nil {
			_, err = s.instances.Lookup(req.Context(), key.OrgID, instanceID)
		}
		if err != nil {
			rpc.WriteError(c.Response(), err)
			return nil
		}
	} else if _, _, err := s.verifyInstanceToken(req.Context(), cred, tokenWant{instanceID: instanceID}); err != nil {
		// An archived instance's tokens stop working.
		rpc.WriteError(c.Response(), err)
		return nil
	}
	// The decoded path, as the CGI sees it (the route parameter is still
	// escaped); git http-backend is also told to refuse receive-pack.
	if strings.Contains(req.URL.Path, "receive-pack") || strings.Contains(req.URL.Query().Get("service"), "receive-pack") {
		rpc.WriteError(c.Response(), errReadOnlyGit)
		return nil
	}
	if _, err := os.Stat(s.publish.RepoPath(instanceID)); err != nil {
		rpc.WriteError(c.Response(), rpc.Errorf(methods.NotFound, "Nothing was published from this instance yet. Publish a session first."))
		return nil
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		rpc.WriteError(c.Response(), rpc.Errorf(methods.Unavailable, "git is not installed on the platform's machine."))
		return nil
	}
	h := &cgi.Handler{
		Path: gitPath, Args: []string{"http-backend"}, Root: "/git",
		Env: []string{"GIT_PROJECT_ROOT=" + GitDir(s.cfg.DataDir), "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=false"},
	}
	h.ServeHTTP(c.Response(), req)
	return nil
}
