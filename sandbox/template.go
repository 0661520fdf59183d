package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
)

// Isolation and network policy values of a template.
const (
	IsolationBubblewrap = "bubblewrap"
	IsolationNone       = "none"
	NetworkNone         = "none"
	NetworkFull         = "full"
)

// Template names a sandbox's defaults. Files under --templates DIR hold one
// template each as JSON, with the field names templates.list shows.
type Template = methods.Template

// DefaultTemplate is built in and always present.
var DefaultTemplate = Template{
	Slug:                "default",
	Name:                "Default",
	Description:         "Isolated sandbox with 1 GiB of memory, 1 CPU, 256 processes and no network egress.",
	Isolation:           IsolationBubblewrap,
	MemoryMB:            1024,
	CPUs:                1,
	Pids:                256,
	TmpMB:               256,
	Network:             NetworkNone,
	IdleTimeoutSeconds:  1800,
	StartTimeoutSeconds: 60,
	RequiredLabels:      []string{},
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks a template and fills the defaults of unset limits.
func Validate(t *Template) error {
	if !slugPattern.MatchString(t.Slug) {
		return fmt.Errorf("slug %q must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit", t.Slug)
	}
	if t.Name == "" {
		t.Name = t.Slug
	}
	switch t.Isolation {
	case "":
		t.Isolation = IsolationBubblewrap
	case IsolationBubblewrap, IsolationNone:
	default:
		return fmt.Errorf("isolation %q must be %q or %q", t.Isolation, IsolationBubblewrap, IsolationNone)
	}
	switch t.Network {
	case "":
		t.Network = NetworkNone
	case NetworkNone, NetworkFull:
	default:
		return fmt.Errorf("network %q must be %q or %q", t.Network, NetworkNone, NetworkFull)
	}
	if t.MemoryMB < 0 || t.CPUs < 0 || t.Pids < 0 || t.IdleTimeoutSeconds < 0 || t.StartTimeoutSeconds < 0 {
		return errors.New("memoryMb, cpus, pids, idleTimeoutSeconds and startTimeoutSeconds must not be negative")
	}
	if t.StartTimeoutSeconds == 0 {
		t.StartTimeoutSeconds = DefaultTemplate.StartTimeoutSeconds
	}
	if t.MemoryMB == 0 {
		t.MemoryMB = DefaultTemplate.MemoryMB
	}
	if t.CPUs == 0 {
		t.CPUs = DefaultTemplate.CPUs
	}
	if t.Pids == 0 {
		t.Pids = DefaultTemplate.Pids
	}
	if t.DiskMB < 0 || t.DiskMB > 1<<24 {
		return fmt.Errorf("diskMb %d must be 0 (no limit) to %d", t.DiskMB, 1<<24)
	}
	if t.DiskMB > 0 && t.DiskMB < 16 {
		return fmt.Errorf("diskMb %d is too small for a file system; give at least 16", t.DiskMB)
	}
	if t.TmpMB < 0 || t.TmpMB > t.MemoryMB {
		return fmt.Errorf("tmpMb %d must be 0 (a quarter of memoryMb) to memoryMb (%d)", t.TmpMB, t.MemoryMB)
	}
	if t.TmpMB == 0 {
		t.TmpMB = max(t.MemoryMB/4, 1)
	}
	if t.IdleTimeoutSeconds == 0 {
		t.IdleTimeoutSeconds = DefaultTemplate.IdleTimeoutSeconds
	}
	if t.RequiredLabels == nil {
		t.RequiredLabels = []string{}
	}
	if t.WarmPool != nil && (*t.WarmPool < 0 || *t.WarmPool > nodeapi.MaxPoolSize) {
		return fmt.Errorf("warmPool %d must be 0 to %d", *t.WarmPool, nodeapi.MaxPoolSize)
	}
	return nil
}

// Templates is the set of templates known to the platform; it does not change
// after start.
type Templates struct {
	bySlug map[string]Template
	slugs  []string
}

// LoadTemplates returns the built-in default plus every *.json file in dir
// (dir may be empty). A file may redefine "default".
func LoadTemplates(dir string) (*Templates, error) {
	ts := &Templates{bySlug: map[string]Template{DefaultTemplate.Slug: DefaultTemplate}}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("templates directory: %w", err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			var t Template
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&t); err != nil {
				return nil, fmt.Errorf("template %s: %w", f, err)
			}
			if err := Validate(&t); err != nil {
				return nil, fmt.Errorf("template %s: %w", f, err)
			}
			ts.bySlug[t.Slug] = t
		}
	}
	for s := range ts.bySlug {
		ts.slugs = append(ts.slugs, s)
	}
	sort.Strings(ts.slugs)
	return ts, nil
}

// Get returns the template with the slug.
func (ts *Templates) Get(slug string) (Template, bool) {
	t, ok := ts.bySlug[slug]
	return t, ok
}

// Slugs lists the known slugs, sorted.
func (ts *Templates) Slugs() []string { return ts.slugs }

// All lists the templates sorted by slug.
func (ts *Templates) All() []Template {
	out := make([]Template, 0, len(ts.slugs))
	for _, s := range ts.slugs {
		out = append(out, ts.bySlug[s])
	}
	return out
}

// Has reports whether a template with the slug exists.
func (ts *Templates) Has(slug string) bool { _, ok := ts.bySlug[slug]; return ok }
