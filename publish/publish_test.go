package publish

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestGitReason(t *testing.T) {
	long := strings.Repeat("x", 400)
	tests := []struct {
		name, out, want string
	}{
		{"fatal line", "hint: something\nfatal: not a git repository\nmore", "not a git repository"},
		{"error line", "error: src refspec main does not match any.\n", "src refspec main does not match any"},
		{"first of fatal and error", "error: first\nfatal: second", "first"},
		{"last line otherwise", "one\ntwo  \n", "two"},
		{"no output", "", "git gave no reason"},
		{"trailing dots and spaces", "fatal: gone. . ", "gone"},
		{"long reason cut", "fatal: " + long, strings.Repeat("x", 300) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gitReason(tt.out); got != tt.want {
				t.Errorf("gitReason(%q) = %q, want %q", tt.out, got, tt.want)
			}
		})
	}
}

func TestPublishScriptBranch(t *testing.T) {
	s := publishScript("ses_abc")
	for _, want := range []string{"git checkout -q -B 'session/ses_abc'", "-m 'Session ses_abc'", ".git/roost-publish.bundle 'session/ses_abc'"} {
		if !strings.Contains(s, want) {
			t.Errorf("publishScript lacks %q", want)
		}
	}
}

// TestGitErrorsHideHostPaths: what git says of the platform's own
// repositories reaches a client without the host's paths.
func TestGitErrorsHideHostPaths(t *testing.T) {
	dir := t.TempDir()
	s := &Service{o: Options{Git: GitOptions{Dir: dir}}}
	ctx := context.Background()
	repo := s.RepoPath("ins_x")
	if out, err := git(ctx, "", "init", "-q", "--bare", repo); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	out, err := git(ctx, repo, "fetch", "-q", filepath.Join(dir, "publish-1.bundle"), "+refs/heads/a:refs/heads/a")
	if err == nil || !strings.Contains(out, dir) {
		t.Fatalf("git fetch of a missing bundle: %v %q; want a failure naming the path", err, out)
	}
	got := s.scrub(gitReason(out))
	if strings.Contains(got, dir) || !strings.Contains(got, "<platform repositories>") {
		t.Errorf("the client would see %q", got)
	}
}
