package resources_test

// End-to-end tests of resources.*: a real server on a loopback port, the
// Go client and raw RPC calls.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestResources(t *testing.T) {
	t.Parallel()
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	_, otherKey := srv.OrgKey(t, "resources-other", "k", false)
	other := srv.Client(otherKey)
	upload := func(name string) *methods.UploadFileOutput {
		return rpctest.Upload(t, admin, name, "text/markdown", []byte("# "+name+"\n"))
	}
	f1, f2, f3 := upload("one.md"), upload("two.md"), upload("three.md")

	var res *methods.CreateResourceOutput
	t.Run("create", func(t *testing.T) {
		raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(
			`{"method":"resources.create","input":{"slug":"prompts","name":"Prompts","description":"The prompt pack.","fileId":%q,"label":"v1"}}`, f1.FileID)))
		if err != nil {
			t.Fatalf("resources.create: %v", err)
		}
		rpctest.WantKeys(t, "resources.create", raw, "resourceId", "revisionId")
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
	})
	if res == nil {
		t.FailNow()
	}

	t.Run("get by id and by slug", func(t *testing.T) {
		for _, in := range []string{fmt.Sprintf(`{"resourceId":%q}`, res.ResourceID), `{"resourceSlug":"prompts"}`} {
			raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(`{"method":"resources.get","input":`+in+`}`))
			if err != nil {
				t.Fatalf("resources.get %s: %v", in, err)
			}
			rpctest.WantKeys(t, "resources.get", raw, "id", "slug", "name", "description", "latestRevision", "createdAt")
			latest := rpctest.Field(t, raw, "latestRevision")
			rpctest.WantKeys(t, "latestRevision", latest, "id", "label", "file", "createdAt")
			rpctest.WantKeys(t, "latestRevision.file", rpctest.Field(t, latest, "file"), "id", "filename", "mimeType", "size")
			var got methods.GetResourceOutput
			_ = json.Unmarshal(raw, &got)
			if got.ID != res.ResourceID || got.Slug != "prompts" || rpctest.Deref(got.Name) != "Prompts" || rpctest.Deref(got.Description) != "The prompt pack." ||
				got.LatestRevision == nil || got.LatestRevision.ID != res.RevisionID || rpctest.Deref(got.LatestRevision.Label) != "v1" ||
				got.LatestRevision.File != (methods.ResourceFile{ID: f1.FileID, Filename: "one.md", MimeType: "text/markdown", Size: f1.Size}) {
				t.Errorf("resources.get %s: %s", in, raw)
			}
		}
	})

	t.Run("optional fields are null", func(t *testing.T) {
		out, err := admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "bare", FileID: f3.FileID})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(`{"method":"resources.get","input":{"resourceId":%q}}`, out.ResourceID)))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"name", "description"} {
			if v := rpctest.Field(t, raw, k); string(v) != "null" {
				t.Errorf("%s = %s, want null", k, v)
			}
		}
		if v := rpctest.Field(t, rpctest.Field(t, raw, "latestRevision"), "label"); string(v) != "null" {
			t.Errorf("label = %s, want null", v)
		}
	})

	t.Run("create refused", func(t *testing.T) {
		cases := []struct {
			name   string
			in     methods.CreateResourceInput
			status int
			typ    methods.ErrorType
			field  string
		}{
			{"duplicate slug", methods.CreateResourceInput{Slug: "prompts", FileID: f2.FileID}, http.StatusConflict, methods.Conflict, ""},
			{"uppercase slug", methods.CreateResourceInput{Slug: "Prompts2", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"slug too long", methods.CreateResourceInput{Slug: strings.Repeat("a", 64), FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"leading dash", methods.CreateResourceInput{Slug: "-prompts", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"empty slug", methods.CreateResourceInput{Slug: "", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"slug with a space", methods.CreateResourceInput{Slug: "my prompts", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"slug with a slash", methods.CreateResourceInput{Slug: "a/b", FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "slug"},
			{"name too long", methods.CreateResourceInput{Slug: "long-name", Name: strings.Repeat("n", 201), FileID: f2.FileID}, http.StatusBadRequest, methods.InvalidInput, "name"},
			{"unknown file", methods.CreateResourceInput{Slug: "nofile", FileID: "file_00000000000000000000000000"}, http.StatusNotFound, methods.NotFound, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.CreateResource(rpctest.Ctx(t), tc.in)
				rpctest.WantClientError(t, err, tc.status, tc.typ, tc.field)
			})
		}
		// The longest allowed slug works.
		if _, err := admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: strings.Repeat("a", 63), FileID: f3.FileID}); err != nil {
			t.Errorf("a 63-character slug: %v", err)
		}
	})

	t.Run("add revisions", func(t *testing.T) {
		byID, err := admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: f2.FileID, Label: "v2"})
		if err != nil {
			t.Fatal(err)
		}
		wantLatest(t, admin, "prompts", byID.RevisionID, "v2", f2)
		bySlug, err := admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: f3.FileID})
		if err != nil {
			t.Fatal(err)
		}
		wantLatest(t, admin, "prompts", bySlug.RevisionID, "", f3)
		// Each new revision is the latest at once, however quickly they
		// follow each other.
		for i := 0; i < 25; i++ {
			f := []*methods.UploadFileOutput{f1, f2}[i%2]
			label := fmt.Sprintf("quick-%d", i)
			rev, err := admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: f.FileID, Label: label})
			if err != nil {
				t.Fatal(err)
			}
			if !wantLatest(t, admin, "prompts", rev.RevisionID, label, f) {
				break
			}
		}
	})

	t.Run("add revision refused", func(t *testing.T) {
		cases := []struct {
			name   string
			in     methods.AddResourceRevisionInput
			status int
			typ    methods.ErrorType
			field  string
		}{
			{"neither id nor slug", methods.AddResourceRevisionInput{FileID: f1.FileID}, http.StatusBadRequest, methods.InvalidInput, "resourceId"},
			{"unknown slug", methods.AddResourceRevisionInput{ResourceSlug: "nope", FileID: f1.FileID}, http.StatusNotFound, methods.NotFound, ""},
			{"unknown id", methods.AddResourceRevisionInput{ResourceID: "res_00000000000000000000000000", FileID: f1.FileID}, http.StatusNotFound, methods.NotFound, ""},
			{"unknown file", methods.AddResourceRevisionInput{ResourceSlug: "prompts", FileID: "file_00000000000000000000000000"}, http.StatusNotFound, methods.NotFound, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.AddResourceRevision(rpctest.Ctx(t), tc.in)
				rpctest.WantClientError(t, err, tc.status, tc.typ, tc.field)
			})
		}
		_, err := admin.GetResource(rpctest.Ctx(t), methods.GetResourceInput{})
		rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "resourceId")
		_, err = admin.GetResource(rpctest.Ctx(t), methods.GetResourceInput{ResourceID: res.ResourceID, ResourceSlug: "bare"})
		rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, "resourceSlug")
	})

	t.Run("list", func(t *testing.T) {
		list, err := admin.ListResources(rpctest.Ctx(t), methods.ListResourcesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var slugs []string
		for _, r := range list.Resources {
			slugs = append(slugs, r.Slug)
			if r.LatestRevision == nil {
				t.Errorf("%s has no latestRevision in the list", r.Slug)
			}
		}
		want := []string{strings.Repeat("a", 63), "bare", "prompts"}
		if strings.Join(slugs, ",") != strings.Join(want, ",") {
			t.Errorf("resources.list slugs %v, want %v", slugs, want)
		}
		limit, offset := 1, 1
		page, err := admin.ListResources(rpctest.Ctx(t), methods.ListResourcesInput{Limit: &limit, Offset: &offset})
		if err != nil || len(page.Resources) != 1 || page.Resources[0].Slug != "bare" {
			t.Errorf("page 2 of 1: %+v, %v", page, err)
		}
	})

	t.Run("another org", func(t *testing.T) {
		_, err := other.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "theirs", FileID: f1.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		for _, in := range []methods.GetResourceInput{{ResourceID: res.ResourceID}, {ResourceSlug: "prompts"}} {
			_, err := other.GetResource(rpctest.Ctx(t), in)
			rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		}
		of := rpctest.Upload(t, other, "theirs.md", "", []byte("theirs"))
		_, err = other.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: of.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		// Nor can we use their file.
		_, err = admin.AddResourceRevision(rpctest.Ctx(t), methods.AddResourceRevisionInput{ResourceID: res.ResourceID, FileID: of.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		_, err = admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "borrowed", FileID: of.FileID})
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		_, err = other.DeleteResource(rpctest.Ctx(t), res.ResourceID)
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		// Slugs are per organization.
		if _, err := other.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "prompts", FileID: of.FileID}); err != nil {
			t.Errorf("another org cannot use the slug: %v", err)
		}
		list, err := other.ListResources(rpctest.Ctx(t), methods.ListResourcesInput{})
		if err != nil || len(list.Resources) != 1 || list.Resources[0].ID == res.ResourceID {
			t.Errorf("another org's list: %+v, %v", list, err)
		}
		// Its own resource does not hide ours.
		wantLatestID(t, admin, "prompts", res.ResourceID)
	})

	t.Run("a file in use cannot be deleted", func(t *testing.T) {
		_, err := admin.DeleteFile(rpctest.Ctx(t), f1.FileID)
		rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
		if got := rpctest.Download(t, admin, f1.FileID); string(got) != "# one.md\n" {
			t.Errorf("the file in use downloads as %q", got)
		}
	})

	t.Run("delete", func(t *testing.T) {
		// f1 and f2 are only used by "prompts"; f3 also by "bare".
		if _, err := admin.DeleteResource(rpctest.Ctx(t), res.ResourceID); err != nil {
			t.Fatalf("resources.delete: %v", err)
		}
		for _, in := range []methods.GetResourceInput{{ResourceID: res.ResourceID}, {ResourceSlug: "prompts"}} {
			_, err := admin.GetResource(rpctest.Ctx(t), in)
			rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		}
		_, err := admin.DeleteResource(rpctest.Ctx(t), res.ResourceID)
		rpctest.WantClientError(t, err, http.StatusNotFound, methods.NotFound, "")
		for _, f := range []*methods.UploadFileOutput{f1, f2} {
			if _, err := admin.DeleteFile(rpctest.Ctx(t), f.FileID); err != nil {
				t.Errorf("files.delete %s after resources.delete: %v", f.Filename, err)
			}
		}
		_, err = admin.DeleteFile(rpctest.Ctx(t), f3.FileID)
		rpctest.WantClientError(t, err, http.StatusConflict, methods.Conflict, "")
		// The slug is free again.
		f4 := upload("four.md")
		if _, err := admin.CreateResource(rpctest.Ctx(t), methods.CreateResourceInput{Slug: "prompts", FileID: f4.FileID}); err != nil {
			t.Errorf("re-create a deleted slug: %v", err)
		}
	})
}

// wantLatest checks a resource's latest revision; label "" means null.
func wantLatest(t testing.TB, c *client.Client, slug, revID, label string, f *methods.UploadFileOutput) bool {
	t.Helper()
	got, err := c.GetResource(rpctest.Ctx(t), methods.GetResourceInput{ResourceSlug: slug})
	if err != nil {
		t.Fatalf("resources.get: %v", err)
	}
	l := got.LatestRevision
	if l == nil || l.ID != revID || rpctest.Deref(l.Label) != label || (label == "") != (l.Label == nil) || l.File.ID != f.FileID || l.File.Filename != f.Filename {
		t.Errorf("latestRevision %+v, want revision %s label %q file %s", l, revID, label, f.FileID)
		return false
	}
	return true
}

func wantLatestID(t testing.TB, c *client.Client, slug, id string) {
	t.Helper()
	got, err := c.GetResource(rpctest.Ctx(t), methods.GetResourceInput{ResourceSlug: slug})
	if err != nil || got.ID != id {
		t.Errorf("resources.get %s: %+v, %v; want id %s", slug, got, err, id)
	}
}
