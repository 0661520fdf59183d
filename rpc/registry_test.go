package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu   sync.Mutex
	recs []rpc.Record
}

func (r *recorder) Observe(_ context.Context, rec rpc.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *recorder) all() []rpc.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rpc.Record(nil), r.recs...)
}

type echoInput struct {
	Text string `json:"text" required:"true"`
	N    *int   `json:"n,omitempty"`
}

type echoOutput struct {
	Text   string `json:"text"`
	Caller string `json:"caller"`
}

var errWidgetGone = &rpc.Error{Type: methods.NotFound, Message: "No widget with this id exists."}

// newTestRegistry returns a registry with a few methods that cover success,
// typed failure, internal failure, context errors and SetInstance.
func newTestRegistry(t *testing.T, obs ...rpc.Observer) *rpc.Registry {
	t.Helper()
	var logs bytes.Buffer
	r := rpc.New(rpc.Options{Name: "test", Observers: obs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rpc.Register(r, "echo", func(ctx context.Context, in echoInput) (echoOutput, error) {
		c, _ := rpc.CallerFrom(ctx)
		return echoOutput{Text: in.Text, Caller: c.ID}, nil
	})
	rpc.Register(r, "widgets.get", func(ctx context.Context, in methods.GetInstanceInput) (methods.OKOutput, error) {
		rpc.SetInstance(ctx, in.InstanceID)
		return methods.OKOutput{}, errWidgetGone
	})
	rpc.Register(r, "boom", func(ctx context.Context, _ struct{}) (methods.OKOutput, error) {
		return methods.OKOutput{}, errors.New("disk full at /var/secret")
	})
	rpc.Register(r, "slow", func(ctx context.Context, _ struct{}) (methods.OKOutput, error) {
		return methods.OKOutput{}, context.DeadlineExceeded
	})
	rpc.Register(r, "nothing", func(ctx context.Context, _ struct{}) (struct{}, error) {
		return struct{}{}, nil
	})
	return r
}

// reply is the wire reply, decoded loosely enough to check its shape.
type reply struct {
	OK    *bool           `json:"ok"`
	Value json.RawMessage `json:"value"`
	Error *struct {
		Type    methods.ErrorType `json:"type"`
		Message string            `json:"message"`
		Details json.RawMessage   `json:"details"`
	} `json:"error"`
}

func serve(t *testing.T, h http.Handler, req *http.Request) (*http.Response, reply, []byte) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	resp := w.Result()
	body, _ := io.ReadAll(resp.Body)
	var rep reply
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("reply is not JSON: %v: %q", err, body)
	}
	if rep.OK == nil {
		t.Fatalf("reply has no \"ok\": %s", body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	return resp, rep, body
}

func post(body string) *http.Request {
	return httptest.NewRequest(http.MethodPost, "/rpc", strings.NewReader(body))
}

func TestServeHTTP(t *testing.T) {
	tests := []struct {
		name    string
		req     func() *http.Request
		status  int
		errType methods.ErrorType // "" for success
		value   string            // exact JSON value on success
		field   string            // details.field, when checked
		method  string            // the Record's method
	}{
		{name: "success", req: func() *http.Request { return post(`{"method":"echo","input":{"text":"hi"}}`) },
			status: 200, value: `{"text":"hi","caller":""}`, method: "echo"},
		{name: "success without input", req: func() *http.Request { return post(`{"method":"nothing"}`) },
			status: 200, value: `{}`, method: "nothing"},
		{name: "HTML is not escaped", req: func() *http.Request { return post(`{"method":"echo","input":{"text":"<a&b>"}}`) },
			status: 200, value: `{"text":"<a&b>","caller":""}`, method: "echo"},
		{name: "method not found", req: func() *http.Request { return post(`{"method":"nope","input":{}}`) },
			status: 404, errType: methods.MethodNotFound},
		{name: "GET", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, "/rpc", nil) },
			status: 400, errType: methods.InvalidInput},
		{name: "PUT", req: func() *http.Request {
			return httptest.NewRequest(http.MethodPut, "/rpc", strings.NewReader(`{"method":"echo","input":{"text":"x"}}`))
		}, status: 400, errType: methods.InvalidInput},
		{name: "empty body", req: func() *http.Request { return post(``) }, status: 400, errType: methods.InvalidInput},
		{name: "not JSON", req: func() *http.Request { return post(`hello`) }, status: 400, errType: methods.InvalidInput},
		{name: "unknown input field", req: func() *http.Request { return post(`{"method":"echo","input":{"text":"x","txet":"y"}}`) },
			status: 400, errType: methods.InvalidInput, field: "txet", method: "echo"},
		{name: "missing required", req: func() *http.Request { return post(`{"method":"echo","input":{}}`) },
			status: 400, errType: methods.InvalidInput, field: "text", method: "echo"},
		{name: "wrong type", req: func() *http.Request { return post(`{"method":"echo","input":{"text":"x","n":"1"}}`) },
			status: 400, errType: methods.InvalidInput, field: "n", method: "echo"},
		{name: "typed domain error", req: func() *http.Request { return post(`{"method":"widgets.get","input":{"instanceId":"w1"}}`) },
			status: 404, errType: methods.NotFound, method: "widgets.get"},
		{name: "plain error is internal", req: func() *http.Request { return post(`{"method":"boom"}`) },
			status: 500, errType: methods.Internal, method: "boom"},
		{name: "deadline is timeout", req: func() *http.Request { return post(`{"method":"slow"}`) },
			status: 504, errType: methods.Timeout, method: "slow"},
		{name: "body over 1 MiB with Content-Length", req: func() *http.Request {
			return post(`{"method":"echo","input":{"text":"` + strings.Repeat("a", rpc.MaxBody) + `"}}`)
		}, status: 413, errType: methods.PayloadTooLarge},
		{name: "body over 1 MiB, chunked", req: func() *http.Request {
			r := post(`{"method":"echo","input":{"text":"` + strings.Repeat("a", rpc.MaxBody) + `"}}`)
			r.ContentLength = -1 // as a chunked request arrives
			r.Body = io.NopCloser(io.MultiReader(r.Body))
			return r
		}, status: 413, errType: methods.PayloadTooLarge},
		{name: "body of exactly 1 MiB", req: func() *http.Request {
			head, tail := `{"method":"echo","input":{"text":"`, `"}}`
			return post(head + strings.Repeat("a", rpc.MaxBody-len(head)-len(tail)) + tail)
		}, status: 200, method: "echo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			r := newTestRegistry(t, rec)
			resp, rep, body := serve(t, r, tt.req())
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.errType == "" {
				if !*rep.OK || rep.Error != nil {
					t.Fatalf("want success, got %s", body)
				}
				if tt.value != "" && string(rep.Value) != tt.value {
					t.Errorf("value = %s, want %s", rep.Value, tt.value)
				}
			} else {
				if *rep.OK || rep.Error == nil || rep.Value != nil {
					t.Fatalf("want failure, got %s", body)
				}
				if rep.Error.Type != tt.errType {
					t.Errorf("error.type = %q, want %q", rep.Error.Type, tt.errType)
				}
				if resp.StatusCode != rpc.Status(rep.Error.Type) {
					t.Errorf("status %d does not fit type %q", resp.StatusCode, rep.Error.Type)
				}
				if rep.Error.Message == "" || strings.Contains(rep.Error.Message, "secret") {
					t.Errorf("message = %q", rep.Error.Message)
				}
				if tt.field != "" {
					var fe rpc.FieldError
					if err := json.Unmarshal(rep.Error.Details, &fe); err != nil || fe.Field != tt.field {
						t.Errorf("details = %s, want field %q", rep.Error.Details, tt.field)
					}
				}
			}
			recs := rec.all()
			if len(recs) != 1 {
				t.Fatalf("observer got %d records, want 1", len(recs))
			}
			got := recs[0]
			outcome := "ok"
			if tt.errType != "" {
				outcome = string(tt.errType)
			}
			if got.Endpoint != "test" || got.Method != tt.method || got.Outcome != outcome || got.Status != tt.status {
				t.Errorf("record = %+v, want method %q outcome %q status %d", got, tt.method, outcome, tt.status)
			}
			if got.Start.IsZero() || got.Duration < 0 {
				t.Errorf("record has no timing: %+v", got)
			}
		})
	}
}

