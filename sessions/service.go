package sessions

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/roosthq/roost/bundles"
	"github.com/roosthq/roost/files"
	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/internal/validate"
	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/resources"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/sandbox"
	"github.com/roosthq/roost/storage"
)

// Status is an agent session's lifecycle state.
type Status string

// The states of a session: it is created while the agent starts it, then
// active until it ends, or in error with the reason.
const (
	StatusCreating Status = "creating"
	StatusActive   Status = "active"
	StatusEnded    Status = "ended"
	StatusError    Status = "error"
)

// Lifecycle is the session's table of moves; its events go to
// state_events.
var Lifecycle = lifecycle.New("session", lifecycle.Rows{Table: "sessions", Column: "status", Touched: "updated_at"},
	map[Status][]Status{
		StatusCreating: {StatusActive, StatusError},
		StatusActive:   {StatusEnded, StatusError},
		StatusEnded:    {},
		StatusError:    {},
	}, StatusCreating, StatusActive)

// Limits.
const (
	MaxInitialPrompt = 256 << 10
	MaxInputs        = 64
	readyWait        = 2 * time.Minute
)

// Errors of sessions.
var (
	ErrNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No session with this id belongs to this instance. See listSessions."}
	ErrNoBundle = rpc.InvalidField("presetId", "no_bundle",
		"The instance has no bundle, so it has no presets to start a session with. Create it with bundleSlug or bundleRevisionId.")
)

// Tokens issues session tokens (wsToken).
type Tokens interface {
	IssueSession(orgID, instanceID, sessionID, origin string, ttl time.Duration) (string, time.Time, error)
}

// Options configures a Service.
type Options struct {
	DB        *storage.DB
	Instances *instance.Service
	Sandboxes *sandbox.Service
	Bundles   *bundles.Service
	Files     *files.Service
	Resources *resources.Service
	Tokens    Tokens
	Logger    *slog.Logger
}

