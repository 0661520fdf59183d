package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// Limits of instances.create and instances.list.
const (
	MaxNameLength   = 200
	MaxMetadataSize = 16 << 10
)

// TemplateSet tells which template slugs exist.
type TemplateSet interface {
	Has(slug string) bool
	Slugs() []string
}

// BundleResolver pins a bundle revision: by slug (its latest revision) or by
// revision id, answering not_found for anything not in the org.
type BundleResolver interface {
	ResolveBundle(ctx context.Context, orgID, slug, revisionID string) (bundleSlug, revisionID2 string, err error)
}

// Sandboxes is what instances ask of the sandbox service.
type Sandboxes interface {
	// Schedule starts the instance's sandbox in the background.
	Schedule(ctx context.Context, r Row) error
	// Summary is the sandbox part of instances.status, or nil.
	Summary(ctx context.Context, instanceID string) (*methods.SandboxSummary, error)
	// TerminateLive ends the instance's live sandbox, if any.
	TerminateLive(ctx context.Context, instanceID, why string) error
}

// Sessions is what instances ask of the sessions service.
type Sessions interface {
	Summaries(ctx context.Context, orgID, instanceID string) ([]methods.SessionSummary, error)
	InstanceServiceURLs(ctx context.Context, orgID, instanceID string) ([]methods.ServiceURL, error)
	// Presets are the presets and services of the instance's bundle.
	Presets(ctx context.Context, orgID, instanceID string) ([]methods.BundlePreset, []methods.BundleService, error)
	// AutoCreate opens the session instances.create asked for.
	AutoCreate(ctx context.Context, orgID, instanceID string, in methods.AutoCreateSession) (sessionID, wsToken, status string, err error)
}

// Options configures a Service.
type Options struct {
	Store     *Store
	Templates TemplateSet
	Bundles   BundleResolver
	Tokens    TokenIssuer
}

// Service is the behaviour of instances.
type Service struct {
	store     *Store
	templates TemplateSet
	bundles   BundleResolver
	tokens    TokenIssuer
	sandboxes Sandboxes
	sessions  Sessions
	// active keeps LookupActive's rows: an instance's row changes only by
	// its lifecycle's moves, which expire them.
	active *storage.Cache[Row]
}

// SetSessions connects the sessions service.
func (s *Service) SetSessions(ss Sessions) { s.sessions = ss }

// SetSandboxes connects the sandbox service (the two know each other).
func (s *Service) SetSandboxes(sb Sandboxes) { s.sandboxes = sb }

// NewService returns a Service.
func NewService(o Options) *Service {
	return &Service{store: o.Store, templates: o.Templates, bundles: o.Bundles, tokens: o.Tokens,
		active: storage.NewCache[Row](o.Store.db)}
}

