package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

type fuzzItem struct {
	X    int      `json:"x" required:"true"`
	Tags []string `json:"tags,omitempty"`
}

type fuzzBatch struct {
	Items []fuzzItem `json:"items" required:"true"`
	Note  *string    `json:"note,omitempty"`
}

// fuzzSeeds are valid bodies and bodies that sit on the edges of the
// decoder: nesting, nulls, duplicates, case, numbers, escapes.
var fuzzSeeds = []string{
	`{"method":"instances.create","input":{"templateSlug":"default","name":"n"}}`,
	`{"method":"instances.create","input":{"templateSlug":"t","name":"n","vcsType":"none","metadata":{"a":[1,{"b":null}]},"autoCreateSession":{"presetId":"p","blocking":true,"resourceIds":["r"],"fileIds":[]}}}`,
	`{"method":"instances.create","input":{"templateSlug":"t","name":"n","autoCreateSession":{}}}`,
	`{"method":"instances.create","input":{"templateSlug":"t","name":"n","autoCreateSession":{"presetId":null}}}`,
	`{"method":"instances.create","input":{"templateSlug":"t","name":"n","autoCreateSession":[]}}`,
	`{"method":"instances.create","input":{"templateSlug":"t","name":"n","metadata":"x"}}`,
	`{"method":"instances.create","input":{"name":"n","name":null,"templateSlug":"t"}}`,
	`{"method":"instances.list"}`,
	`{"method":"instances.list","input":null}`,
	`{"method":"instances.list","input":{}}`,
	`{"method":"instances.list","input":{"limit":10,"offset":0}}`,
	`{"method":"instances.list","input":{"limit":1e400}}`,
	`{"method":"instances.list","input":{"limit":-0.0}}`,
	`{"method":"instances.list","input":{"limit":9223372036854775808}}`,
	`{"method":"instances.list","input":{"Limit":1}}`,
	`{"method":"instances.list","input":[]}`,
	`{"method":"instances.list","input":"{}"}`,
	`{"method":"batch","input":{"items":[{"x":1},{"x":2,"tags":["a"]}]}}`,
	`{"method":"batch","input":{"items":[{"x":1},{"y":2}]}}`,
	`{"method":"batch","input":{"items":[{"x":1},{"x":"2"}]}}`,
	`{"method":"batch","input":{"items":[null,{"x":1}]}}`,
	`{"method":"batch","input":{"items":{"x":1}}}`,
	`{"method":"batch","input":{"items":[[{"x":1}]]}}`,
	`{"method":"batch","input":{"items":[],"note":"\u0000\ud800"}}`,
	`{"method":"nope"}`,
	`{"method":"","input":{}}`,
	`{"method":1}`,
	`{"method":null}`,
	`{"input":{}}`,
	`{"method":"instances.list","extra":true}`,
	`{"method":"instances.list","method":"batch","input":{"items":[]}}`,
	`[]`,
	`null`,
	`""`,
	`{`,
	``,
	"\xff\xfe{}",
	`{"method":"instances.list"} {"method":"instances.list"}`,
}

// FuzzDecode feeds arbitrary bodies through ServeHTTP and checks that every
// reply is a well-formed envelope whose status fits its error type, and that
// a successful call ran the method with a decoded input.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	var seen any // the last input a method saw; ServeHTTP runs one call at a time here
	r := rpc.New(rpc.Options{Name: "fuzz", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rpc.Register(r, methods.InstancesCreate, func(_ context.Context, in methods.CreateInstanceInput) (methods.CreateInstanceOutput, error) {
		seen = in
		return methods.CreateInstanceOutput{InstanceID: "ins_1", Status: methods.InstanceCreated}, nil
	})
	rpc.Register(r, methods.InstancesList, func(_ context.Context, in methods.ListInstancesInput) (methods.ListInstancesOutput, error) {
		seen = in
		return methods.ListInstancesOutput{Instances: []methods.GetInstanceOutput{}}, nil
	})
	rpc.Register(r, "batch", func(_ context.Context, in fuzzBatch) (methods.OKOutput, error) {
		seen = in
		return methods.OKOutput{OK: true}, nil
	})

	f.Fuzz(func(t *testing.T, body []byte) {
		seen = nil
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/v1/rpc", bytes.NewReader(body)))

		var rep struct {
			OK    *bool           `json:"ok"`
			Value json.RawMessage `json:"value"`
			Error *methods.Error  `json:"error"`
		}
		dec := json.NewDecoder(w.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("reply is not a JSON envelope: %v: %q", err, w.Body.Bytes())
		}
		if rep.OK == nil {
			t.Fatalf("reply has no \"ok\" bool: %q", w.Body.Bytes())
		}
		if *rep.OK {
			if w.Code != http.StatusOK || rep.Error != nil || len(rep.Value) == 0 {
				t.Fatalf("success reply %d %q", w.Code, w.Body.Bytes())
			}
			if seen == nil {
				t.Fatalf("success without the method seeing an input: body %q", body)
			}
			checkSeen(t, seen, body)
			return
		}
		if rep.Error == nil || rep.Value != nil {
			t.Fatalf("failure reply without error or with value: %q", w.Body.Bytes())
		}
		if !slices.Contains(methods.ErrorTypes, rep.Error.Type) {
			t.Fatalf("error.type %q is not a documented type", rep.Error.Type)
		}
		if w.Code != rpc.Status(rep.Error.Type) {
			t.Fatalf("status %d does not fit %q (%d)", w.Code, rep.Error.Type, rpc.Status(rep.Error.Type))
		}
		if rep.Error.Type == methods.Internal {
			t.Fatalf("a request body caused an internal error: %q → %q", body, w.Body.Bytes())
		}
		if rep.Error.Message == "" {
			t.Fatalf("failure without a message: %q", w.Body.Bytes())
		}
		if seen != nil {
			t.Fatalf("the method ran but the reply is a failure: %q", w.Body.Bytes())
		}
	})
}

// checkSeen checks the decoded input a method ran with against the rules the
// decoder promises: required fields are present.
func checkSeen(t *testing.T, seen any, body []byte) {
	t.Helper()
	switch in := seen.(type) {
	case methods.CreateInstanceInput:
		// Required means present and not null; "" is present. A nested
		// autoCreateSession, when given, was checked the same way, which
		// shows as a decoded struct.
		var raw struct {
			Input struct {
				TemplateSlug *string `json:"templateSlug"`
				Name         *string `json:"name"`
			} `json:"input"`
		}
		if json.Unmarshal(body, &raw) == nil && (raw.Input.TemplateSlug == nil || raw.Input.Name == nil) {
			t.Fatalf("instances.create ran without a required field: %q → %+v", body, in)
		}
	case methods.ListInstancesInput:
	case fuzzBatch:
		if in.Items == nil {
			t.Fatalf("batch ran without its required items: %q", body)
		}
	default:
		t.Fatalf("the method saw %T", seen)
	}
}