// Service runs sessions.
type Service struct {
	o      Options
	log    *slog.Logger
	wg     sync.WaitGroup
	ctx    context.Context // ends at shutdown; background starts derive from it
	cancel context.CancelFunc
}

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{o: o, log: o.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Close stops background session starts and waits for them.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

type row struct {
	ID            string         `db:"id"`
	OrgID         string         `db:"org_id"`
	InstanceID    string         `db:"instance_id"`
	PresetID      sql.NullString `db:"preset_id"`
	Status        Status         `db:"status"`
	InitialPrompt string         `db:"initial_prompt"`
	Error         string         `db:"error"`
	LastCommit    string         `db:"last_commit"`
	CreatedAt     int64          `db:"created_at"`
	UpdatedAt     int64          `db:"updated_at"`
}

const columns = `id, org_id, instance_id, preset_id, status, initial_prompt, error, last_commit, created_at, updated_at`

// CreateInput is what a session starts with.
type CreateInput struct {
	PresetID      string
	Blocking      bool
	InitialPrompt string
	ResourceIDs   []string
	FileIDs       []string
	Origin        string
	ExpiresIn     *int
	// WithToken asks for a wsToken in the reply.
	WithToken bool
}

// CreateOutput is a started session.
type CreateOutput struct {
	SessionID string
	Status    string
	WSToken   string
}

func (s *Service) manifest(ctx context.Context, inst instance.Row) (*methods.BundleManifest, error) {
	if inst.BundleRevisionID == "" {
		return nil, nil
	}
	return s.o.Bundles.Manifest(ctx, inst.OrgID, inst.BundleRevisionID)
}

// Create opens a session of an instance on one of its presets.
func (s *Service) Create(ctx context.Context, orgID, instanceID string, in CreateInput) (CreateOutput, error) {
	var out CreateOutput
	rpc.SetInstance(ctx, instanceID)
	inst, err := s.o.Instances.Active(ctx, orgID, instanceID)
	if err != nil {
		return out, err
	}
	m, err := s.manifest(ctx, inst)
	if err != nil {
		return out, err
	}
	if m == nil {
		return out, ErrNoBundle
	}
	var ids []string
	found := false
	for _, p := range m.Presets {
		ids = append(ids, p.ID)
		found = found || p.ID == in.PresetID
	}
	if !found {
		return out, rpc.InvalidField("presetId", "enum", "The preset %q is not one of the bundle's presets: %s.", in.PresetID, strings.Join(ids, ", ")).
			WithDetails(map[string]any{"field": "presetId", "reason": "enum", "presets": ids})
	}
	if len(in.InitialPrompt) > MaxInitialPrompt {
		return out, rpc.InvalidField("initialPrompt", "size", "The initialPrompt is larger than %d bytes.", MaxInitialPrompt)
	}
	ttl, err := validate.TokenTTL(in.ExpiresIn)
	if err != nil {
		return out, err
	}
	inputs, err := s.inputs(ctx, orgID, in.ResourceIDs, in.FileIDs)
	if err != nil {
		return out, err
	}
	now := storage.Now()
	r := row{ID: storage.NewID("ses"), OrgID: orgID, InstanceID: instanceID, PresetID: sql.NullString{String: in.PresetID, Valid: true},
		Status: StatusCreating, InitialPrompt: in.InitialPrompt, CreatedAt: now, UpdatedAt: now}
	if err := s.o.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.NamedExecContext(ctx, `INSERT INTO sessions (`+columns+`) VALUES
		(:id, :org_id, :instance_id, :preset_id, :status, :initial_prompt, :error, :last_commit, :created_at, :updated_at)`, r); err != nil {
			return err
		}
		return Lifecycle.Record(ctx, tx, r.ID, r.InstanceID, "", string(StatusCreating), "preset "+in.PresetID)
	}); err != nil {
		return out, fmt.Errorf("create session: %w", err)
	}
	out.SessionID, out.Status = r.ID, string(StatusCreating)
	if in.WithToken {
		if out.WSToken, _, err = s.o.Tokens.IssueSession(orgID, instanceID, r.ID, in.Origin, ttl); err != nil {
			return out, err
		}
	}
	if _, err := s.o.Sandboxes.Ensure(ctx, inst); err != nil {
		s.move(ctx, r, StatusError, "no sandbox: "+sentence(err))
		return out, err
	}
	start := func(ctx context.Context) error {
		err := s.start(ctx, inst, r, inputs)
		if err != nil {
			s.move(ctx, r, StatusError, sentence(err))
			return err
		}
		s.move(ctx, r, StatusActive, "the agent started the session")
		return nil
	}
	if in.Blocking {
		sctx, cancel := context.WithTimeout(ctx, readyWait)
		defer cancel()
		if err := start(sctx); err != nil {
			return out, err
		}
		out.Status = string(StatusActive)
		return out, nil
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, readyWait)
		defer cancel()
		_ = start(ctx)
	}()
	return out, nil
}

func sentence(err error) string {
	_, w := rpc.ToWire(err)
	return w.Message
}

// move takes a new session out of creating, with the reason (kept as the
// session's error when it failed).
func (s *Service) move(ctx context.Context, r row, to Status, why string) {
	ctx = context.WithoutCancel(ctx)
	st := lifecycle.Step[Status]{ID: r.ID, InstanceID: r.InstanceID, From: StatusCreating, To: to, Reason: why}
	if to == StatusError {
		st.Also = []lifecycle.Set{{Column: "error", Value: why}}
	}
	err := s.o.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := Lifecycle.Move(ctx, tx, st)
		return err
	})
	if err != nil {
		s.log.Error("session status not saved", "session", r.ID, "to", to, "err", err)
	}
}

// input is a file to place in the workspace before the session starts.
type input struct {
	name string
	file files.File
}

