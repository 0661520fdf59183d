package bundles_test

// End-to-end tests of bundles.*, publishing archives uploaded as files,
// against both blob stores.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestBundles(t *testing.T) {
	t.Parallel()
	for _, kind := range testutil.BlobStores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			env := testutil.StartStoreServer(t, testutil.MinIOFor(t, kind), platform.Config{})
			admin := env.Admin()
			_, otherKey := env.OrgKey(t, "bundles-other", "k", false)
			other := env.Client(otherKey)

			v1File := rpctest.Upload(t, admin, "agent-1.0.0.tar.gz", "application/gzip", tarGzOf(t, agentFiles(manifestJSON("1.0.0", nil))...))
			var v1 methods.PublishBundleOutput
			t.Run("publish", func(t *testing.T) {
				raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(
					`{"method":"bundles.publish","input":{"slug":"echo","fileId":%q,"name":"Echo","description":"Echoes."}}`, v1File.FileID)))
				if err != nil {
					t.Fatalf("bundles.publish: %v", err)
				}
				rpctest.WantKeys(t, "bundles.publish", raw, "bundleId", "revisionId", "version")
				_ = json.Unmarshal(raw, &v1)
				if !strings.HasPrefix(v1.BundleID, "bun_") || !strings.HasPrefix(v1.RevisionID, "brev_") || v1.Version != "1.0.0" {
					t.Errorf("bundles.publish: %s", raw)
				}
			})
			if v1.RevisionID == "" {
				t.FailNow()
			}

			t.Run("same version twice", func(t *testing.T) {
				_, _, err := publish(t, admin, "echo", tarGzOf(t, agentFiles(manifestJSON("1.0.0", nil))...))
				rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "manifest.version")
				// Even the very same file.
				_, err = admin.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "manifest.version")
			})

			var v2 *methods.PublishBundleOutput
			var v2File *methods.UploadFileOutput
			t.Run("a zip is the new latest revision", func(t *testing.T) {
				var err error
				v2, v2File, err = publish(t, admin, "echo", zipOf(t, agentFiles(manifestJSON("2.0.0", nil))...))
				if err != nil {
					t.Fatalf("publish the zip: %v", err)
				}
				if v2.BundleID != v1.BundleID || v2.RevisionID == v1.RevisionID || v2.Version != "2.0.0" {
					t.Errorf("second publish %+v, first %+v", v2, v1)
				}
				raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(`{"method":"bundles.list","input":{}}`))
				if err != nil {
					t.Fatal(err)
				}
				rpctest.WantKeys(t, "bundles.list", raw, "bundles")
				var items []json.RawMessage
				_ = json.Unmarshal(rpctest.Field(t, raw, "bundles"), &items)
				if len(items) != 1 {
					t.Fatalf("bundles.list: %s", raw)
				}
				rpctest.WantKeys(t, "a bundle", items[0], "id", "slug", "name", "description", "latestRevision", "createdAt")
				rpctest.WantKeys(t, "latestRevision", rpctest.Field(t, items[0], "latestRevision"), "id", "version", "r2Key", "createdAt")
				var b methods.BundleSummary
				_ = json.Unmarshal(items[0], &b)
				if b.ID != v1.BundleID || b.Slug != "echo" || rpctest.Deref(b.Name) != "Echo" || rpctest.Deref(b.Description) != "Echoes." || b.LatestRevision == nil ||
					b.LatestRevision.ID != v2.RevisionID || rpctest.Deref(b.LatestRevision.Version) != "2.0.0" || b.LatestRevision.R2Key != v2File.R2Key {
					t.Errorf("bundles.list item: %s", items[0])
				}
			})
			if v2 == nil {
				t.FailNow()
			}

			t.Run("each publish is the latest at once", func(t *testing.T) {
				for i := 0; i < 8; i++ {
					version := fmt.Sprintf("3.0.%d", i)
					out, _, err := publish(t, admin, "quick", tarGzOf(t, agentFiles(manifestJSON(version, nil))...))
					if err != nil {
						t.Fatal(err)
					}
					list, err := admin.ListBundles(rpctest.Ctx(t), methods.ListBundlesInput{})
					if err != nil {
						t.Fatal(err)
					}
					for _, b := range list.Bundles {
						if b.Slug == "quick" && (b.LatestRevision == nil || b.LatestRevision.ID != out.RevisionID) {
							t.Fatalf("after publishing %s the latest revision is %+v, want %s", version, b.LatestRevision, out.RevisionID)
						}
					}
				}
			})

			t.Run("get shows the revisions with their manifests", func(t *testing.T) {
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}} {
					got, err := admin.GetBundle(rpctest.Ctx(t), in)
					if err != nil {
						t.Fatalf("bundles.get %+v: %v", in, err)
					}
					if got.ID != v1.BundleID || got.Slug != "echo" || len(got.Revisions) != 2 ||
						got.Revisions[0].ID != v2.RevisionID || got.Revisions[1].ID != v1.RevisionID {
						t.Fatalf("bundles.get %+v: %+v", in, got)
					}
					r := got.Revisions[1]
					m := r.Manifest
					if r.Version != "1.0.0" || r.FileID != v1File.FileID || r.R2Key != v1File.R2Key || m.Name != "Echo agent" || m.Version != "1.0.0" ||
						strings.Join(m.Entrypoint, " ") != "python3 agent.py" || len(m.Presets) != 2 || m.Presets[0] != (methods.BundlePreset{ID: "chat", Name: "Chat", Description: "Talk to the agent."}) ||
						len(m.Services) != 2 || m.Services[1] != (methods.BundleService{ServiceType: "api", Port: 8080}) ||
						m.Env["AGENT_MODE"] != "test" || rpctest.Deref(m.Health) != "/health" {
						t.Errorf("revision 1.0.0: %+v", r)
					}
					info, err := admin.GetFile(rpctest.Ctx(t), v1File.FileID)
					if err != nil || r.SHA256 != info.SHA256 {
						t.Errorf("revision sha256 %s, file %+v (%v)", r.SHA256, info, err)
					}
				}
			})

			var bySlug, byRev string
			t.Run("instances pin a revision", func(t *testing.T) {
				a, err := admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "latest", BundleSlug: "echo"})
				if err != nil {
					t.Fatalf("instances.create with bundleSlug: %v", err)
				}
				b, err := admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "pinned", BundleRevisionID: v1.RevisionID})
				if err != nil {
					t.Fatalf("instances.create with bundleRevisionId: %v", err)
				}
				bySlug, byRev = a.InstanceID, b.InstanceID
				for _, tc := range []struct{ id, rev string }{{bySlug, v2.RevisionID}, {byRev, v1.RevisionID}} {
					got, err := admin.GetInstance(rpctest.Ctx(t), tc.id)
					if err != nil || got.BundleSlug != "echo" || got.BundleRevisionID != tc.rev {
						t.Errorf("instances.get %s: %+v, %v; want echo revision %s", tc.id, got, err, tc.rev)
					}
				}
				_, err = other.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "theirs", BundleRevisionID: v1.RevisionID})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = other.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "theirs", BundleSlug: "echo"})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
			})

			t.Run("a published archive cannot be deleted", func(t *testing.T) {
				for _, f := range []*methods.UploadFileOutput{v1File, v2File} {
					_, err := admin.DeleteFile(rpctest.Ctx(t), f.FileID)
					rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
				}
				if len(rpctest.Download(t, admin, v1File.FileID)) != int(v1File.Size) {
					t.Error("the archive does not download whole")
				}
			})

			t.Run("another org", func(t *testing.T) {
				list, err := other.ListBundles(rpctest.Ctx(t), methods.ListBundlesInput{})
				if err != nil || len(list.Bundles) != 0 {
					t.Errorf("another org's bundles.list: %+v, %v", list, err)
				}
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}} {
					_, err := other.GetBundle(rpctest.Ctx(t), in)
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
					_, err = other.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput(in))
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				}
				_, err = other.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
			})

			t.Run("delete", func(t *testing.T) {
				_, err := admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput{})
				rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "bundleId")

				if _, err := admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput{BundleSlug: "echo"}); err != nil {
					t.Fatalf("bundles.delete by slug: %v", err)
				}
				quick, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "quick"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput{BundleID: quick.ID}); err != nil {
					t.Fatalf("bundles.delete by id: %v", err)
				}
				list, err := admin.ListBundles(rpctest.Ctx(t), methods.ListBundlesInput{})
				if err != nil || len(list.Bundles) != 0 {
					t.Errorf("bundles.list after deleting both: %+v, %v", list, err)
				}
				for _, in := range []methods.GetBundleInput{{BundleSlug: "echo"}, {BundleID: v1.BundleID}, {BundleID: quick.ID}} {
					_, err := admin.GetBundle(rpctest.Ctx(t), in)
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
					_, err = admin.DeleteBundle(rpctest.Ctx(t), methods.DeleteBundleInput(in))
					rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				}
				// Pinned instances keep their revision.
				for _, tc := range []struct{ id, rev string }{{bySlug, v2.RevisionID}, {byRev, v1.RevisionID}} {
					got, err := admin.GetInstance(rpctest.Ctx(t), tc.id)
					if err != nil || got.BundleSlug != "echo" || got.BundleRevisionID != tc.rev {
						t.Errorf("instances.get %s after bundles.delete: %+v, %v", tc.id, got, err)
					}
				}
				// New instances cannot pin a deleted bundle.
				_, err = admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "late", BundleSlug: "echo"})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				_, err = admin.CreateInstance(rpctest.Ctx(t), methods.CreateInstanceInput{TemplateSlug: "default", Name: "late", BundleRevisionID: v1.RevisionID})
				rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
				// The archives stay for the pinned instances.
				_, err = admin.DeleteFile(rpctest.Ctx(t), v1File.FileID)
				rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
			})

			t.Run("the slug can be published again", func(t *testing.T) {
				out, err := admin.PublishBundle(rpctest.Ctx(t), methods.PublishBundleInput{Slug: "echo", FileID: v1File.FileID})
				if err != nil {
					t.Fatalf("publish to a deleted slug: %v", err)
				}
				if out.BundleID == v1.BundleID || out.Version != "1.0.0" {
					t.Errorf("republish: %+v, the deleted bundle was %s", out, v1.BundleID)
				}
				got, err := admin.GetBundle(rpctest.Ctx(t), methods.GetBundleInput{BundleSlug: "echo"})
				if err != nil || len(got.Revisions) != 1 || got.Revisions[0].ID != out.RevisionID {
					t.Errorf("the new bundle: %+v, %v", got, err)
				}
				if got != nil && got.Name != nil && *got.Name != "Echo agent" {
					t.Errorf("a bundle published without a name takes the manifest's: %q", *got.Name)
				}
			})
		})
	}
}