// Create validates the input and stores a new instance in state created.
func (s *Service) Create(ctx context.Context, orgID string, in methods.CreateInstanceInput) (methods.CreateInstanceOutput, error) {
	var out methods.CreateInstanceOutput
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(in.Name) > MaxNameLength {
		return out, rpc.InvalidField("name", "range", "The name must be 1 to %d characters long.", MaxNameLength)
	}
	if !s.templates.Has(in.TemplateSlug) {
		return out, rpc.InvalidField("templateSlug", "unknown",
			"There is no template %q. Known templates: %s.", in.TemplateSlug, strings.Join(s.templates.Slugs(), ", "))
	}
	vcs := in.VCSType
	switch vcs {
	case "":
		vcs = methods.VCSNone
	case methods.VCSNone, methods.VCSGitLocal, methods.VCSGitHub:
	default:
		return out, rpc.InvalidField("vcsType", "enum", "The vcsType must be %q, %q or %q.", methods.VCSGitHub, methods.VCSGitLocal, methods.VCSNone)
	}
	var meta []byte
	if in.Metadata != nil {
		b, err := json.Marshal(in.Metadata)
		if err != nil {
			return out, rpc.InvalidField("metadata", "type", "The metadata must be a JSON object.")
		}
		if len(b) > MaxMetadataSize {
			return out, rpc.InvalidField("metadata", "size", "The metadata is %d bytes as JSON; the limit is %d bytes.", len(b), MaxMetadataSize)
		}
		meta = b
	}
	if in.BundleSlug != "" && in.BundleRevisionID != "" {
		return out, rpc.InvalidField("bundleRevisionId", "exclusive", "Give bundleSlug or bundleRevisionId, not both.")
	}
	if in.AutoCreateSession != nil && in.BundleSlug == "" && in.BundleRevisionID == "" {
		return out, rpc.InvalidField("autoCreateSession", "requires",
			"autoCreateSession starts one of a bundle's presets; give bundleSlug or bundleRevisionId too.")
	}
	var bundleSlug, revisionID string
	if in.BundleSlug != "" || in.BundleRevisionID != "" {
		var err error
		bundleSlug, revisionID, err = s.bundles.ResolveBundle(ctx, orgID, in.BundleSlug, in.BundleRevisionID)
		if err != nil {
			return out, err
		}
	}

	now := storage.Now()
	r := Row{
		ID: storage.NewID("ins"), OrgID: orgID, Name: in.Name, Status: StateCreated,
		TemplateSlug: in.TemplateSlug, BundleSlug: bundleSlug, BundleRevisionID: revisionID,
		VCSType: vcs, CreatedAt: now,
	}
	if meta != nil {
		r.Metadata.String, r.Metadata.Valid = string(meta), true
	}
	detail := "template " + in.TemplateSlug
	if revisionID != "" {
		detail += ", bundle " + bundleSlug + " revision " + revisionID
	}
	ev := EventRow{ID: storage.NewID("iev"), InstanceID: r.ID, Event: "created", Detail: detail, CreatedAt: now}
	if err := s.store.Insert(ctx, r, ev); err != nil {
		return out, err
	}
	rpc.SetInstance(ctx, r.ID)
	out = methods.CreateInstanceOutput{InstanceID: r.ID, Status: string(r.Status)}
	if s.sandboxes != nil {
		if err := s.sandboxes.Schedule(ctx, r); err != nil {
			// The instance exists; its sandbox can be started later with
			// ensureSandbox. The reason is in its history.
			_ = s.store.AddEvent(ctx, EventRow{ID: storage.NewID("iev"), InstanceID: r.ID, Event: "sandbox_not_scheduled",
				Detail: errorSentence(err), CreatedAt: storage.Now()})
		} else {
			out.Status = string(StateInitializing)
		}
	}
	if in.AutoCreateSession != nil && s.sessions != nil {
		sid, tok, status, err := s.sessions.AutoCreate(ctx, orgID, r.ID, *in.AutoCreateSession)
		if err != nil {
			// The instance stays; the caller learns why its session did not.
			return out, err
		}
		out.SessionID, out.WSToken = sid, tok
		if status == "active" {
			out.Status = string(StateReady)
		}
	}
	return out, nil
}

func errorSentence(err error) string {
	_, w := rpc.ToWire(err)
	return w.Message
}

// Get returns one instance of the org.
func (s *Service) Get(ctx context.Context, orgID, id string) (methods.GetInstanceOutput, error) {
	rpc.SetInstance(ctx, id)
	r, err := s.store.Get(ctx, orgID, id)
	if err != nil {
		return methods.GetInstanceOutput{}, err
	}
	return toWire(r)
}

// Lookup returns the stored row of one instance of the org.
func (s *Service) Lookup(ctx context.Context, orgID, id string) (Row, error) {
	return s.store.Get(ctx, orgID, id)
}

// LookupActive returns the row of an instance that takes new work: present
// in the org and not archived.
func (s *Service) LookupActive(ctx context.Context, orgID, id string) (Row, error) {
	key := orgID + "/" + id
	if r, ok := s.active.Get(key); ok {
		return r, nil
	}
	at := s.active.Version(id)
	r, err := s.store.Get(ctx, orgID, id)
	if err != nil {
		return r, err
	}
	if r.Status == StateArchived {
		return r, ErrArchived
	}
	s.active.Put(key, id, at, r)
	return r, nil
}

// List returns a page of the org's instances.
func (s *Service) List(ctx context.Context, orgID string, in methods.ListInstancesInput) (methods.ListInstancesOutput, error) {
	limit, offset, err := rpc.Page(in.Limit, in.Offset)
	if err != nil {
		return methods.ListInstancesOutput{}, err
	}
	rows, total, err := s.store.List(ctx, orgID, limit, offset)
	if err != nil {
		return methods.ListInstancesOutput{}, err
	}
	out := methods.ListInstancesOutput{Instances: make([]methods.GetInstanceOutput, 0, len(rows)), Total: total}
	for _, r := range rows {
		w, err := toWire(r)
		if err != nil {
			return out, err
		}
		out.Instances = append(out.Instances, w)
	}
	return out, nil
}