func TestServeHTTPCallerAndInstance(t *testing.T) {
	rec := &recorder{}
	r := newTestRegistry(t, rec, rec) // every observer is told
	caller := rpc.Caller{Kind: "key", ID: "key_1", OrgID: "org_1"}

	req := post(`{"method":"echo","input":{"text":"hi"}}`)
	req = req.WithContext(rpc.WithCaller(req.Context(), caller))
	_, rep, _ := serve(t, r, req)
	if string(rep.Value) != `{"text":"hi","caller":"key_1"}` {
		t.Errorf("the method did not see the caller: %s", rep.Value)
	}

	req = post(`{"method":"widgets.get","input":{"instanceId":"ins_9"}}`)
	req = req.WithContext(rpc.WithCaller(req.Context(), caller))
	serve(t, r, req)

	tokenCaller := rpc.Caller{Kind: "token", ID: "tok_1", OrgID: "org_1", InstanceID: "ins_7"}
	req = post(`{"method":"echo","input":{"text":"hi"}}`)
	req = req.WithContext(rpc.WithCaller(req.Context(), tokenCaller))
	serve(t, r, req)

	recs := rec.all()
	if len(recs) != 6 {
		t.Fatalf("got %d records, want 2 observers × 3 calls", len(recs))
	}
	want := []struct {
		caller   rpc.Caller
		instance string
	}{{caller, ""}, {caller, "ins_9"}, {tokenCaller, "ins_7"}}
	for i, w := range want {
		got := recs[2*i]
		if got.Caller != w.caller || got.InstanceID != w.instance {
			t.Errorf("call %d: record caller %+v instance %q, want %+v %q", i, got.Caller, got.InstanceID, w.caller, w.instance)
		}
		if !reflect.DeepEqual(recs[2*i], recs[2*i+1]) {
			t.Errorf("call %d: the two observers were told different records", i)
		}
	}
}

