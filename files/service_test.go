package files_test

// End-to-end tests of files.get, files.list and files.delete.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestFilesListGetDelete(t *testing.T) {
	t.Parallel()
	srv := testutil.StartServer(t, platform.Config{})
	admin := srv.Admin()
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, rpctest.Upload(t, admin, fmt.Sprintf("f%d.txt", i), "", []byte(fmt.Sprint(i))).FileID)
	}
	newestFirst := make([]string, len(ids))
	for i, id := range ids {
		newestFirst[len(ids)-1-i] = id
	}

	t.Run("get shape", func(t *testing.T) {
		raw, err := admin.CallRaw(rpctest.Ctx(t), []byte(fmt.Sprintf(`{"method":"files.get","input":{"fileId":%q}}`, ids[0])))
		if err != nil {
			t.Fatal(err)
		}
		rpctest.WantKeys(t, "files.get", raw, "id", "filename", "mimeType", "size", "sha256", "r2Key", "createdAt")
	})

	t.Run("pages newest first", func(t *testing.T) {
		var got []string
		for _, off := range []int{0, 3, 6} {
			limit, offset := 3, off
			page, err := admin.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{Limit: &limit, Offset: &offset})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != len(ids) {
				t.Errorf("total %d, want %d", page.Total, len(ids))
			}
			for _, f := range page.Files {
				got = append(got, f.ID)
			}
		}
		if strings.Join(got, ",") != strings.Join(newestFirst, ",") {
			t.Errorf("pages give\n%v\nwant newest first\n%v", got, newestFirst)
		}
		limit, offset := 3, 100
		page, err := admin.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{Limit: &limit, Offset: &offset})
		if err != nil || len(page.Files) != 0 || page.Total != len(ids) {
			t.Errorf("a page past the end: %+v, %v", page, err)
		}
	})

	t.Run("bad paging", func(t *testing.T) {
		zero, neg, huge := 0, -1, 1_000_000
		for _, tc := range []struct {
			name  string
			in    methods.ListFilesInput
			field string
		}{
			{"limit 0", methods.ListFilesInput{Limit: &zero}, "limit"},
			{"huge limit", methods.ListFilesInput{Limit: &huge}, "limit"},
			{"negative offset", methods.ListFilesInput{Offset: &neg}, "offset"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.ListFiles(rpctest.Ctx(t), tc.in)
				rpctest.WantClientError(t, err, http.StatusBadRequest, methods.InvalidInput, tc.field)
			})
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := admin.DeleteFile(rpctest.Ctx(t), ids[3]); err != nil {
			t.Fatal(err)
		}
		list, err := admin.ListFiles(rpctest.Ctx(t), methods.ListFilesInput{})
		if err != nil || list.Total != len(ids)-1 {
			t.Fatalf("after delete: %+v, %v", list, err)
		}
		for _, f := range list.Files {
			if f.ID == ids[3] {
				t.Error("the deleted file is still listed")
			}
		}
	})
}
