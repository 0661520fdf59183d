package publish_test

// End-to-end tests of publishing a session's work: with vcsType gitLocal
// the workspace is a git repository from the start, publishSession and
// sessions.publish commit it on branch session/{sessionId} into the
// platform's bare repository, which git clones read-only over smart HTTP
// with an API key or an instance token; github pushes on to a configured
// remote (a local bare repository here); none publishes nowhere.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/internal/testutil/sessiontest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

var seSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// seGit runs git on the host, never prompting for credentials.
func seGit(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(testutil.Context(t, testutil.Medium), "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// seMustGit runs git that must succeed.
func seMustGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := seGit(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// repoURL is the instance's repository on the platform, with a password
// for Basic auth ("" for none).
func repoURL(e *sessiontest.Env, instanceID, password string) string {
	u := e.Srv.URL
	if password != "" {
		u = strings.Replace(u, "http://", "http://x:"+password+"@", 1)
	}
	return u + "/git/" + instanceID + ".git"
}

// sePub is a publish reply, decoded and raw.
type sePub struct {
	out methods.PublishSessionOutput
	raw json.RawMessage
}

func sePubOf(t testing.TB, r rpctest.Reply) sePub {
	t.Helper()
	v := rpctest.WantOK(t, r)
	return sePub{rpctest.Decode[methods.PublishSessionOutput](t, v), v}
}

// publish calls publishSession.
func publish(t testing.TB, i *sessiontest.Inst, sessionID string) sePub {
	t.Helper()
	return sePubOf(t, rpctest.CallInstance(t, i.Env.Srv, i.ID, rpctest.Bearer(i.Token), methods.PublishSession, map[string]any{"sessionId": sessionID}))
}

// platformPublish calls sessions.publish.
func platformPublish(t testing.TB, e *sessiontest.Env, instanceID, sessionID string) sePub {
	t.Helper()
	return sePubOf(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsPublish, map[string]any{"instanceId": instanceID, "sessionId": sessionID}))
}

// seWantPushed checks a publish that pushed a new commit and returns it.
func seWantPushed(t testing.TB, p sePub) string {
	t.Helper()
	out, raw := p.out, p.raw
	rpctest.WantKeys(t, "publish value", raw, "ok", "pushed", "commitSha")
	if !out.OK || !out.Pushed || !seSHA.MatchString(out.CommitSHA) {
		t.Fatalf("publish = %s, want ok, pushed and a commit", raw)
	}
	return out.CommitSHA
}

// seWantUnchanged checks a publish that had nothing new to push.
func seWantUnchanged(t testing.TB, p sePub, sha string) {
	t.Helper()
	out, raw := p.out, p.raw
	if !out.OK || out.Pushed || out.Error != "" {
		t.Fatalf("publish without changes = %s, want {ok: true, pushed: false}", raw)
	}
	if out.CommitSHA != "" && out.CommitSHA != sha {
		t.Errorf("publish without changes names commit %s, want %s", out.CommitSHA, sha)
	}
}

// seWantNotPublished checks a publish refused with a sentence.
func seWantNotPublished(t testing.TB, p sePub, mentions string) {
	t.Helper()
	out, raw := p.out, p.raw
	if out.OK || out.Pushed || out.Error == "" {
		t.Fatalf("publish = %s, want {ok: false, pushed: false, error}", raw)
	}
	if !strings.HasSuffix(out.Error, ".") || strings.ToUpper(out.Error[:1]) != out.Error[:1] || !strings.Contains(out.Error, mentions) {
		t.Errorf("publish error %q is not a sentence mentioning %q", out.Error, mentions)
	}
}

// TestPublishGitLocal: publishing commits the workspace on the session's
// branch, only when something changed, and the branch can be cloned from
// /git/{instanceId}.git by the org's keys and the instance's tokens, and
// by no one else; pushing there is refused.
func TestPublishGitLocal(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	brief, err := e.Admin.UploadFile(e.Ctx, "brief.txt", "text/plain", strings.NewReader("an input, not work"))
	if err != nil {
		t.Fatal(err)
	}
	a := e.Create(t, methods.CreateInstanceInput{BundleSlug: "echo", VCSType: methods.VCSGitLocal,
		AutoCreateSession: &methods.AutoCreateSession{PresetID: "chat", Blocking: true, FileIDs: []string{brief.FileID}}})
	sid := a.Created.SessionID
	branch := "session/" + sid
	var sha1, sha2 string

	t.Run("the workspace is a repository from the start", func(t *testing.T) {
		if got := a.Sh(t, "git -C /workspace rev-parse --git-dir"); got != ".git" {
			t.Errorf("git rev-parse --git-dir = %q", got)
		}
		if got := a.Sh(t, "git -C /workspace symbolic-ref --short HEAD"); got != "main" {
			t.Errorf("the workspace is on branch %q, want main", got)
		}
		if got := a.Sh(t, "cd /workspace && git status --porcelain --ignored"); got != "!! .roost/" {
			t.Errorf("git status = %q, want only .roost/ ignored", got)
		}
	})
	t.Run("publish", func(t *testing.T) {
		a.Sh(t, "cd /workspace && echo 'hello' > README.md && mkdir -p src && printf 'package main\\n' > src/main.go")
		sha1 = seWantPushed(t, publish(t, a, sid))
		if got := a.Sh(t, "git -C /workspace rev-parse HEAD"); got != sha1 {
			t.Errorf("the workspace's HEAD is %s, want %s", got, sha1)
		}
	})
	t.Run("nothing changed", func(t *testing.T) {
		seWantUnchanged(t, publish(t, a, sid), sha1)
	})
	t.Run("a change", func(t *testing.T) {
		a.Sh(t, "cd /workspace && echo 'hello again' > README.md && rm src/main.go && echo notes > NOTES")
		sha2 = seWantPushed(t, publish(t, a, sid))
		if sha2 == sha1 {
			t.Fatal("a change published the same commit")
		}
		seWantUnchanged(t, publish(t, a, sid), sha2)
	})
	t.Run("clone with the instance token", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "clone")
		seMustGit(t, "", "clone", "-q", "-b", branch, repoURL(e, a.ID, a.Token), dir)
		if got := seMustGit(t, dir, "log", "--format=%H"); got != sha2+"\n"+sha1 {
			t.Errorf("the branch's history is %q, want %s then %s", got, sha2, sha1)
		}
		if got := seMustGit(t, dir, "log", "-1", "--format=%s"); got != "Session "+sid {
			t.Errorf("commit message %q", got)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "README.md")); string(b) != "hello again\n" {
			t.Errorf("README.md = %q", b)
		}
		if got := seMustGit(t, dir, "ls-files"); got != "NOTES\nREADME.md" {
			t.Errorf("the commit holds %q, want NOTES and README.md (no .roost)", got)
		}
		if got := seMustGit(t, dir, "show", sha1+":src/main.go"); got != "package main" {
			t.Errorf("the first commit's src/main.go = %q", got)
		}
	})

	other := e.Create(t, methods.CreateInstanceInput{BundleSlug: "echo", VCSType: methods.VCSGitLocal, Name: "other"})
	expired := e.Srv.SignToken(t, e.OrgID, a.ID, "", -time.Minute)
	t.Run("who may read", func(t *testing.T) {
		infoRefs := "/info/refs?service=git-upload-pack"
		cases := []struct {
			name   string
			repo   string // instance id
			h      http.Header
			status int
		}{
			{"the instance token as password", a.ID, rpctest.Header("Authorization", "Basic "+basic("x", a.Token)), 200},
			{"the instance token as Bearer", a.ID, rpctest.Bearer(a.Token), 200},
			{"the org's admin key as password", a.ID, rpctest.Header("Authorization", "Basic "+basic("x", e.Key)), 200},
			{"the org's admin key as Bearer", a.ID, rpctest.Bearer(e.Key), 200},
			{"no credential", a.ID, nil, 401},
			{"a wrong password", a.ID, rpctest.Header("Authorization", "Basic "+basic("x", "nope")), 401},
			{"an expired token", a.ID, rpctest.Bearer(expired), 401},
			{"the wsToken", a.ID, rpctest.Bearer(a.Created.WSToken), 401},
			{"another org's key", a.ID, rpctest.Bearer(e.OtherKey), 404},
			{"another org's key as password", a.ID, rpctest.Header("Authorization", "Basic "+basic("x", e.OtherKey)), 404},
			{"another instance's token", a.ID, rpctest.Bearer(other.Token), 404},
			{"a repository with nothing published", other.ID, rpctest.Bearer(other.Token), 404},
			{"an unknown repository", "ins_nothing", rpctest.Bearer(e.Key), 404},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, repoURL(e, c.repo, "")+infoRefs, nil, c.h))
				if r.Status != c.status {
					t.Fatalf("HTTP %d %.300s, want %d", r.Status, r.Body, c.status)
				}
				if c.status == 200 {
					if ct := r.Header.Get("Content-Type"); ct != "application/x-git-upload-pack-advertisement" {
						t.Errorf("Content-Type %q", ct)
					}
					if !strings.Contains(string(r.Body), "refs/heads/"+branch) {
						t.Errorf("the advertisement does not list %s", branch)
					}
					return
				}
				if strings.Contains(string(r.Body), sid) {
					t.Errorf("a refusal shows the branch: %s", r.Body)
				}
				if c.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") && c.h == nil {
					t.Errorf("401 without a Basic challenge: %v", r.Header)
				}
			})
		}
		// git itself: the key clones, others fail.
		for name, c := range map[string]struct {
			password string
			ok       bool
		}{"admin key": {e.Key, true}, "another org's key": {e.OtherKey, false}, "no credential": {"", false}, "another instance's token": {other.Token, false}} {
			t.Run("git clone with "+name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "c")
				out, err := seGit(t, "", "clone", "-q", "-b", branch, repoURL(e, a.ID, c.password), dir)
				if (err == nil) != c.ok {
					t.Fatalf("git clone: %v %s; want success %v", err, out, c.ok)
				}
				if c.ok {
					if head := seMustGit(t, dir, "rev-parse", "HEAD"); head != sha2 {
						t.Errorf("HEAD %s, want %s", head, sha2)
					}
				}
			})
		}
	})
	t.Run("read-only", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "clone")
		seMustGit(t, "", "clone", "-q", "-b", branch, repoURL(e, a.ID, a.Token), dir)
		if err := os.WriteFile(filepath.Join(dir, "evil.txt"), []byte("no"), 0o644); err != nil {
			t.Fatal(err)
		}
		seMustGit(t, dir, "add", "evil.txt")
		seMustGit(t, dir, "commit", "-q", "-m", "evil")
		for _, ref := range []string{"HEAD:refs/heads/evil", "HEAD:refs/heads/" + branch} {
			if out, err := seGit(t, dir, "push", "origin", ref); err == nil {
				t.Fatalf("git push %s succeeded: %s", ref, out)
			}
		}
		// The admin key may not push either.
		seMustGit(t, dir, "remote", "set-url", "origin", repoURL(e, a.ID, e.Key))
		if out, err := seGit(t, dir, "push", "origin", "HEAD:refs/heads/evil"); err == nil {
			t.Fatalf("git push with the admin key succeeded: %s", out)
		}
		r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, repoURL(e, a.ID, "")+"/info/refs?service=git-receive-pack", nil, rpctest.Bearer(e.Key)))
		rpctest.WantError(t, r, http.StatusForbidden, methods.Forbidden)
		r = rpctest.Do(t, rpctest.NewRequest(t, http.MethodPost, repoURL(e, a.ID, "")+"/git-receive-pack", strings.NewReader("0000"),
			rpctest.Header("Authorization", "Bearer "+e.Key, "Content-Type", "application/x-git-receive-pack-request")))
		rpctest.WantError(t, r, http.StatusForbidden, methods.Forbidden)
		refs := seMustGit(t, "", "ls-remote", repoURL(e, a.ID, a.Token))
		if strings.Contains(refs, "evil") || !strings.Contains(refs, sha2+"\trefs/heads/"+branch) {
			t.Errorf("the repository's refs changed: %s", refs)
		}
	})
	t.Run("sessions.publish", func(t *testing.T) {
		a.Sh(t, "cd /workspace && echo third > README.md")
		sha3 := seWantPushed(t, platformPublish(t, e, a.ID, sid))
		if sha3 == sha2 {
			t.Fatal("sessions.publish after a change published the same commit")
		}
		seWantUnchanged(t, platformPublish(t, e, a.ID, sid), sha3)
		if refs := seMustGit(t, "", "ls-remote", repoURL(e, a.ID, e.Key), "refs/heads/"+branch); !strings.HasPrefix(refs, sha3) {
			t.Errorf("the branch is at %q, want %s", refs, sha3)
		}
		rpctest.WantError(t, rpctest.CallPlatform(t, e.Srv, e.Key, methods.SessionsPublish, map[string]any{"instanceId": a.ID, "sessionId": "ses_nothing"}),
			http.StatusNotFound, methods.NotFound)
		rpctest.WantError(t, rpctest.CallPlatform(t, e.Srv, e.OtherKey, methods.SessionsPublish, map[string]any{"instanceId": a.ID, "sessionId": sid}),
			http.StatusNotFound, methods.NotFound)
		rpctest.WantError(t, rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), methods.PublishSession, map[string]any{"sessionId": "ses_nothing"}),
			http.StatusNotFound, methods.NotFound)
	})
	t.Run("each session has its branch", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallInstance(t, e.Srv, a.ID, rpctest.Bearer(a.Token), methods.CreateSession, map[string]any{"presetId": "page"}))
		sid2 := rpctest.Decode[methods.InstanceCreateSessionOutput](t, v).SessionID
		e.WaitSession(t, a.ID, sid2, "active")
		a.Sh(t, "cd /workspace && echo second session > SECOND")
		sha := seWantPushed(t, publish(t, a, sid2))
		refs := seMustGit(t, "", "ls-remote", "--heads", repoURL(e, a.ID, a.Token))
		if !strings.Contains(refs, sha+"\trefs/heads/session/"+sid2) || !strings.Contains(refs, "\trefs/heads/"+branch) {
			t.Errorf("ls-remote = %s, want both sessions' branches", refs)
		}
	})
}

