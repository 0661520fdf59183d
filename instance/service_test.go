package instance_test

// End-to-end tests of instances through the platform RPC and the Go client:
// instances.create, get, status and archive and what each answers, the
// sessions of a new instance, and instances.list with its paging.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestInstanceLifecycle(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	key := srv.AdminKey
	admin := srv.Admin()

	before := time.Now()
	created := rpctest.CallPlatform(t, srv, key, methods.InstancesCreate, map[string]any{
		"templateSlug": "default", "name": "lifecycle", "vcsType": "gitLocal",
		"metadata": map[string]any{"team": "a", "n": 1, "nested": map[string]any{"k": []int{1, 2}}},
	})
	after := time.Now()
	cv := rpctest.WantOK(t, created)
	rpctest.WantKeys(t, "instances.create value", cv, "instanceId", "status")
	out := rpctest.Decode[methods.CreateInstanceOutput](t, cv)
	if out.Status != "created" || !strings.HasPrefix(out.InstanceID, "ins_") {
		t.Fatalf("instances.create = %+v, want status created and an ins_ id", out)
	}
	id := out.InstanceID

	t.Run("get", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.InstancesGet, map[string]any{"instanceId": id}))
		rpctest.WantKeys(t, "instances.get value", v, "instanceId", "name", "status", "templateSlug",
			"bundleSlug", "bundleRevisionId", "vcsType", "metadata", "createdAt")
		got := rpctest.Decode[methods.GetInstanceOutput](t, v)
		rpctest.Within(t, "createdAt", rpctest.ParseTime(t, "createdAt", got.CreatedAt), before, after)
		want := methods.GetInstanceOutput{InstanceID: id, Name: "lifecycle", Status: "created", TemplateSlug: "default",
			VCSType: "gitLocal", CreatedAt: got.CreatedAt}
		meta := got.Metadata
		got.Metadata = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("instances.get = %+v, want %+v", got, want)
		}
		if b, _ := json.Marshal(meta); string(b) != `{"n":1,"nested":{"k":[1,2]},"team":"a"}` {
			t.Errorf("metadata came back as %s", b)
		}
		// The Go client reads the same.
		typed, err := admin.GetInstance(testutil.Context(t, testutil.Short), id)
		if err != nil || typed.InstanceID != id || typed.Name != "lifecycle" {
			t.Errorf("client GetInstance = %+v, %v", typed, err)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		id2 := rpctest.CreateInstance(t, admin, "defaults")
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.InstancesGet, map[string]any{"instanceId": id2}))
		if m := string(rpctest.Field(t, v, "metadata")); m != "null" {
			t.Errorf("metadata of an instance created without it = %s, want null", m)
		}
		if vcs := string(rpctest.Field(t, v, "vcsType")); vcs != `"none"` {
			t.Errorf("default vcsType = %s, want \"none\"", vcs)
		}
		for _, k := range []string{"bundleSlug", "bundleRevisionId"} {
			if b := string(rpctest.Field(t, v, k)); b != `""` {
				t.Errorf("%s without a bundle = %s, want \"\"", k, b)
			}
		}
	})

	t.Run("status", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.InstancesStatus, map[string]any{"instanceId": id}))
		rpctest.WantKeys(t, "instances.status value", v, "instanceId", "status", "sandbox", "sessions", "lifecycleEvents", "serviceUrls")
		for k, want := range map[string]string{"sandbox": "null", "sessions": "[]", "serviceUrls": "[]",
			"status": `"created"`, "instanceId": strconv.Quote(id)} {
			if got := string(rpctest.Field(t, v, k)); got != want {
				t.Errorf("instances.status %s = %s, want %s", k, got, want)
			}
		}
		evs := rpctest.Decode[[]json.RawMessage](t, rpctest.Field(t, v, "lifecycleEvents"))
		// The test platform has no node: the second event says why no
		// sandbox was scheduled.
		if len(evs) != 2 {
			t.Fatalf("lifecycleEvents = %s, want created and sandbox_not_scheduled", rpctest.Field(t, v, "lifecycleEvents"))
		}
		ev := rpctest.Decode[methods.LifecycleEvent](t, evs[0])
		if ev.Event != "created" {
			t.Errorf("first lifecycle event = %q, want created", ev.Event)
		}
		if ev := rpctest.Decode[methods.LifecycleEvent](t, evs[1]); ev.Event != "sandbox_not_scheduled" || !strings.Contains(ev.Detail, "No node") {
			t.Errorf("second lifecycle event = %+v, want sandbox_not_scheduled saying no node is connected", ev)
		}
		rpctest.Within(t, "created event createdAt", rpctest.ParseTime(t, "event createdAt", ev.CreatedAt), before, after)
		typed, err := admin.InstanceStatus(testutil.Context(t, testutil.Short), id)
		if err != nil || typed.Sandbox != nil || typed.Sessions == nil || typed.ServiceURLs == nil {
			t.Errorf("client InstanceStatus = %+v, %v", typed, err)
		}
	})

	t.Run("sessions.list", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.SessionsList, map[string]any{"instanceId": id}))
		if string(v) != `{"sessions":[]}` {
			t.Errorf("sessions.list = %s, want {\"sessions\":[]}", v)
		}
		typed, err := admin.ListSessions(testutil.Context(t, testutil.Short), id)
		if err != nil || typed.Sessions == nil || len(typed.Sessions) != 0 {
			t.Errorf("client ListSessions = %+v, %v", typed, err)
		}
	})

	tok := rpctest.CreateToken(t, admin, methods.CreateInstanceTokenInput{InstanceID: id}).Token

	t.Run("instance listSessions", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallInstance(t, srv, id, rpctest.Bearer(tok), methods.ListSessions, map[string]any{}))
		if string(v) != `{"sessions":[]}` {
			t.Errorf("listSessions = %s, want {\"sessions\":[]}", v)
		}
		// No input at all is an empty input.
		rpctest.WantOK(t, rpctest.CallInstance(t, srv, id, rpctest.Bearer(tok), methods.ListSessions, nil))
		typed, err := client.NewInstance(srv.URL, id, tok, nil).ListSessions(testutil.Context(t, testutil.Short))
		if err != nil || typed.Sessions == nil {
			t.Errorf("client instance ListSessions = %+v, %v", typed, err)
		}
	})

	t.Run("archive", func(t *testing.T) {
		for i := range 2 { // archiving is idempotent
			v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.InstancesArchive, map[string]any{"instanceId": id}))
			if string(v) != `{"ok":true}` {
				t.Errorf("archive #%d = %s, want {\"ok\":true}", i+1, v)
			}
		}
		got, err := admin.GetInstance(testutil.Context(t, testutil.Short), id)
		if err != nil || got.Status != "archived" {
			t.Fatalf("instances.get after archive = %+v, %v; want status archived", got, err)
		}
		st, err := admin.InstanceStatus(testutil.Context(t, testutil.Short), id)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ev := range st.LifecycleEvents {
			names = append(names, ev.Event)
			rpctest.ParseTime(t, ev.Event+" createdAt", ev.CreatedAt)
		}
		if strings.Join(names, ",") != "created,sandbox_not_scheduled,archived" || st.Status != "archived" {
			t.Errorf("after two archives: status %q, events %v; want archived with events created,sandbox_not_scheduled,archived", st.Status, names)
		}
		if len(st.LifecycleEvents) == 3 && rpctest.ParseTime(t, "", st.LifecycleEvents[2].CreatedAt).Before(rpctest.ParseTime(t, "", st.LifecycleEvents[0].CreatedAt)) {
			t.Errorf("archived event is older than created event: %+v", st.LifecycleEvents)
		}
	})

	t.Run("archived instance refuses tokens", func(t *testing.T) {
		r := rpctest.CallPlatform(t, srv, key, methods.TokensCreate, map[string]any{"instanceId": id})
		rpctest.WantError(t, r, http.StatusConflict, methods.Conflict)
	})

	t.Run("tokens of an archived instance stop working", func(t *testing.T) {
		r := rpctest.CallInstance(t, srv, id, rpctest.Bearer(tok), methods.ListSessions, map[string]any{})
		rpctest.WantError(t, r, http.StatusUnauthorized, methods.Unauthorized)
		r = rpctest.Post(t, rpctest.CookieURL(srv, id), rpctest.Bearer(tok), nil)
		rpctest.WantError(t, r, http.StatusUnauthorized, methods.Unauthorized)
	})
}

