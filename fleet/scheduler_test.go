package fleet

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// row is a stored node with labels, draining or not.
func row(id string, draining bool, labels ...string) NodeRow {
	if labels == nil {
		labels = []string{}
	}
	lj, _ := json.Marshal(labels)
	return NodeRow{ID: id, Name: id, Labels: string(lj), Draining: draining}
}

func TestSchedulerChoose(t *testing.T) {
	idle := liveLoad{}
	cases := []struct {
		name     string
		all      []NodeRow
		online   map[string]liveLoad
		required []string
		want     string // the chosen node's id, when one fits
		// When none fits: the message must contain each of these.
		unavailable []string
		details     any
	}{
		{
			name:   "fewest running sandboxes wins",
			all:    []NodeRow{row("a", false), row("b", false), row("c", false)},
			online: map[string]liveLoad{"a": {running: 3}, "b": {running: 1}, "c": {running: 2}},
			want:   "b",
		},
		{
			name: "running sandboxes weigh before load and cpu",
			all:  []NodeRow{row("a", false), row("b", false)},
			online: map[string]liveLoad{
				"a": {running: 2, load1: 0, cpu: 0},
				"b": {running: 1, load1: 8, cpu: 0.9},
			},
			want: "b",
		},
		{
			name: "equal sandboxes: lowest load average",
			all:  []NodeRow{row("a", false), row("b", false), row("c", false)},
			online: map[string]liveLoad{
				"a": {running: 1, load1: 2.5, cpu: 0.1},
				"b": {running: 1, load1: 0.5, cpu: 0.9},
				"c": {running: 1, load1: 1.5, cpu: 0},
			},
			want: "b",
		},
		{
			name: "equal sandboxes and load: lowest cpu",
			all:  []NodeRow{row("a", false), row("b", false), row("c", false)},
			online: map[string]liveLoad{
				"a": {running: 0, load1: 1, cpu: 0.7},
				"b": {running: 0, load1: 1, cpu: 0.6},
				"c": {running: 0, load1: 1, cpu: 0.8},
			},
			want: "b",
		},
		{
			name:   "offline nodes are never chosen",
			all:    []NodeRow{row("gone", false), row("busy", false)},
			online: map[string]liveLoad{"busy": {running: 9, load1: 9, cpu: 1}},
			want:   "busy",
		},
		{
			name:   "draining nodes are skipped, however idle",
			all:    []NodeRow{row("a", true), row("b", false)},
			online: map[string]liveLoad{"a": idle, "b": {running: 5, load1: 4, cpu: 0.9}},
			want:   "b",
		},
		{
			name:     "required labels are a subset of the node's",
			all:      []NodeRow{row("plain", false, "eu"), row("gpu", false, "eu", "gpu", "nvme")},
			online:   map[string]liveLoad{"plain": idle, "gpu": {running: 4}},
			required: []string{"gpu", "eu"},
			want:     "gpu",
		},
		{
			name:     "among the nodes that fit, the least loaded",
			all:      []NodeRow{row("g1", false, "gpu"), row("g2", false, "gpu"), row("cpu", false)},
			online:   map[string]liveLoad{"g1": {running: 2}, "g2": {running: 1}, "cpu": idle},
			required: []string{"gpu"},
			want:     "g2",
		},
		{
			name:   "no labels required: a node with labels fits too",
			all:    []NodeRow{row("a", false, "gpu"), row("b", false)},
			online: map[string]liveLoad{"a": idle, "b": {running: 1}},
			want:   "a",
		},
		{
			name:        "no nodes at all",
			all:         nil,
			online:      map[string]liveLoad{},
			unavailable: []string{"No node is connected", "roost node"},
		},
		{
			name:        "nodes enrolled but none connected",
			all:         []NodeRow{row("a", false), row("b", false, "gpu")},
			online:      map[string]liveLoad{},
			required:    []string{"gpu"},
			unavailable: []string{"No node is connected"},
		},
		{
			name:        "every connected node draining",
			all:         []NodeRow{row("a", true), row("b", true), row("c", false)},
			online:      map[string]liveLoad{"a": idle, "b": idle},
			unavailable: []string{"All 2 connected nodes are draining", "nodes.undrain"},
		},
		{
			name:        "labels unmet",
			all:         []NodeRow{row("a", false, "eu"), row("b", false, "gpu")},
			online:      map[string]liveLoad{"a": idle, "b": idle},
			required:    []string{"gpu", "eu"},
			unavailable: []string{"No connected node has the labels the template requires (gpu, eu)"},
			details:     map[string]any{"requiredLabels": []string{"gpu", "eu"}},
		},
		{
			name:        "labels met only by a draining node",
			all:         []NodeRow{row("a", false), row("b", true, "gpu")},
			online:      map[string]liveLoad{"a": idle, "b": idle},
			required:    []string{"gpu"},
			unavailable: []string{"No connected node has the labels the template requires (gpu)"},
			details:     map[string]any{"requiredLabels": []string{"gpu"}},
		},
		{
			name:        "labels met only by an offline node",
			all:         []NodeRow{row("a", false), row("b", false, "gpu")},
			online:      map[string]liveLoad{"a": idle},
			required:    []string{"gpu"},
			unavailable: []string{"No connected node has the labels"},
			details:     map[string]any{"requiredLabels": []string{"gpu"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := choose(tc.all, tc.online, tc.required)
			if tc.unavailable == nil {
				if err != nil {
					t.Fatalf("choose: %v; want node %s", err, tc.want)
				}
				if got.ID != tc.want {
					t.Fatalf("choose picked %q, want %q", got.ID, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("choose picked %q; want unavailable", got.ID)
			}
			var re *rpc.Error
			if !errors.As(err, &re) || re.Type != methods.Unavailable {
				t.Fatalf("choose: %v (%T); want an *rpc.Error of type unavailable", err, err)
			}
			for _, s := range tc.unavailable {
				if !strings.Contains(re.Message, s) {
					t.Errorf("message %q does not say %q", re.Message, s)
				}
			}
			if tc.details != nil && !reflect.DeepEqual(re.Details, tc.details) {
				t.Errorf("details = %#v, want %#v", re.Details, tc.details)
			}
		})
	}
}

// The scheduler's answer does not depend on the order nodes are listed in,
// whenever the loads differ.
func TestSchedulerChooseOrderIndependent(t *testing.T) {
	online := map[string]liveLoad{
		"a": {running: 1, load1: 0.2, cpu: 0.1},
		"b": {running: 1, load1: 0.1, cpu: 0.5},
		"c": {running: 0, load1: 3, cpu: 0.9},
		"d": {running: 0, load1: 3, cpu: 0.8},
	}
	orders := [][]string{{"a", "b", "c", "d"}, {"d", "c", "b", "a"}, {"b", "d", "a", "c"}, {"c", "a", "d", "b"}}
	for _, order := range orders {
		var all []NodeRow
		for _, id := range order {
			all = append(all, row(id, false))
		}
		got, err := choose(all, online, nil)
		if err != nil || got.ID != "d" {
			t.Errorf("order %v: choose = %q, %v; want d (no sandboxes, same load as c, less cpu)", order, got.ID, err)
		}
	}
}

func TestSchedulerHasLabels(t *testing.T) {
	cases := []struct {
		have, want []string
		ok         bool
	}{
		{nil, nil, true},
		{[]string{"a"}, nil, true},
		{nil, []string{"a"}, false},
		{[]string{"a", "b", "c"}, []string{"c", "a"}, true},
		{[]string{"a", "b"}, []string{"a", "x"}, false},
		{[]string{"gpu"}, []string{"gpu", "gpu"}, true},
	}
	for _, tc := range cases {
		if got := HasLabels(tc.have, tc.want); got != tc.ok {
			t.Errorf("HasLabels(%v, %v) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}

// TestPickForOwners: an organization's work goes to its own nodes when
// one fits, else to the shared fleet, and never to another
// organization's node, however idle.
func TestPickForOwners(t *testing.T) {
	mk := func(id, org string) NodeRow { r := row(id, false); r.OrgID = org; return r }
	online := map[string]liveLoad{
		"shared": {running: 5}, "mine": {running: 9}, "theirs": {running: 0},
	}
	all := []NodeRow{mk("shared", ""), mk("mine", "org_a"), mk("theirs", "org_b")}
	for _, tc := range []struct {
		org  string
		all  []NodeRow
		want string
	}{
		{"org_a", all, "mine"},
		{"org_b", all, "theirs"},
		{"org_c", all, "shared"},
		{"org_a", []NodeRow{mk("shared", ""), mk("theirs", "org_b")}, "shared"},
	} {
		got, err := pickFor(tc.all, online, tc.org, nil)
		if err != nil || got.ID != tc.want {
			t.Errorf("%s: picked %q, %v; want %s", tc.org, got.ID, err, tc.want)
		}
	}
	// Only another organization's node is up: no node for this one.
	if got, err := pickFor([]NodeRow{mk("theirs", "org_b")}, online, "org_a", nil); err == nil {
		t.Errorf("org_a was scheduled on org_b's node %s", got.ID)
	}
	// Its own node draining, the shared fleet takes the work.
	d := mk("mine", "org_a")
	d.Draining = true
	if got, err := pickFor([]NodeRow{d, mk("shared", "")}, online, "org_a", nil); err != nil || got.ID != "shared" {
		t.Errorf("own node draining: picked %q, %v; want shared", got.ID, err)
	}
}
