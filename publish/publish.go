package publish

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/sandbox"
)

// GitOptions says where published work goes.
type GitOptions struct {
	// Dir holds the bare repositories the platform keeps, one per instance
	// ({instanceId}.git), served read-only at /git/{instanceId}.git.
	Dir string
	// Remote, for vcsType github, is the URL to push to; {instanceId} in it
	// is replaced. A local path works too (tests).
	Remote string
	// Token authenticates the push to Remote (as the password of Basic auth).
	Token string
}

var shaForm = regexp.MustCompile(`^[0-9a-f]{40}$`)

// RepoPath is the bare repository of an instance.
func (s *Service) RepoPath(instanceID string) string {
	return filepath.Join(s.o.Git.Dir, instanceID+".git")
}

// publishScript commits the workspace on branch session/ID and bundles
// the branch for the platform to fetch. Its last line is the commit and
// whether it is new.
func publishScript(sessionID string) string {
	branch := "session/" + sessionID
	return `set -e
cd /workspace
if [ ! -d .git ]; then git init -q -b main; printf '.roost/\n' > .git/info/exclude; fi
git config user.name >/dev/null || git config user.name roost
git config user.email >/dev/null || git config user.email roost@localhost
git checkout -q -B '` + branch + `'
git add -A
if git rev-parse -q --verify HEAD >/dev/null && git diff --cached --quiet; then
  echo "UNCHANGED $(git rev-parse HEAD)"
else
  git commit -q --allow-empty -m 'Session ` + sessionID + `'
  echo "COMMITTED $(git rev-parse HEAD)"
fi
git bundle create -q .git/roost-publish.bundle '` + branch + `' 2>/dev/null || git bundle create .git/roost-publish.bundle '` + branch + `'
`
}

// Publish commits a session's work and pushes it where the instance's
// vcsType says.
func (s *Service) Publish(ctx context.Context, orgID, instanceID, sessionID string) (methods.PublishSessionOutput, error) {
	rpc.SetInstance(ctx, instanceID)
	inst, err := s.o.Instances.Active(ctx, orgID, instanceID)
	if err != nil {
		return methods.PublishSessionOutput{}, err
	}
	lastCommit, err := s.o.Sessions.LastCommit(ctx, orgID, instanceID, sessionID)
	if err != nil {
		return methods.PublishSessionOutput{}, err
	}
	// From here sessionID names a stored session: ids compare exactly.
	switch inst.VCSType {
	case methods.VCSGitLocal, methods.VCSGitHub:
	default:
		return methods.PublishSessionOutput{OK: false, Pushed: false,
			Error: "This instance publishes nowhere: its vcsType is none. Create it with vcsType gitLocal or github."}, nil
	}
	if inst.VCSType == methods.VCSGitHub && s.o.Git.Remote == "" {
		return methods.PublishSessionOutput{OK: false, Pushed: false,
			Error: "No git remote is configured for vcsType github. Start the platform with --git-remote (and --git-token)."}, nil
	}
	sb, err := s.o.Sandboxes.Usable(ctx, inst)
	if err != nil {
		return methods.PublishSessionOutput{}, err
	}
	res, err := s.o.Sandboxes.Run(ctx, sb, publishScript(sessionID), 2*time.Minute)
	if err != nil {
		return methods.PublishSessionOutput{}, err
	}
	if res.ExitCode != 0 {
		return methods.PublishSessionOutput{OK: false, Error: "Committing the workspace in the sandbox failed: " + gitReason(res.Stderr) + "."}, nil
	}
	state, sha := "", ""
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if f := strings.Fields(line); len(f) == 2 && (f[0] == "UNCHANGED" || f[0] == "COMMITTED") {
			state, sha = f[0], f[1]
		}
	}
	if !shaForm.MatchString(sha) {
		return methods.PublishSessionOutput{OK: false, Error: "git in the sandbox gave no commit."}, nil
	}
	if state == "UNCHANGED" && sha == lastCommit {
		return methods.PublishSessionOutput{OK: true, Pushed: false, CommitSHA: sha}, nil
	}
	if err := s.fetchBundle(ctx, sb, inst, sessionID); err != nil {
		// The cause may name the platform's own paths: it goes to the log.
		s.log.Warn("publish: the commit was not copied out of the sandbox", "session", sessionID, "err", err)
		return methods.PublishSessionOutput{OK: false, CommitSHA: sha,
			Error: "The commit could not be copied out of the sandbox into the platform's repository. Retry; if it fails again, see the platform's log."}, nil
	}
	if inst.VCSType == methods.VCSGitHub {
		if err := s.pushRemote(ctx, inst, sessionID); err != nil {
			return methods.PublishSessionOutput{OK: false, CommitSHA: sha, Error: err.Error()}, nil
		}
	}
	_ = s.o.Sessions.SetLastCommit(ctx, sessionID, sha)
	_ = s.o.Instances.Event(ctx, inst.ID, "session_published", fmt.Sprintf("%s at %s", sessionID, sha))
	return methods.PublishSessionOutput{OK: true, Pushed: true, CommitSHA: sha}, nil
}