// basic is the value of a Basic credential.
func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// TestPublishVCSTypes: vcsType none publishes nowhere, and github without a
// configured remote cannot publish; both say so in a sentence.
func TestPublishVCSTypes(t *testing.T) {
	e := sessiontest.Start(t, platform.Config{})
	cases := []struct {
		name     string
		vcs      string
		repo     bool   // /workspace is a git repository
		mentions string // in the error
	}{
		{"none", methods.VCSNone, false, "vcsType"},
		{"not given", "", false, "vcsType"},
		{"github without a remote", methods.VCSGitHub, true, "--git-remote"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i := e.WithSession(t, "echo", c.vcs)
			out := i.Exec(t, "git -C /workspace rev-parse --git-dir")
			if out.Success != c.repo {
				t.Errorf("/workspace is a repository: %v, want %v (%s%s)", out.Success, c.repo, out.Stdout, out.Stderr)
			}
			i.Sh(t, "echo work > /workspace/work.txt")
			p := publish(t, i, i.Created.SessionID)
			rpctest.WantKeys(t, "publish value", p.raw, "ok", "pushed", "error")
			seWantNotPublished(t, p, c.mentions)
			seWantNotPublished(t, platformPublish(t, e, i.ID, i.Created.SessionID), c.mentions)
			r := rpctest.Do(t, rpctest.NewRequest(t, http.MethodGet, repoURL(e, i.ID, "")+"/info/refs?service=git-upload-pack", nil, rpctest.Bearer(e.Key)))
			rpctest.WantError(t, r, http.StatusNotFound, methods.NotFound)
		})
	}
}