func TestInstancesListPaging(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	_, key := srv.OrgKey(t, "paging", "pager", false)
	c := srv.Client(key)

	t.Run("empty", func(t *testing.T) {
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.InstancesList, map[string]any{}))
		if string(v) != `{"instances":[],"total":0}` {
			t.Errorf("instances.list of an empty org = %s, want {\"instances\":[],\"total\":0}", v)
		}
	})

	const n = 55
	created := map[string]bool{}
	for i := range n {
		created[rpctest.CreateInstance(t, c, fmt.Sprintf("page-%02d", i))] = true
	}
	// Another org's instances count for nothing here.
	rpctest.CreateInstance(t, srv.Admin(), "someone else's")

	list := func(t *testing.T, in map[string]any) methods.ListInstancesOutput {
		t.Helper()
		v := rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.InstancesList, in))
		rpctest.WantKeys(t, "instances.list value", v, "instances", "total")
		if string(rpctest.Field(t, v, "instances")) == "null" {
			t.Fatalf("instances is null, want an array: %s", v)
		}
		return rpctest.Decode[methods.ListInstancesOutput](t, v)
	}
	all := list(t, map[string]any{"limit": 200})

	tests := []struct {
		name      string
		in        map[string]any
		from, len int // the page is all.Instances[from:from+len]
	}{
		{"default limit is 50", map[string]any{}, 0, 50},
		{"null limit is the default", map[string]any{"limit": nil, "offset": nil}, 0, 50},
		{"limit 200 is the max", map[string]any{"limit": 200}, 0, n},
		{"limit 1", map[string]any{"limit": 1}, 0, 1},
		{"offset with default limit", map[string]any{"offset": 50}, 50, 5},
		{"limit and offset", map[string]any{"limit": 10, "offset": 20}, 20, 10},
		{"offset at the end", map[string]any{"offset": n}, n, 0},
		{"offset past the end", map[string]any{"offset": 1000}, n, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := list(t, tc.in)
			if page.Total != n {
				t.Errorf("total = %d, want %d", page.Total, n)
			}
			if len(page.Instances) != tc.len {
				t.Fatalf("got %d instances, want %d", len(page.Instances), tc.len)
			}
			for i, inst := range page.Instances {
				if want := all.Instances[tc.from+i].InstanceID; inst.InstanceID != want {
					t.Errorf("item %d = %s, want %s", i, inst.InstanceID, want)
				}
			}
		})
	}

	t.Run("every instance once, newest first", func(t *testing.T) {
		if all.Total != n || len(all.Instances) != n {
			t.Fatalf("limit 200: total %d, %d items; want %d", all.Total, len(all.Instances), n)
		}
		seen := map[string]bool{}
		var prev time.Time
		for i, inst := range all.Instances {
			if !created[inst.InstanceID] || seen[inst.InstanceID] {
				t.Errorf("item %d: %s is not one of the org's instances, or is listed twice", i, inst.InstanceID)
			}
			seen[inst.InstanceID] = true
			at := rpctest.ParseTime(t, "createdAt", inst.CreatedAt)
			if i > 0 && at.After(prev) {
				t.Errorf("item %d (%s) is newer than item %d", i, inst.CreatedAt, i-1)
			}
			prev = at
		}
	})

	t.Run("pages stitch together", func(t *testing.T) {
		var ids []string
		for off := 0; off < n; off += 20 {
			for _, inst := range list(t, map[string]any{"limit": 20, "offset": off}).Instances {
				ids = append(ids, inst.InstanceID)
			}
		}
		var want []string
		for _, inst := range all.Instances {
			want = append(want, inst.InstanceID)
		}
		if strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("pages of 20 list %v, want %v", ids, want)
		}
	})

	t.Run("strict order when creation times differ", func(t *testing.T) {
		_, k := srv.OrgKey(t, "ordered", "o", false)
		oc := srv.Client(k)
		var ids []string
		for i := range 3 {
			id := rpctest.CreateInstance(t, oc, fmt.Sprintf("o-%d", i))
			ids = append(ids, id)
			got, err := oc.GetInstance(testutil.Context(t, testutil.Short), id)
			if err != nil {
				t.Fatal(err)
			}
			at := rpctest.ParseTime(t, "createdAt", got.CreatedAt)
			// Times are stored in milliseconds: let the clock pass this
			// instance's before creating the next one.
			testutil.Eventually(t, testutil.Short, "the clock to pass a millisecond", func() bool {
				return time.Now().UnixMilli() > at.UnixMilli()
			})
		}
		out, err := oc.ListInstances(testutil.Context(t, testutil.Short), methods.ListInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, inst := range out.Instances {
			got = append(got, inst.InstanceID)
		}
		want := []string{ids[2], ids[1], ids[0]}
		if strings.Join(got, ",") != strings.Join(want, ",") || out.Total != 3 {
			t.Errorf("instances.list = %v (total %d), want newest first %v", got, out.Total, want)
		}
	})
}