// gitReason picks the line of git's output that says why it failed (its
// first "fatal:" or "error:" line, else its last line), without git's
// prefix, to end a sentence.
func gitReason(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	pick := strings.TrimSpace(lines[len(lines)-1])
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "fatal: "); ok {
			pick = rest
			break
		}
		if rest, ok := strings.CutPrefix(l, "error: "); ok {
			pick = rest
			break
		}
	}
	pick = strings.TrimRight(pick, ". ")
	if len(pick) > 300 {
		pick = pick[:300] + "..."
	}
	if pick == "" {
		pick = "git gave no reason"
	}
	return pick
}

// fetchBundle copies the session's branch from the sandbox into the
// instance's bare repository.
func (s *Service) fetchBundle(ctx context.Context, sb sandbox.Row, inst instance.Row, sessionID string) error {
	rc, err := s.o.Sandboxes.OpenFile(ctx, sb, ".git/roost-publish.bundle")
	if err != nil {
		return fmt.Errorf("the sandbox's git bundle could not be read: %s", sentence(err))
	}
	defer rc.Close()
	if err := os.MkdirAll(s.o.Git.Dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.o.Git.Dir, "publish-*.bundle")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, io.LimitReader(rc, 4<<30)); err != nil {
		tmp.Close()
		return fmt.Errorf("reading the git bundle: %w", err)
	}
	tmp.Close()
	repo := s.RepoPath(inst.ID)
	if _, err := os.Stat(repo); err != nil {
		if out, err := git(ctx, "", "init", "-q", "--bare", repo); err != nil {
			return fmt.Errorf("git init: %s", s.scrub(gitReason(out)))
		}
		_, _ = git(ctx, repo, "config", "http.uploadpack", "true")
	}
	branch := "refs/heads/session/" + sessionID
	if out, err := git(ctx, repo, "fetch", "-q", tmp.Name(), "+"+branch+":"+branch); err != nil {
		return fmt.Errorf("git fetch: %s", s.scrub(gitReason(out)))
	}
	return nil
}

// pushRemote pushes the session's branch to the configured remote.
func (s *Service) pushRemote(ctx context.Context, inst instance.Row, sessionID string) error {
	remote := strings.ReplaceAll(s.o.Git.Remote, "{instanceId}", inst.ID)
	args := []string{}
	if s.o.Git.Token != "" {
		// Basic with the token as password is what GitHub and most git
		// hosts accept over HTTPS.
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + s.o.Git.Token))
		args = append(args, "-c", "http.extraHeader=Authorization: Basic "+basic)
	}
	branch := "refs/heads/session/" + sessionID
	args = append(args, "push", "-q", remote, "+"+branch+":"+branch)
	if out, err := git(ctx, s.RepoPath(inst.ID), args...); err != nil {
		reason := s.scrub(gitReason(out))
		if s.o.Git.Token != "" {
			reason = strings.ReplaceAll(reason, s.o.Git.Token, "***")
		}
		return fmt.Errorf("Pushing the session's branch to the git remote failed: %s.", reason)
	}
	return nil
}

// scrub keeps the platform's own paths out of what git said, before it
// reaches a client: the repositories' directory is named, not shown.
func (s *Service) scrub(out string) string {
	if s.o.Git.Dir == "" {
		return out
	}
	dir := filepath.Clean(s.o.Git.Dir)
	if abs, err := filepath.Abs(dir); err == nil {
		out = strings.ReplaceAll(out, abs, "<platform repositories>")
	}
	return strings.ReplaceAll(out, dir, "<platform repositories>")
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	if dir != "" {
		cmd.Dir = dir
	}
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