// TestPublishGitHub: with a remote configured, vcsType github pushes the
// session's branch there too (a local bare repository stands in for
// GitHub); a failing push is an error sentence without the token, and the
// next publish pushes the same commit again.
func TestPublishGitHub(t *testing.T) {
	for _, token := range []string{"ghp_s3cret-remote-token", ""} {
		name := "with a token"
		if token == "" {
			name = "without a token"
		}
		t.Run(name, func(t *testing.T) { sePublishGitHub(t, token) })
	}
}

func sePublishGitHub(t *testing.T, token string) {
	remotes := t.TempDir()
	e := sessiontest.Start(t, platform.Config{GitRemote: filepath.Join(remotes, "{instanceId}.git"), GitToken: token})

	a := e.WithSession(t, "echo", methods.VCSGitHub)
	sid := a.Created.SessionID
	remote := filepath.Join(remotes, a.ID+".git")
	seMustGit(t, "", "init", "-q", "--bare", remote)
	ref := "refs/heads/session/" + sid

	a.Sh(t, "git -C /workspace rev-parse --git-dir && echo 'to github' > /workspace/README.md")
	sha1 := seWantPushed(t, publish(t, a, sid))
	if got := seMustGit(t, remote, "rev-parse", ref); got != sha1 {
		t.Fatalf("the remote's %s is %q, want %s", ref, got, sha1)
	}
	if got := seMustGit(t, remote, "show", sha1+":README.md"); got != "to github" {
		t.Errorf("the remote's README.md = %q", got)
	}
	// The platform's own repository has it too.
	if refs := seMustGit(t, "", "ls-remote", repoURL(e, a.ID, a.Token), ref); !strings.HasPrefix(refs, sha1) {
		t.Errorf("the platform's repository has %q", refs)
	}
	seWantUnchanged(t, publish(t, a, sid), sha1)

	a.Sh(t, "echo 'again' > /workspace/README.md")
	sha2 := seWantPushed(t, platformPublish(t, e, a.ID, sid))
	if got := seMustGit(t, remote, "rev-parse", ref); got != sha2 || sha2 == sha1 {
		t.Fatalf("the remote's %s is %q, want the new commit %s", ref, got, sha2)
	}

	t.Run("the remote refuses", func(t *testing.T) {
		b := e.WithSession(t, "echo", methods.VCSGitHub)
		b.Sh(t, "echo work > /workspace/work.txt")
		p := publish(t, b, b.Created.SessionID)
		seWantNotPublished(t, p, "git remote")
		t.Logf("the refusal reads: %s", p.out.Error)
		if token != "" && strings.Contains(p.out.Error, token) {
			t.Errorf("the error shows the token: %q", p.out.Error)
		}
		if strings.Contains(p.out.Error, "***") || !strings.Contains(p.out.Error, "does not appear to be a git repository") {
			t.Errorf("the error %q does not carry git's reason", p.out.Error)
		}
		// Once the remote exists, publishing again pushes the commit.
		bRemote := filepath.Join(remotes, b.ID+".git")
		seMustGit(t, "", "init", "-q", "--bare", bRemote)
		sha := seWantPushed(t, publish(t, b, b.Created.SessionID))
		if got := seMustGit(t, bRemote, "rev-parse", "refs/heads/session/"+b.Created.SessionID); got != sha {
			t.Errorf("the remote has %q, want %s", got, sha)
		}
	})
}
