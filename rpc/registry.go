package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/roosthq/roost/methods"
)

// Record describes one finished call, for observers.
type Record struct {
	Endpoint   string // the registry's name: "platform" or "instance"
	Method     string // "" when the envelope named no known method
	Caller     Caller
	InstanceID string
	Outcome    string // "ok" or the wire error type
	Status     int
	Duration   time.Duration
	Start      time.Time
}

// Observer is told of every call after its reply is written. Observe must not
// block: it runs on the request's goroutine.
type Observer interface {
	Observe(ctx context.Context, r Record)
}

// Method describes a registered method, for the schema and for tests.
type Method struct {
	Name   string
	Input  reflect.Type
	Output reflect.Type
}

type entry struct {
	Method
	// call decodes raw and runs the method; valid says raw is known to be
	// valid JSON, so that it is not checked twice.
	call func(ctx context.Context, raw json.RawMessage, valid bool) (any, error)
}

// Registry holds the methods of one endpoint.
type Registry struct {
	name      string
	methods   map[string]*entry
	observers []Observer
	log       *slog.Logger
}

// Options configures a Registry.
type Options struct {
	// Name labels the endpoint in records ("platform", "instance").
	Name string
	// Observers are told of every call.
	Observers []Observer
	// Logger logs internal errors with their cause. Default slog.Default().
	Logger *slog.Logger
}

// New makes an empty registry.
func New(o Options) *Registry {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Registry{name: o.Name, methods: map[string]*entry{}, observers: o.Observers, log: o.Logger}
}

// Register adds a typed method. It panics on a duplicate name: that is a
// programming error found at start.
func Register[In, Out any](r *Registry, name string, fn func(context.Context, In) (Out, error)) {
	if _, dup := r.methods[name]; dup {
		panic(fmt.Sprintf("rpc: method %q registered twice", name))
	}
	r.methods[name] = &entry{
		Method: Method{Name: name, Input: reflect.TypeFor[In](), Output: reflect.TypeFor[Out]()},
		call: func(ctx context.Context, raw json.RawMessage, valid bool) (any, error) {
			var in In
			if err := decodeInput(raw, &in, valid); err != nil {
				return nil, err
			}
			return fn(ctx, in)
		},
	}
}

// Methods lists the registered methods sorted by name.
func (r *Registry) Methods() []Method {
	out := make([]Method, 0, len(r.methods))
	for _, e := range r.methods {
		out = append(out, e.Method)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Has reports whether a method is registered.
func (r *Registry) Has(name string) bool { _, ok := r.methods[name]; return ok }

// Call decodes raw into the method's input, runs it and returns its output.
func (r *Registry) Call(ctx context.Context, method string, raw json.RawMessage) (any, error) {
	return r.call(ctx, method, raw, false)
}

func (r *Registry) call(ctx context.Context, method string, raw json.RawMessage, valid bool) (any, error) {
	e, ok := r.methods[method]
	if !ok {
		return nil, Errorf(methods.MethodNotFound, "There is no method %q on this endpoint. See GET /api/v1/schema for the list.", method).
			WithDetails(map[string]string{"method": method})
	}
	return e.call(ctx, raw, valid)
}

// ServeHTTP handles one RPC request. The caller, if any, must already be in
// the request's context.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	ci := &callInfo{}
	ctx := context.WithValue(req.Context(), callInfoKey{}, ci)
	caller, _ := CallerFrom(ctx)
	if caller.InstanceID != "" {
		ci.instanceID = caller.InstanceID
	}

	var method string
	value, err := r.handle(ctx, req, &method)
	status := http.StatusOK
	outcome := "ok"
	if err != nil {
		var werr methods.Error
		status, werr = ToWire(err)
		outcome = string(werr.Type)
		if werr.Type == methods.Internal {
			r.log.ErrorContext(ctx, "rpc call failed", "method", method, "err", err)
		}
		WriteJSON(w, status, methods.Reply{OK: false, Error: &werr})
	} else {
		WriteJSON(w, status, methods.Reply{OK: true, Value: value})
	}

	if !r.Has(method) {
		method = ""
	}
	rec := Record{Endpoint: r.name, Method: method, Caller: caller, InstanceID: ci.instanceID,
		Outcome: outcome, Status: status, Duration: time.Since(start), Start: start}
	for _, o := range r.observers {
		o.Observe(ctx, rec)
	}
}

func (r *Registry) handle(ctx context.Context, req *http.Request, method *string) (any, error) {
	if req.Method != http.MethodPost {
		return nil, Errorf(methods.InvalidInput, "The RPC endpoint answers POST only; send {\"method\", \"input\"} as a JSON body.")
	}
	if req.ContentLength > MaxBody {
		return nil, errTooLarge
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if req.ContentLength > 0 {
		buf.Grow(int(req.ContentLength) + 1) // +1 so that ReadFrom sees EOF without growing
	}
	if _, err := buf.ReadFrom(io.LimitReader(req.Body, MaxBody+1)); err != nil {
		return nil, Errorf(methods.InvalidInput, "The request body could not be read. Retry the request.").Wrap(err)
	}
	body := buf.Bytes()
	if len(body) > MaxBody {
		return nil, errTooLarge
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	*method = env.Method
	// body goes back to the pool when the call returns: decoding copies
	// what it keeps, and nothing else sees env.Input.
	return r.call(ctx, env.Method, env.Input, true)
}

// Buffers for request bodies and replies, reused across calls. Buffers that
// grew past maxPooled are dropped, so that one large body does not stay.
const maxPooled = 64 << 10

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooled {
		return
	}
	b.Reset()
	bufferPool.Put(b)
}

// WriteJSON writes v as a JSON reply with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := getBuffer()
	defer putBuffer(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		_, werr := ToWire(err)
		buf.Reset()
		_ = enc.Encode(methods.Reply{OK: false, Error: &werr})
	}
	b := buf.Bytes()
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError writes err as an RPC failure reply, for refusals made before a
// call reaches the registry (authentication).
func WriteError(w http.ResponseWriter, err error) {
	status, werr := ToWire(err)
	WriteJSON(w, status, methods.Reply{OK: false, Error: &werr})
}

// Refuse answers a request that failed before reaching a method (for
// example, authentication) and reports it to the observers like any call.
func (r *Registry) Refuse(w http.ResponseWriter, req *http.Request, err error) {
	start := time.Now()
	status, werr := ToWire(err)
	WriteJSON(w, status, methods.Reply{OK: false, Error: &werr})
	caller, _ := CallerFrom(req.Context())
	rec := Record{Endpoint: r.name, Caller: caller, Outcome: string(werr.Type), Status: status,
		Duration: time.Since(start), Start: start}
	for _, o := range r.observers {
		o.Observe(req.Context(), rec)
	}
}
