package platform_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/storage"
)

// enrollWith creates an enrollment token with key and spends it for a node
// named name; it answers the node id and what the token said.
func enrollWith(t *testing.T, srv *testutil.Server, key, name string) (string, methods.CreateEnrollTokenOutput) {
	t.Helper()
	tok := rpctest.Decode[methods.CreateEnrollTokenOutput](t, rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.NodesCreateEnrollToken, map[string]any{})))
	body, _ := json.Marshal(nodeapi.EnrollRequest{Token: tok.Token, Name: name, Hostname: name + ".host", Labels: []string{}})
	resp, err := http.Post(srv.URL+nodeapi.EnrollPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out nodeapi.EnrollResponse
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("enroll %s: HTTP %d", name, resp.StatusCode)
	}
	return out.NodeID, tok
}

func listedNodes(t *testing.T, srv *testutil.Server, key string) map[string]methods.Node {
	t.Helper()
	out := rpctest.Decode[methods.ListNodesOutput](t, rpctest.WantOK(t, rpctest.CallPlatform(t, srv, key, methods.NodesList, nil)))
	m := map[string]methods.Node{}
	for _, n := range out.Nodes {
		m[n.ID] = n
	}
	return m
}

// TestFleetAuthorization: the fleet is the operator's. An organization's
// admin enrolls and runs nodes of its own, which no other organization
// sees or uses, and sees a shared node only while its instances run there,
// without the machine's name and metrics; it cannot change a shared node.
// Every nodes.* method is tried by every kind of caller on every kind of
// node.
func TestFleetAuthorization(t *testing.T) {
	srv := testutil.StartServer(t, platform.Config{})
	operator := srv.AdminKey
	if !srv.AdminKeyRecord(t).Operator {
		t.Fatal("the first key of a new platform is not an operator key")
	}
	_, adminA := srv.OrgKey(t, "alpha", "admin-a", true)
	_, plainA := srv.OrgKey(t, "alpha", "plain-a", false)
	_, adminB := srv.OrgKey(t, "beta", "admin-b", true)

	shared, tok := enrollWith(t, srv, operator, "shared-1")
	if !tok.Shared {
		t.Errorf("an operator's enrollment token does not say it enrolls a shared node")
	}
	ownA, tokA := enrollWith(t, srv, adminA, "alpha-1")
	if tokA.Shared {
		t.Errorf("an organization admin's enrollment token says it enrolls a shared node")
	}
	ownB, _ := enrollWith(t, srv, adminB, "beta-1")
	idle, _ := enrollWith(t, srv, operator, "shared-idle")

	// Alpha runs an instance on the shared node.
	instA := rpctest.CreateInstance(t, srv.Client(adminA), "alpha-inst")
	var orgA string
	if err := srv.DB().GetContext(ctx(t), &orgA, `SELECT org_id FROM instances WHERE id = ?`, instA); err != nil {
		t.Fatal(err)
	}
	now := storage.Now()
	if _, err := srv.DB().ExecContext(ctx(t), `INSERT INTO sandboxes (id, org_id, instance_id, node_id, state, token_hash, created_at, updated_at, last_activity_at)
		VALUES ('sbx_fleetauthz', ?, ?, ?, 'running', 'x', ?, ?, ?)`, orgA, instA, shared, now, now, now); err != nil {
		t.Fatal(err)
	}
	_, _ = srv.DB().ExecContext(ctx(t), `UPDATE nodes SET metrics = '{"cpuUsage":0.5,"runningSandboxes":7}' WHERE id = ?`, shared)

	t.Run("lists", func(t *testing.T) {
		for _, tc := range []struct {
			who, key string
			want     []string
		}{
			{"operator", operator, []string{shared, ownA, ownB, idle}},
			{"alpha admin", adminA, []string{ownA, shared}},
			{"beta admin", adminB, []string{ownB}},
		} {
			got := listedNodes(t, srv, tc.key)
			if len(got) != len(tc.want) {
				t.Errorf("%s lists %d nodes, want %d: %v", tc.who, len(got), len(tc.want), got)
			}
			for _, id := range tc.want {
				if _, ok := got[id]; !ok {
					t.Errorf("%s does not list node %s", tc.who, id)
				}
			}
		}
		a := listedNodes(t, srv, adminA)
		if n := a[shared]; !n.Shared || n.Hostname != "" || n.Metrics != nil {
			t.Errorf("alpha sees the shared node as %+v; want it marked shared, without hostname and metrics", n)
		}
		if n := a[ownA]; n.Shared || n.Hostname != "alpha-1.host" {
			t.Errorf("alpha sees its own node as %+v; want all of it", n)
		}
	})

	NF, FB, OK, UA := "not_found", "forbidden", "ok", "unauthorized"
	type row struct {
		who, key string
		// on each node: shared (alpha's instances run there), alpha's, beta's, shared idle
		get, change [4]string
		token       string
	}
	rows := []row{
		{"operator", operator, [4]string{OK, OK, OK, OK}, [4]string{OK, OK, OK, OK}, OK},
		{"alpha admin", adminA, [4]string{OK, OK, NF, NF}, [4]string{FB, OK, NF, NF}, OK},
		{"beta admin", adminB, [4]string{NF, NF, OK, NF}, [4]string{NF, NF, OK, NF}, OK},
		{"alpha non-admin key", plainA, [4]string{FB, FB, FB, FB}, [4]string{FB, FB, FB, FB}, FB},
		{"no key", "", [4]string{UA, UA, UA, UA}, [4]string{UA, UA, UA, UA}, UA},
		{"instance token", rpctest.CreateToken(t, srv.Client(adminA), methods.CreateInstanceTokenInput{InstanceID: instA}).Token,
			[4]string{UA, UA, UA, UA}, [4]string{UA, UA, UA, UA}, UA},
	}
	nodes := [4]string{shared, ownA, ownB, idle}
	outcome := func(r rpctest.Reply) string {
		if r.Error == nil {
			return OK
		}
		return string(r.Error.Type)
	}
	for _, rw := range rows {
		t.Run(rw.who, func(t *testing.T) {
			for k, id := range nodes {
				for _, m := range []string{methods.NodesGet} {
					if got := outcome(rpctest.CallPlatform(t, srv, rw.key, m, methods.NodeRef{NodeID: id})); got != rw.get[k] {
						t.Errorf("%s of node %d (%s): %s, want %s", m, k, id, got, rw.get[k])
					}
				}
				// drain, then undrain: both or neither (remove last, below).
				for _, m := range []string{methods.NodesDrain, methods.NodesUndrain} {
					if got := outcome(rpctest.CallPlatform(t, srv, rw.key, m, methods.NodeRef{NodeID: id})); got != rw.change[k] {
						t.Errorf("%s of node %d (%s): %s, want %s", m, k, id, got, rw.change[k])
					}
				}
			}
			if got := outcome(rpctest.CallPlatform(t, srv, rw.key, methods.NodesCreateEnrollToken, map[string]any{})); got != rw.token {
				t.Errorf("nodes.createEnrollToken: %s, want %s", got, rw.token)
			}
			if rw.key != operator && rw.key != adminA && rw.key != adminB {
				return
			}
			// The refusals of remove, without removing anything yet.
			for k, id := range nodes {
				if rw.change[k] == OK {
					continue
				}
				r := rpctest.CallPlatform(t, srv, rw.key, methods.NodesRemove, methods.NodeRef{NodeID: id})
				if got := outcome(r); got != rw.change[k] {
					t.Errorf("nodes.remove of node %d (%s): %s, want %s", k, id, got, rw.change[k])
				}
				if rw.change[k] == FB && !strings.Contains(r.Error.Message, "operator") {
					t.Errorf("the refusal does not say who may: %s", r.Error.Message)
				}
			}
		})
	}

	t.Run("nothing changed by refusals; owners and operators remove", func(t *testing.T) {
		if got := listedNodes(t, srv, operator); len(got) != 4 {
			t.Fatalf("after the refusals the operator lists %d nodes, want 4", len(got))
		}
		rpctest.WantOK(t, rpctest.CallPlatform(t, srv, adminB, methods.NodesRemove, methods.NodeRef{NodeID: ownB}))
		rpctest.WantOK(t, rpctest.CallPlatform(t, srv, operator, methods.NodesRemove, methods.NodeRef{NodeID: idle}))
		if got := listedNodes(t, srv, operator); len(got) != 2 {
			t.Errorf("after two removes the operator lists %d nodes, want 2", len(got))
		}
	})
}
