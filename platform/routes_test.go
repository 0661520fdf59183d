package platform

import (
	"net/http"
	"strings"
	"testing"
)

// TestRouteTableSorted keeps the route table sorted by path then method, so
// that a route is found, and a duplicate seen, by reading it in order.
func TestRouteTableSorted(t *testing.T) {
	// routeTable only takes method values of s, but the /metrics handler is
	// built at once from s.metrics.reg, so metrics must exist.
	s := &Server{metrics: newMetrics()}
	rt := s.routeTable()
	if len(rt) == 0 {
		t.Fatal("the route table is empty")
	}
	less := func(a, b route) bool {
		if a.path != b.path {
			return a.path < b.path
		}
		return a.method < b.method
	}
	for i, r := range rt {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			if r.handler == nil {
				t.Error("no handler")
			}
			if !strings.HasPrefix(r.path, "/") {
				t.Errorf("path %q does not start with /", r.path)
			}
			switch r.method {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodHead:
			default:
				t.Errorf("method %q is not an HTTP method", r.method)
			}
			if i == 0 {
				return
			}
			prev := rt[i-1]
			if prev.path == r.path && prev.method == r.method {
				t.Errorf("duplicate route %s %s", r.method, r.path)
			} else if !less(prev, r) {
				t.Errorf("%s %s comes after %s %s; keep the table sorted by path, then method",
					r.method, r.path, prev.method, prev.path)
			}
		})
	}
}

// TestRoutesRegistersTheTable checks that every entry of the table reaches
// echo, so that the table is the one list of routes.
func TestRoutesRegistersTheTable(t *testing.T) {
	s := &Server{metrics: newMetrics()}
	e := s.routes()
	got := map[string]bool{}
	for _, r := range e.Routes() {
		got[r.Method+" "+r.Path] = true
	}
	for _, r := range s.routeTable() {
		if !got[r.method+" "+r.path] {
			t.Errorf("%s %s is in the table but not routed", r.method, r.path)
		}
	}
}