// Status returns the instance's status with its lifecycle events.
func (s *Service) Status(ctx context.Context, orgID, id string) (methods.GetInstanceStatusOutput, error) {
	rpc.SetInstance(ctx, id)
	r, err := s.store.Get(ctx, orgID, id)
	if err != nil {
		return methods.GetInstanceStatusOutput{}, err
	}
	evs, err := s.store.Events(ctx, r.ID)
	if err != nil {
		return methods.GetInstanceStatusOutput{}, err
	}
	var sb *methods.SandboxSummary
	if s.sandboxes != nil {
		if sb, err = s.sandboxes.Summary(ctx, r.ID); err != nil {
			return methods.GetInstanceStatusOutput{}, err
		}
	}
	sessions, urls := []methods.SessionSummary{}, []methods.ServiceURL{}
	if s.sessions != nil {
		if sessions, err = s.sessions.Summaries(ctx, orgID, r.ID); err != nil {
			return methods.GetInstanceStatusOutput{}, err
		}
		if urls, err = s.sessions.InstanceServiceURLs(ctx, orgID, r.ID); err != nil {
			return methods.GetInstanceStatusOutput{}, err
		}
	}
	out := methods.GetInstanceStatusOutput{
		Sandbox:         sb,
		InstanceID:      r.ID,
		Status:          string(r.Status),
		Sessions:        sessions,
		LifecycleEvents: make([]methods.LifecycleEvent, 0, len(evs)),
		ServiceURLs:     urls,
	}
	for _, e := range evs {
		out.LifecycleEvents = append(out.LifecycleEvents, methods.LifecycleEvent{
			Event: e.Event, Detail: e.Detail, CreatedAt: storage.FormatTime(e.CreatedAt)})
	}
	return out, nil
}

// Archive moves the instance to archived; archiving an archived instance is
// a no-op that succeeds.
func (s *Service) Archive(ctx context.Context, orgID, id string) error {
	rpc.SetInstance(ctx, id)
	for {
		r, err := s.store.Get(ctx, orgID, id)
		if err != nil {
			return err
		}
		if r.Status == StateArchived {
			return nil
		}
		if s.sandboxes != nil {
			if err := s.sandboxes.TerminateLive(ctx, id, "instance archived"); err != nil {
				return err
			}
		}
		moved, err := s.store.Move(ctx, orgID, id, r.Status, StateArchived, "archived by API")
		if err != nil {
			return err
		}
		if moved {
			return nil
		}
		// The state changed under us; read it again.
	}
}

func toWire(r Row) (methods.GetInstanceOutput, error) {
	out := methods.GetInstanceOutput{
		InstanceID: r.ID, Name: r.Name, Status: string(r.Status), TemplateSlug: r.TemplateSlug,
		BundleSlug: r.BundleSlug, BundleRevisionID: r.BundleRevisionID, VCSType: r.VCSType,
		CreatedAt: storage.FormatTime(r.CreatedAt),
	}
	if r.Metadata.Valid {
		if err := json.Unmarshal([]byte(r.Metadata.String), &out.Metadata); err != nil {
			return out, fmt.Errorf("instance %s metadata: %w", r.ID, err)
		}
	}
	return out, nil
}

// Event appends a lifecycle event to an instance's history.
func (s *Service) Event(ctx context.Context, instanceID, event, detail string) error {
	return s.store.AddEvent(ctx, EventRow{ID: storage.NewID("iev"), InstanceID: instanceID, Event: event, Detail: detail, CreatedAt: storage.Now()})
}

// SetStatus moves an instance's status as its sandbox progresses; moves
// the table does not allow are refused.
func (s *Service) SetStatus(ctx context.Context, instanceID string, to State, detail string) error {
	for {
		r, err := s.store.GetAny(ctx, instanceID)
		if err != nil {
			return err
		}
		if r.Status == to {
			return nil
		}
		moved, err := s.store.Move(ctx, r.OrgID, r.ID, r.Status, to, detail)
		if err != nil || moved {
			return err
		}
	}
}
