package publish

import (
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
