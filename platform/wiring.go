package platform

import (
	"context"
	"encoding/json"
	"io"

	"github.com/roosthq/roost/bundles"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/sandbox"
	"github.com/roosthq/roost/services"
	"github.com/roosthq/roost/sessions"
)

// The domain services know each other only through small interfaces; these
// adapters join them.

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

func (a sessionsForInstances) Presets(ctx context.Context, orgID, instanceID string) ([]methods.BundlePreset, []methods.BundleService, error) {
	return a.s.Presets(ctx, orgID, instanceID)
}

func (a sessionsForInstances) AutoCreate(ctx context.Context, orgID, instanceID string, in methods.AutoCreateSession) (string, string, string, error) {
	out, err := a.s.Create(ctx, orgID, instanceID, sessions.CreateInput{PresetID: in.PresetID, Blocking: in.Blocking,
		InitialPrompt: in.InitialPrompt, ResourceIDs: in.ResourceIDs, FileIDs: in.FileIDs, WithToken: true})
	return out.SessionID, out.WSToken, out.Status, err
}
