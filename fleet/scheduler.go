package fleet

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// candidate is a node the scheduler may choose.
type candidate struct {
	row  NodeRow
	load liveLoad
}

// HasLabels reports whether have includes every label of want.
func HasLabels(have, want []string) bool {
	set := make(map[string]bool, len(have))
	for _, l := range have {
		set[l] = true
	}
	for _, l := range want {
		if !set[l] {
			return false
		}
	}
	return true
}

// choose picks the least loaded online, non-draining node carrying every
// required label: fewest running sandboxes, then lowest load average, then
// lowest CPU use. When none fits it says why.
func choose(all []NodeRow, online map[string]liveLoad, required []string) (NodeRow, error) {
	var connected, notDraining []candidate
	for _, r := range all {
		l, ok := online[r.ID]
		if !ok {
			continue
		}
		connected = append(connected, candidate{r, l})
		if !r.Draining {
			notDraining = append(notDraining, candidate{r, l})
		}
	}
	var fit []candidate
	for _, c := range notDraining {
		if HasLabels(c.row.LabelList(), required) {
			fit = append(fit, c)
		}
	}
	switch {
	case len(connected) == 0:
		return NodeRow{}, rpc.Errorf(methods.Unavailable, "No node is connected to run this sandbox. Start one (roost node) or check the nodes with nodes.list.")
	case len(notDraining) == 0:
		return NodeRow{}, rpc.Errorf(methods.Unavailable, "All %d connected nodes are draining. Undrain one (nodes.undrain) or add a node.", len(connected))
	case len(fit) == 0:
		return NodeRow{}, rpc.Errorf(methods.Unavailable, "No connected node has the labels the template requires (%s). Enroll a node with those labels.", strings.Join(required, ", ")).
			WithDetails(map[string]any{"requiredLabels": required})
	}
	sort.SliceStable(fit, func(i, j int) bool {
		a, b := fit[i].load, fit[j].load
		if a.running != b.running {
			return a.running < b.running
		}
		if a.load1 != b.load1 {
			return a.load1 < b.load1
		}
		return a.cpu < b.cpu
	})
	return fit[0].row, nil
}

// Pick chooses the node for new work of an organization needing the
// labels: one of the organization's own nodes if one fits, else one of
// the shared fleet; never another organization's.
func (f *Fleet) Pick(ctx context.Context, orgID string, required []string) (NodeRow, error) {
	all, err := f.store.list(ctx)
	if err != nil {
		return NodeRow{}, fmt.Errorf("schedule: %w", err)
	}
	return pickFor(all, f.loads(), orgID, required)
}

// PickOn is the node nodeID for new work of the organization needing the
// labels, if Pick could choose it: connected, not draining, with the
// labels, and the organization's own or shared.
func (f *Fleet) PickOn(ctx context.Context, nodeID, orgID string, required []string) (NodeRow, bool) {
	r, err := f.store.get(ctx, nodeID)
	if err != nil || (r.OrgID != "" && r.OrgID != orgID) {
		return NodeRow{}, false
	}
	n, err := choose([]NodeRow{r}, f.loads(), required)
	return n, err == nil
}

func pickFor(all []NodeRow, online map[string]liveLoad, orgID string, required []string) (NodeRow, error) {
	var own, shared []NodeRow
	for _, r := range all {
		switch {
		case r.OrgID == "":
			shared = append(shared, r)
		case r.OrgID == orgID:
			own = append(own, r)
		}
	}
	if len(own) > 0 {
		n, err := choose(own, online, required)
		if err == nil || len(shared) == 0 {
			return n, err
		}
	}
	return choose(shared, online, required)
}