func TestRefuse(t *testing.T) {
	rec := &recorder{}
	r := newTestRegistry(t, rec)
	refusal := &rpc.Error{Type: methods.Unauthorized, Message: "Send an API key."}
	w := httptest.NewRecorder()
	r.Refuse(w, post(`{"method":"echo"}`), refusal)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", w.Code)
	}
	var rep reply
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil || rep.OK == nil || *rep.OK || rep.Error == nil || rep.Error.Type != methods.Unauthorized {
		t.Errorf("reply = %s", w.Body.Bytes())
	}
	recs := rec.all()
	if len(recs) != 1 || recs[0].Outcome != string(methods.Unauthorized) || recs[0].Status != 401 || recs[0].Method != "" {
		t.Errorf("records = %+v", recs)
	}
}

func TestCall(t *testing.T) {
	r := newTestRegistry(t)
	tests := []struct {
		name    string
		method  string
		input   string
		want    any
		errType methods.ErrorType
	}{
		{"typed output", "echo", `{"text":"a"}`, echoOutput{Text: "a"}, ""},
		{"unknown method", "nope", `{}`, nil, methods.MethodNotFound},
		{"bad input", "echo", `{"text":1}`, nil, methods.InvalidInput},
		{"domain error", "widgets.get", `{"instanceId":"x"}`, nil, methods.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Call(context.Background(), tt.method, json.RawMessage(tt.input))
			if tt.errType == "" {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Call = %#v, %v; want %#v", got, err, tt.want)
				}
				return
			}
			if _, w := rpc.ToWire(err); w.Type != tt.errType {
				t.Errorf("Call error = %v, want %s", err, tt.errType)
			}
		})
	}
}

func TestMethodsSortedAndTyped(t *testing.T) {
	r := newTestRegistry(t)
	ms := r.Methods()
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	want := []string{"boom", "echo", "nothing", "slow", "widgets.get"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("Methods = %v, want %v", names, want)
	}
	if ms[1].Input != reflect.TypeFor[echoInput]() || ms[1].Output != reflect.TypeFor[echoOutput]() {
		t.Errorf("echo types = %v → %v", ms[1].Input, ms[1].Output)
	}
	if !r.Has("echo") || r.Has("Echo") {
		t.Error("Has is wrong")
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := rpc.New(rpc.Options{Name: "test"})
	fn := func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil }
	rpc.Register(r, "a.b", fn)
	defer func() {
		p := recover()
		if p == nil {
			t.Fatal("a duplicate Register did not panic")
		}
		if msg, _ := p.(string); !strings.Contains(msg, `"a.b"`) {
			t.Errorf("panic %v does not name the method", p)
		}
	}()
	// Another signature under the same name is still a duplicate.
	rpc.Register(r, "a.b", func(context.Context, echoInput) (echoOutput, error) { return echoOutput{}, nil })
}

func TestWriteJSONUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	rpc.WriteJSON(w, http.StatusOK, methods.Reply{OK: true, Value: func() {}})
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", w.Code)
	}
	var rep reply
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil || rep.Error == nil || rep.Error.Type != methods.Internal {
		t.Errorf("reply = %s", w.Body.Bytes())
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
}

func TestSetInstanceOutsideACall(t *testing.T) {
	rpc.SetInstance(context.Background(), "ins_1") // must not panic
	if _, ok := rpc.CallerFrom(context.Background()); ok {
		t.Error("CallerFrom found a caller in an empty context")
	}
}