// inputs resolves resources (their latest revision) and files of the org.
func (s *Service) inputs(ctx context.Context, orgID string, resourceIDs, fileIDs []string) ([]input, error) {
	if len(resourceIDs)+len(fileIDs) > MaxInputs {
		return nil, rpc.InvalidField("resourceIds", "range", "At most %d inputs (resources and files together).", MaxInputs)
	}
	var out []input
	seen := map[string]bool{}
	add := func(f files.File) {
		name := f.Filename
		for i := 2; seen[name]; i++ {
			name = fmt.Sprintf("%d-%s", i, f.Filename)
		}
		seen[name] = true
		out = append(out, input{name: name, file: f})
	}
	for _, id := range resourceIDs {
		fs, err := s.o.Resources.LatestFiles(ctx, orgID, []string{id})
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			add(f)
		}
	}
	for _, id := range fileIDs {
		f, err := s.o.Files.Get(ctx, orgID, id)
		if err != nil {
			return nil, err
		}
		add(f)
	}
	return out, nil
}

// start waits for the agent, places the inputs and opens the session on
// the agent.
func (s *Service) start(ctx context.Context, inst instance.Row, r row, inputs []input) error {
	sb, err := s.waitReady(ctx, inst)
	if err != nil {
		return err
	}
	names := []string{}
	for _, in := range inputs {
		rc, _, err := s.o.Files.Blobs().Get(ctx, in.file.BlobKey, nil)
		if err != nil {
			return err
		}
		err = s.o.Sandboxes.PutFile(ctx, sb, ".roost/inputs/"+in.name, rc)
		rc.Close()
		if err != nil {
			return err
		}
		names = append(names, "/workspace/.roost/inputs/"+in.name)
	}
	body, _ := json.Marshal(map[string]any{"sessionId": r.ID, "presetId": r.PresetID.String,
		"initialPrompt": r.InitialPrompt, "inputs": names})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent/sessions", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	tr := s.o.Sandboxes.Transport(sb, sandbox.AgentPort)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return rpc.Errorf(methods.Unavailable, "The agent refused the session (HTTP %d%s).", resp.StatusCode, agentReason(msg))
	}
	_ = s.o.Instances.Event(ctx, inst.ID, "session_started", r.ID+" on preset "+r.PresetID.String)
	return nil
}

// agentReason is ": reason" when the agent's refusal is a short line of
// text, else "": an HTML error page or a long body has no place in a
// sentence for the caller.
func agentReason(body []byte) string {
	r := strings.TrimSpace(string(body))
	if r == "" || len(r) > 200 || strings.ContainsAny(r, "<>\r\n") || !utf8.ValidString(r) {
		return ""
	}
	return ": " + r
}

