package platform

import (
	"context"
	"encoding/json"
	"io"

	"github.com/roosthq/roost/bundles"
	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/sandbox"
	"github.com/roosthq/roost/services"
	"github.com/roosthq/roost/sessions"
)

// The domain services know each other only through small interfaces; these
// adapters join them.

// instancesForSandboxes lets the sandbox service read and report to
// instances.
type instancesForSandboxes struct{ s *instance.Service }

func (a instancesForSandboxes) Info(ctx context.Context, orgID, id string) (sandbox.InstanceInfo, error) {
	r, err := a.s.Lookup(ctx, orgID, id)
	if err != nil {
		return sandbox.InstanceInfo{}, err
	}
	return sandbox.InstanceInfo{ID: r.ID, OrgID: r.OrgID, TemplateSlug: r.TemplateSlug,
		BundleRevisionID: r.BundleRevisionID, VCSType: r.VCSType, Archived: r.Status == instance.StateArchived}, nil
}

func (a instancesForSandboxes) Event(ctx context.Context, instanceID, event, detail string) error {
	return a.s.Event(ctx, instanceID, event, detail)
}

func (a instancesForSandboxes) SetStatus(ctx context.Context, instanceID string, to instance.State, detail string) error {
	return a.s.SetStatus(ctx, instanceID, to, detail)
}

// sandboxesForInstances lets instances start, show and end sandboxes.
type sandboxesForInstances struct{ s *sandbox.Service }

func (a sandboxesForInstances) Schedule(ctx context.Context, r instance.Row) error {
	_, err := a.s.Create(ctx, sandbox.InstanceInfo{ID: r.ID, OrgID: r.OrgID, TemplateSlug: r.TemplateSlug,
		BundleRevisionID: r.BundleRevisionID, VCSType: r.VCSType})
	return err
}

func (a sandboxesForInstances) Summary(ctx context.Context, instanceID string) (*methods.SandboxSummary, error) {
	return a.s.Summary(ctx, instanceID)
}

func (a sandboxesForInstances) TerminateLive(ctx context.Context, instanceID, why string) error {
	return a.s.TerminateLive(ctx, instanceID, why)
}

// bundlesForSandboxes gives sandboxes their bundle revisions.
type bundlesForSandboxes struct{ s *bundles.Service }

func (a bundlesForSandboxes) Revision(ctx context.Context, orgID, id string) (sandbox.Revision, error) {
	r, err := a.s.Revision(ctx, orgID, id)
	if err != nil {
		return sandbox.Revision{}, err
	}
	var m methods.BundleManifest
	if err := json.Unmarshal([]byte(r.Manifest), &m); err != nil {
		return sandbox.Revision{}, err
	}
	return sandbox.Revision{SHA256: r.SHA256, Manifest: m}, nil
}

func (a bundlesForSandboxes) Open(ctx context.Context, revisionID string) (io.ReadCloser, error) {
	return a.s.OpenRevision(ctx, revisionID)
}

// sessionsForInstances gives instances.status its sessions and service
// URLs, and instances.create its autoCreateSession.
type sessionsForInstances struct {
	s   *sessions.Service
	svc *services.Service
}

func (a sessionsForInstances) Summaries(ctx context.Context, orgID, instanceID string) ([]methods.SessionSummary, error) {
	return a.s.Summaries(ctx, orgID, instanceID)
}

func (a sessionsForInstances) InstanceServiceURLs(ctx context.Context, orgID, instanceID string) ([]methods.ServiceURL, error) {
	return a.svc.InstanceServiceURLs(ctx, orgID, instanceID)
}

func (a sessionsForInstances) AutoCreate(ctx context.Context, orgID, instanceID string, in methods.AutoCreateSession) (string, string, string, error) {
	out, err := a.s.Create(ctx, orgID, instanceID, sessions.CreateInput{PresetID: in.PresetID, Blocking: in.Blocking,
		InitialPrompt: in.InitialPrompt, ResourceIDs: in.ResourceIDs, FileIDs: in.FileIDs, WithToken: true})
	return out.SessionID, out.WSToken, out.Status, err
}
