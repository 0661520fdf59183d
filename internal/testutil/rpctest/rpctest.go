// Package rpctest holds the HTTP and RPC helpers of roost's end-to-end
// tests: raw requests, whole replies with their RPC envelope, calls of the
// platform and instance RPC, and checks of replies against the contract
// (exact keys, error types, field errors, messages that are sentences).
// Tests go through raw HTTP where they must see the wire as a client
// written against the contract sees it, not as the Go client decodes it;
// the upload, download and token helpers serve the tests of files, bundles
// and credentials, and CreateInstance and CreateToken make the instances
// and tokens that tests of other things need.
package rpctest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
)

// httpClient bounds every raw request; the request's context (Ctx) is
// usually the tighter bound.
var httpClient = &http.Client{Timeout: testutil.Long}

// Ctx returns the context of one call: it ends after testutil.Medium or
// with the test.
func Ctx(t testing.TB) context.Context { return testutil.Context(t, testutil.Medium) }

// WireError is the error of a failure reply, with its details raw.
type WireError struct {
	Type    methods.ErrorType `json:"type"`
	Message string            `json:"message"`
	Details json.RawMessage   `json:"details"`
}

// Reply is one HTTP reply: status, headers, body, and the RPC envelope
// ({"ok", "value"} or {"ok", "error"}) when the body is a JSON object.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
	OK     bool
	Value  json.RawMessage
	// Error is the envelope's error when it is an object; nil otherwise
	// (the upload endpoint's {"error": "<sentence>"} leaves it nil).
	Error *WireError
}

func (r Reply) String() string { return fmt.Sprintf("HTTP %d %s", r.Status, bytes.TrimSpace(r.Body)) }

// Header builds a header from key, value pairs.
func Header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// Bearer is the header of a Bearer credential; an empty header for "".
func Bearer(cred string) http.Header {
	if cred == "" {
		return http.Header{}
	}
	return Header("Authorization", "Bearer "+cred)
}

// NewRequest builds a request bound by Ctx with the headers h. A request
// with a body is JSON unless h says otherwise.
func NewRequest(t testing.TB, method, u string, body io.Reader, h http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(Ctx(t), method, u, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// Do sends req and reads the whole reply (see ReadReply).
func Do(t testing.TB, req *http.Request) Reply {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return ReadReply(t, resp)
}

// ReadReply reads and closes the body of a reply of the platform. Every
// reply of the platform must carry an X-Request-Id header, whatever it
// answers: ReadReply checks it on each. A body labelled JSON must be JSON.
// The envelope of a body that is a JSON object is decoded whatever its
// Content-Type: the download endpoint refuses a range with an RPC error
// under the file's own type.
func ReadReply(t testing.TB, resp *http.Response) Reply {
	t.Helper()
	what := "reply"
	if resp.Request != nil {
		what = resp.Request.Method + " " + resp.Request.URL.Path
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read reply: %v", what, err)
	}
	r := Reply{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s answered %d without an X-Request-Id header", what, resp.StatusCode)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return r
	}
	valid := json.Valid(trimmed)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && !valid {
		t.Fatalf("%s: reply is not JSON: %s", what, body)
	}
	var env map[string]json.RawMessage
	if !valid || trimmed[0] != '{' || json.Unmarshal(trimmed, &env) != nil {
		return r // not an envelope: a downloaded file, say
	}
	r.OK = string(env["ok"]) == "true"
	r.Value = env["value"]
	if e := bytes.TrimSpace(env["error"]); len(e) > 0 && e[0] == '{' {
		r.Error = new(WireError)
		if err := json.Unmarshal(e, r.Error); err != nil {
			t.Fatalf("%s: the error of the reply is not an error: %v: %s", what, err, body)
		}
	}
	return r
}

// PlatformURL is the platform RPC endpoint of srv.
func PlatformURL(srv *testutil.Server) string { return srv.URL + "/api/v1/rpc" }

// InstanceURL is the instance RPC endpoint of the instance id on srv.
func InstanceURL(srv *testutil.Server, id string) string {
	return srv.URL + "/api/v1/instances/" + id + "/rpc"
}

// CookieURL is the session-cookie endpoint of the instance id on srv.
func CookieURL(srv *testutil.Server, id string) string {
	return srv.URL + "/api/v1/instances/" + id + "/session-cookie"
}

// Envelope is the body {"method", "input"}; input may be a
// json.RawMessage, and is left out when nil.
func Envelope(t testing.TB, method string, input any) []byte {
	t.Helper()
	m := map[string]any{"method": method}
	if input != nil {
		m["input"] = input
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode envelope: %v", err)
	}
	return b
}

// Post posts body (JSON unless h says otherwise) to u.
func Post(t testing.TB, u string, h http.Header, body []byte) Reply {
	t.Helper()
	return Do(t, NewRequest(t, http.MethodPost, u, bytes.NewReader(body), h))
}

// CallPlatform calls the platform RPC of srv with an API key ("" for none).
func CallPlatform(t testing.TB, srv *testutil.Server, key, method string, input any) Reply {
	t.Helper()
	return Post(t, PlatformURL(srv), Bearer(key), Envelope(t, method, input))
}

// CallInstance calls the instance RPC of the instance id with the headers h.
func CallInstance(t testing.TB, srv *testutil.Server, id string, h http.Header, method string, input any) Reply {
	t.Helper()
	return Post(t, InstanceURL(srv, id), h, Envelope(t, method, input))
}