// waitReady waits until the instance's agent is up.
func (s *Service) waitReady(ctx context.Context, inst instance.Row) (sandbox.Row, error) {
	for wait := 20 * time.Millisecond; ; {
		cur, err := s.o.Instances.Lookup(ctx, inst.OrgID, inst.ID)
		if err != nil {
			return sandbox.Row{}, err
		}
		switch cur.Status {
		case instance.StateReady:
			return s.o.Sandboxes.Usable(ctx, cur)
		case instance.StateError, instance.StateArchived:
			return sandbox.Row{}, rpc.Errorf(methods.Unavailable, "The instance's sandbox is not running (status %s). See instances.status for why.", cur.Status)
		}
		select {
		case <-ctx.Done():
			return sandbox.Row{}, rpc.Errorf(methods.Timeout, "The agent was not up in time. See getAgentLogs and instances.status, then retry.")
		case <-time.After(wait):
		}
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

func (s *Service) get(ctx context.Context, orgID, instanceID, id string) (row, error) {
	var r row
	err := s.o.DB.GetContext(ctx, &r, `SELECT `+columns+` FROM sessions WHERE id = ? AND instance_id = ? AND org_id = ?`, id, instanceID, orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

func (s *Service) list(ctx context.Context, orgID, instanceID string) ([]row, error) {
	rows := []row{}
	err := s.o.DB.SelectContext(ctx, &rows, `SELECT `+columns+` FROM sessions WHERE instance_id = ? AND org_id = ?
		ORDER BY created_at, id`, instanceID, orgID)
	return rows, err
}

// Summaries lists an instance's sessions as instances.status and
// sessions.list show them.
func (s *Service) Summaries(ctx context.Context, orgID, instanceID string) ([]methods.SessionSummary, error) {
	rows, err := s.list(ctx, orgID, instanceID)
	if err != nil {
		return nil, err
	}
	out := make([]methods.SessionSummary, 0, len(rows))
	for _, r := range rows {
		var p *string
		if r.PresetID.Valid {
			v := r.PresetID.String
			p = &v
		}
		out = append(out, methods.SessionSummary{ID: r.ID, PresetID: p, Status: string(r.Status), CreatedAt: storage.FormatTime(r.CreatedAt)})
	}
	return out, nil
}

// Session returns a session of the instance, for the websocket proxy.
func (s *Service) Session(ctx context.Context, orgID, instanceID, id string) (status string, err error) {
	r, err := s.get(ctx, orgID, instanceID, id)
	return string(r.Status), err
}

// LastCommit is the commit a session of the instance last published (""
// before its first), for publishing.
func (s *Service) LastCommit(ctx context.Context, orgID, instanceID, id string) (string, error) {
	r, err := s.get(ctx, orgID, instanceID, id)
	return r.LastCommit, err
}

// SetLastCommit records the commit a session published.
func (s *Service) SetLastCommit(ctx context.Context, id, sha string) error {
	_, err := s.o.DB.ExecContext(ctx, `UPDATE sessions SET last_commit = ?, updated_at = ? WHERE id = ?`, sha, time.Now().UnixMilli(), id)
	return err
}

// AgentTransport is a transport to the instance's agent, for the session
// websocket proxy.
func (s *Service) AgentTransport(ctx context.Context, orgID, instanceID string) (*http.Transport, error) {
	inst, err := s.o.Instances.Active(ctx, orgID, instanceID)
	if err != nil {
		return nil, err
	}
	sb, err := s.o.Sandboxes.Usable(ctx, inst)
	if err != nil {
		return nil, err
	}
	return s.o.Sandboxes.Transport(sb, sandbox.AgentPort), nil
}

// SessionToken issues a new wsToken for a session of the instance, bound
// to the origin of the instance token that asks for it.
func (s *Service) SessionToken(ctx context.Context, orgID, instanceID, sessionID string, expiresIn *int) (methods.InstanceGetSessionTokenOutput, error) {
	ttl, err := validate.TokenTTL(expiresIn)
	if err != nil {
		return methods.InstanceGetSessionTokenOutput{}, err
	}
	if _, err := s.get(ctx, orgID, instanceID, sessionID); err != nil {
		return methods.InstanceGetSessionTokenOutput{}, err
	}
	origin := ""
	if c, ok := rpc.CallerFrom(ctx); ok {
		origin = c.Origin
	}
	tok, exp, err := s.o.Tokens.IssueSession(orgID, instanceID, sessionID, origin, ttl)
	if err != nil {
		return methods.InstanceGetSessionTokenOutput{}, err
	}
	return methods.InstanceGetSessionTokenOutput{WSToken: tok, ExpiresAt: exp.UTC().Format(time.RFC3339)}, nil
}

// Presets gives the presets and services of an instance's bundle.
func (s *Service) Presets(ctx context.Context, orgID, instanceID string) ([]methods.BundlePreset, []methods.BundleService, error) {
	inst, err := s.o.Instances.Lookup(ctx, orgID, instanceID)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.manifest(ctx, inst)
	if err != nil || m == nil {
		return []methods.BundlePreset{}, []methods.BundleService{}, err
	}
	return m.Presets, m.Services, nil
}
