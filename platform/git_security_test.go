package platform_test

import (
	"net/http"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// The git endpoint refuses pushes however the path is spelled.
func TestGitRefusesEncodedReceivePack(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	ctx := testutil.Context(t, testutil.Short)
	inst, err := srv.Admin().CreateInstance(ctx, methods.CreateInstanceInput{TemplateSlug: "default", Name: "git"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/git/" + inst.InstanceID + ".git/git-receive-pack",
		"/git/" + inst.InstanceID + ".git/git-receive%2Dpack",
		"/git/" + inst.InstanceID + ".git/git-receive%2dpack",
		"/git/" + inst.InstanceID + ".git/info/refs?service=git-receive%2Dpack",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
			req.SetBasicAuth("x", srv.AdminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s = %d, want 403", method, path, resp.StatusCode)
			}
		}
	}
}