// TestBodyLimitOverTheWire sends oversized bodies through a real HTTP
// server: one with Content-Length (refused before reading) and one chunked,
// whose length only shows while it is read.
func TestBodyLimitOverTheWire(t *testing.T) {
	srv := httptest.NewServer(newTestRegistry(t))
	defer srv.Close()
	big := `{"method":"echo","input":{"text":"` + strings.Repeat("a", rpc.MaxBody+10) + `"}}`
	tests := []struct {
		name    string
		body    func() io.Reader
		chunked bool
	}{
		{"with Content-Length", func() io.Reader { return strings.NewReader(big) }, false},
		// A reader net/http cannot size is sent with Transfer-Encoding: chunked.
		{"chunked", func() io.Reader { return io.MultiReader(strings.NewReader(big)) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL, tt.body())
			if err != nil {
				t.Fatal(err)
			}
			if tt.chunked != (req.ContentLength <= 0) {
				t.Fatalf("ContentLength = %d, chunked = %v", req.ContentLength, tt.chunked)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var rep reply
			if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge || rep.Error == nil || rep.Error.Type != methods.PayloadTooLarge {
				t.Errorf("got %d %+v, want 413 payload_too_large", resp.StatusCode, rep.Error)
			}
		})
	}
}

// BenchmarkServeHTTP measures the core's own cost per call: reading the
// body, the envelope and input checks, decoding, and writing the reply.
func BenchmarkServeHTTP(b *testing.B) {
	r := rpc.New(rpc.Options{Name: "bench", Observers: []rpc.Observer{&recorder{}}})
	out := methods.GetInstanceOutput{InstanceID: "ins_0123456789abcdefghjkmnpqrs", Name: "bench", Status: "created",
		TemplateSlug: "default", VCSType: "none", CreatedAt: "2026-11-21T09:00:00.000Z"}
	rpc.Register(r, methods.InstancesGet, func(ctx context.Context, in methods.GetInstanceInput) (methods.GetInstanceOutput, error) {
		return out, nil
	})
	rpc.Register(r, methods.InstancesCreate, func(ctx context.Context, in methods.CreateInstanceInput) (methods.CreateInstanceOutput, error) {
		return methods.CreateInstanceOutput{InstanceID: "ins_1", Status: "created"}, nil
	})
	bodies := map[string]string{
		"get":    `{"method":"instances.get","input":{"instanceId":"ins_0123456789abcdefghjkmnpqrs"}}`,
		"create": `{"method":"instances.create","input":{"templateSlug":"default","name":"a name","vcsType":"none","metadata":{"team":"x","n":1},"autoCreateSession":{"presetId":"p","initialPrompt":"hello there","resourceIds":["r1","r2"]}}}`,
	}
	for _, name := range []string{"get", "create"} {
		body := []byte(bodies[name])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			req := httptest.NewRequest(http.MethodPost, "/rpc", nil)
			rd := bytes.NewReader(body)
			req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
			for b.Loop() {
				rd.Reset(body)
				clear(w.h)
				r.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func TestWriteError(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		typ    methods.ErrorType
	}{
		{"typed", &rpc.Error{Type: methods.Forbidden, Message: "No."}, 403, methods.Forbidden},
		{"plain", errors.New("secret detail"), 500, methods.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rpc.WriteError(w, tt.err)
			var rep reply
			if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil || rep.OK == nil || *rep.OK || rep.Error == nil {
				t.Fatalf("reply = %s", w.Body.Bytes())
			}
			if w.Code != tt.status || rep.Error.Type != tt.typ || strings.Contains(rep.Error.Message, "secret") {
				t.Errorf("got %d %+v, want %d %s", w.Code, rep.Error, tt.status, tt.typ)
			}
		})
	}
}

func TestOrgOf(t *testing.T) {
	fn := rpc.WithOrg(func(_ context.Context, org string, in echoInput) (string, error) { return org + ":" + in.Text, nil })
	tests := []struct {
		name    string
		ctx     context.Context
		want    string
		errType methods.ErrorType
	}{
		{"no caller", context.Background(), "", methods.Unauthorized},
		{"caller without org", rpc.WithCaller(context.Background(), rpc.Caller{Kind: "key", ID: "k"}), "", methods.Unauthorized},
		{"caller with org", rpc.WithCaller(context.Background(), rpc.Caller{Kind: "key", ID: "k", OrgID: "org_1"}), "org_1:x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fn(tt.ctx, echoInput{Text: "x"})
			if tt.errType == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if _, w := rpc.ToWire(err); w.Type != tt.errType {
				t.Errorf("err = %v, want %s", err, tt.errType)
			}
			if _, err2 := rpc.OrgOf(tt.ctx); err2 == nil {
				t.Error("OrgOf found an org")
			}
		})
	}
}
