package rpc

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/methods"
)

// fieldErr returns the FieldError details of an invalid_input *Error.
func fieldErr(t *testing.T, err error) FieldError {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *rpc.Error", err, err)
	}
	if e.Type != methods.InvalidInput {
		t.Fatalf("type = %q, want invalid_input (%v)", e.Type, err)
	}
	fe, ok := e.Details.(FieldError)
	if !ok {
		t.Fatalf("details = %#v, want a FieldError", e.Details)
	}
	return fe
}

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		method    string
		input     string // raw input expected on success
		errType   methods.ErrorType
		field     string
		reason    string
		sameAsErr *Error // when the error is a canned value
	}{
		{name: "method and input", body: `{"method":"a.b","input":{"x":1}}`, method: "a.b", input: `{"x":1}`},
		{name: "no input", body: `{"method":"a.b"}`, method: "a.b"},
		{name: "null input kept raw", body: `{"method":"a.b","input":null}`, method: "a.b", input: `null`},
		{name: "whitespace around", body: " \n{ \"method\" : \"m\" }\n", method: "m"},
		{name: "unknown top-level field", body: `{"method":"a","input":{},"extra":1}`,
			errType: methods.InvalidInput, field: "extra", reason: "unknown"},
		{name: "escaped names and method", body: `{"m\u0065thod":"a\u002eb","input":{}}`, method: "a.b", input: `{}`},
		{name: "repeated method, last wins", body: `{"method":"a","method":"b"}`, method: "b"},
		{name: "unknown empty name", body: `{"method":"a","":1}`,
			errType: methods.InvalidInput, field: "", reason: "unknown"},
		{name: "first unknown in document order", body: `{"b":1,"method":"a","a":2}`,
			errType: methods.InvalidInput, field: "b", reason: "unknown"},
		{name: "field names are case-sensitive", body: `{"Method":"a"}`,
			errType: methods.InvalidInput, field: "Method", reason: "unknown"},
		{name: "missing method", body: `{"input":{}}`,
			errType: methods.InvalidInput, field: "method", reason: "required"},
		{name: "null method", body: `{"method":null}`,
			errType: methods.InvalidInput, field: "method", reason: "required"},
		{name: "method not a string", body: `{"method":42}`,
			errType: methods.InvalidInput, field: "method", reason: "type"},
		{name: "method an object", body: `{"method":{"name":"a"}}`,
			errType: methods.InvalidInput, field: "method", reason: "type"},
		{name: "envelope an array", body: `[{"method":"a"}]`,
			errType: methods.InvalidInput, field: "", reason: "type"},
		{name: "envelope a string", body: `"instances.list"`,
			errType: methods.InvalidInput, field: "", reason: "type"},
		{name: "envelope a number", body: `1`,
			errType: methods.InvalidInput, field: "", reason: "type"},
		{name: "envelope null", body: `null`,
			errType: methods.InvalidInput, field: "", reason: "type"},
		{name: "empty body", body: ``, errType: methods.InvalidInput, sameAsErr: errNotJSON},
		{name: "not JSON", body: `method=a`, errType: methods.InvalidInput, sameAsErr: errNotJSON},
		{name: "truncated JSON", body: `{"method":"a"`, errType: methods.InvalidInput, sameAsErr: errNotJSON},
		{name: "trailing garbage", body: `{"method":"a"} x`, errType: methods.InvalidInput, sameAsErr: errNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := decodeEnvelope([]byte(tt.body))
			if tt.errType == "" {
				if err != nil {
					t.Fatalf("decodeEnvelope: %v", err)
				}
				if env.Method != tt.method || string(env.Input) != tt.input {
					t.Errorf("got method %q input %q, want %q %q", env.Method, env.Input, tt.method, tt.input)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeEnvelope succeeded (%+v), want %s", env, tt.errType)
			}
			if st, w := ToWire(err); w.Type != tt.errType || st != Status(tt.errType) {
				t.Fatalf("wire = %d %q, want %q", st, w.Type, tt.errType)
			}
			if tt.sameAsErr != nil {
				if !errors.Is(err, tt.sameAsErr) {
					t.Errorf("err = %v, want %v", err, tt.sameAsErr)
				}
				return
			}
			fe := fieldErr(t, err)
			if fe.Field != tt.field || fe.Reason != tt.reason {
				t.Errorf("details = %+v, want field %q reason %q", fe, tt.field, tt.reason)
			}
		})
	}
}

// Test input types. The real wire types are used where the contract has the
// shape under test; the others cover shapes it does not have yet.
type (
	itemX struct {
		X int    `json:"x" required:"true"`
		Y string `json:"y,omitempty"`
	}
	withItems struct {
		Name  string   `json:"name,omitempty"`
		Items []itemX  `json:"items,omitempty"`
		Ptrs  []*itemX `json:"ptrs,omitempty"`
		Tags  []string `json:"tags,omitempty"`
	}
	untagged struct {
		Plain   string
		Skipped string `json:"-"`
		hidden  string //nolint:unused // proves unexported fields are ignored
	}
)

func TestDecodeInput(t *testing.T) {
	n := func(i int) *int { return &i }
	tests := []struct {
		name   string
		input  string
		into   any // pointer to a zero value of the input type
		want   any // the decoded value on success (same type as *into)
		field  string
		reason string
	}{
		// Success.
		{name: "empty input is {}", input: ``, into: &methods.ListInstancesInput{}, want: methods.ListInstancesInput{}},
		{name: "null input is {}", input: `null`, into: &methods.ListInstancesInput{}, want: methods.ListInstancesInput{}},
		{name: "spaced null input is {}", input: ` null `, into: &methods.ListInstancesInput{}, want: methods.ListInstancesInput{}},
		{name: "optional fields", input: `{"limit":5,"offset":10}`, into: &methods.ListInstancesInput{},
			want: methods.ListInstancesInput{Limit: n(5), Offset: n(10)}},
		{name: "null optional field", input: `{"limit":null}`, into: &methods.ListInstancesInput{}, want: methods.ListInstancesInput{}},
		{name: "required and nested", input: `{"templateSlug":"t","name":"n","autoCreateSession":{"presetId":"p","blocking":true}}`,
			into: &methods.CreateInstanceInput{},
			want: methods.CreateInstanceInput{TemplateSlug: "t", Name: "n", AutoCreateSession: &methods.AutoCreateSession{PresetID: "p", Blocking: true}}},
		{name: "null optional nested struct", input: `{"templateSlug":"t","name":"n","autoCreateSession":null}`,
			into: &methods.CreateInstanceInput{}, want: methods.CreateInstanceInput{TemplateSlug: "t", Name: "n"}},
		{name: "metadata keys are free", input: `{"templateSlug":"t","name":"n","metadata":{"anything":{"deep":[1]}}}`,
			into: &methods.CreateInstanceInput{},
			want: methods.CreateInstanceInput{TemplateSlug: "t", Name: "n", Metadata: map[string]any{"anything": map[string]any{"deep": []any{1.0}}}}},
		{name: "empty required string is present", input: `{"instanceId":""}`, into: &methods.GetInstanceInput{}, want: methods.GetInstanceInput{}},
		{name: "array of structs", input: `{"items":[{"x":1},{"x":2,"y":"b"}],"ptrs":[{"x":3}]}`, into: &withItems{},
			want: withItems{Items: []itemX{{X: 1}, {X: 2, Y: "b"}}, Ptrs: []*itemX{{X: 3}}}},
		{name: "null array", input: `{"items":null}`, into: &withItems{}, want: withItems{}},
		{name: "untagged field by Go name", input: `{"Plain":"p"}`, into: &untagged{}, want: untagged{Plain: "p"}},

		// Unknown fields, with their path.
		{name: "unknown top-level field", input: `{"limit":1,"page":2}`, into: &methods.ListInstancesInput{}, field: "page", reason: "unknown"},
		{name: "unknown nested field", input: `{"templateSlug":"t","name":"n","autoCreateSession":{"presetId":"p","presetID":"q"}}`,
			into: &methods.CreateInstanceInput{}, field: "autoCreateSession.presetID", reason: "unknown"},
		{name: "unknown field in an array item", input: `{"items":[{"x":1},{"x":2,"z":3}]}`, into: &withItems{}, field: "items[1].z", reason: "unknown"},
		{name: "case-folded name is unknown", input: `{"InstanceID":"i"}`, into: &methods.GetInstanceInput{}, field: "InstanceID", reason: "unknown"},
		{name: "json:\"-\" field is unknown", input: `{"Skipped":"s"}`, into: &untagged{}, field: "Skipped", reason: "unknown"},
		{name: "unexported field is unknown", input: `{"hidden":"h"}`, into: &untagged{}, field: "hidden", reason: "unknown"},
		{name: "field on an empty input type", input: `{"x":1}`, into: &methods.ListTemplatesInput{}, field: "x", reason: "unknown"},

		// Required fields.
		{name: "missing required", input: `{}`, into: &methods.GetInstanceInput{}, field: "instanceId", reason: "required"},
		{name: "null required", input: `{"instanceId":null}`, into: &methods.GetInstanceInput{}, field: "instanceId", reason: "required"},
		{name: "first missing required in name order", input: `{}`, into: &methods.CreateInstanceInput{}, field: "name", reason: "required"},
		{name: "missing nested required", input: `{"templateSlug":"t","name":"n","autoCreateSession":{}}`,
			into: &methods.CreateInstanceInput{}, field: "autoCreateSession.presetId", reason: "required"},
		{name: "null nested required", input: `{"templateSlug":"t","name":"n","autoCreateSession":{"presetId":null}}`,
			into: &methods.CreateInstanceInput{}, field: "autoCreateSession.presetId", reason: "required"},
		{name: "missing required in an array item", input: `{"items":[{"x":1},{"y":"b"}]}`, into: &withItems{}, field: "items[1].x", reason: "required"},
		{name: "missing required in a pointer array item", input: `{"ptrs":[{}]}`, into: &withItems{}, field: "ptrs[0].x", reason: "required"},

		// Wrong types.
		{name: "input an array", input: `[]`, into: &methods.ListInstancesInput{}, field: "input", reason: "type"},
		{name: "input a string", input: `"x"`, into: &methods.ListInstancesInput{}, field: "input", reason: "type"},
		{name: "input a number", input: `7`, into: &methods.GetInstanceInput{}, field: "input", reason: "type"},
		{name: "string for int", input: `{"limit":"5"}`, into: &methods.ListInstancesInput{}, field: "limit", reason: "type"},
		{name: "float for int", input: `{"limit":1.5}`, into: &methods.ListInstancesInput{}, field: "limit", reason: "type"},
		{name: "number for string", input: `{"instanceId":5}`, into: &methods.GetInstanceInput{}, field: "instanceId", reason: "type"},
		{name: "bool for string", input: `{"instanceId":true}`, into: &methods.GetInstanceInput{}, field: "instanceId", reason: "type"},
		{name: "nested wrong type", input: `{"templateSlug":"t","name":"n","autoCreateSession":{"presetId":1}}`,
			into: &methods.CreateInstanceInput{}, field: "autoCreateSession.presetId", reason: "type"},
		{name: "nested not an object", input: `{"templateSlug":"t","name":"n","autoCreateSession":"p"}`,
			into: &methods.CreateInstanceInput{}, field: "autoCreateSession", reason: "type"},
		{name: "metadata not an object", input: `{"templateSlug":"t","name":"n","metadata":[1]}`,
			into: &methods.CreateInstanceInput{}, field: "metadata", reason: "type"},
		{name: "array of strings given a string", input: `{"tags":"a"}`, into: &withItems{}, field: "tags", reason: "type"},
		{name: "array of structs given an object", input: `{"items":{"x":1}}`, into: &withItems{}, field: "items", reason: "type"},
		{name: "array item not an object", input: `{"items":[{"x":1},2]}`, into: &withItems{}, field: "items[1]", reason: "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeInput(json.RawMessage(tt.input), tt.into, false)
			if tt.field == "" && tt.reason == "" {
				if err != nil {
					t.Fatalf("decodeInput: %v", err)
				}
				if got := reflect.ValueOf(tt.into).Elem().Interface(); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("decoded %#v, want %#v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeInput succeeded with %#v, want %s of %q", reflect.ValueOf(tt.into).Elem().Interface(), tt.reason, tt.field)
			}
			fe := fieldErr(t, err)
			if fe.Field != tt.field || fe.Reason != tt.reason {
				t.Errorf("details = %+v, want field %q reason %q (%v)", fe, tt.field, tt.reason, err)
			}
			var e *Error
			errors.As(err, &e)
			if tt.field != "" && tt.field != "input" && !strings.Contains(e.Message, tt.field) {
				t.Errorf("message %q does not name the field %q", e.Message, tt.field)
			}
		})
	}
}

type (
	clock struct {
		At time.Time `json:"at" required:"true"`
	}
	tree struct {
		Name     string `json:"name" required:"true"`
		Children []tree `json:"children,omitempty"`
		Parent   *tree  `json:"parent,omitempty"`
	}
	odd struct {
		Dash   string      `json:"-,"`
		Quoted int         `json:"quoted,string,omitempty"`
		Num    json.Number `json:"num,omitempty"`
		Raw    []byte      `json:"raw,omitempty"`
		Grid   [][]int     `json:"grid,omitempty"`
		Free   any         `json:"free,omitempty"`
	}
)

type (
	Base struct {
		ID   string `json:"id" required:"true"`
		Name string `json:"name"`
	}
	inner struct {
		Deep int `json:"deep"`
	}
	Mid struct {
		inner
		Name string `json:"midName"`
	}
	withEmbedded struct {
		Base
		*Mid
		Name   string `json:"name"` // shadows Base.Name
		Tagged Base   `json:"tagged"`
	}
)

// TestDecodeInputPaths covers what the checker reports by itself, before
// encoding/json runs: exact paths with indexes, escaped names, repeated
// members, recursive types and types that decode themselves.
func TestDecodeInputPaths(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		into   any
		field  string // "" for success
		reason string
	}{
		{name: "wrong type in an array item names the index", input: `{"items":[{"x":1},{"x":"two"}]}`, into: &withItems{}, field: "items[1].x", reason: "type"},
		{name: "wrong type in a scalar array", input: `{"tags":["a",2]}`, into: &withItems{}, field: "tags[1]", reason: "type"},
		{name: "null in a scalar array", input: `{"tags":["a",null]}`, into: &withItems{}},
		{name: "nested arrays", input: `{"grid":[[1,2],[3,"4"]]}`, into: &odd{}, field: "grid[1][1]", reason: "type"},
		{name: "escaped member name", input: `{"instance\u0049d":"i"}`, into: &methods.GetInstanceInput{}},
		{name: "escaped unknown member name", input: `{"x\u0041":1,"instanceId":"i"}`, into: &methods.GetInstanceInput{}, field: "xA", reason: "unknown"},
		{name: "repeated member, last not null", input: `{"instanceId":null,"instanceId":"i"}`, into: &methods.GetInstanceInput{}},
		{name: "repeated member, last null", input: `{"instanceId":"i","instanceId":null}`, into: &methods.GetInstanceInput{}, field: "instanceId", reason: "required"},
		{name: "unknown field in an earlier repeat", input: `{"templateSlug":"t","name":"n","autoCreateSession":{"presetId":"p","nope":1},"autoCreateSession":{"presetId":"p"}}`,
			into: &methods.CreateInstanceInput{}, field: "autoCreateSession.nope", reason: "unknown"},
		{name: "first error in document order", input: `{"limit":"1","page":2}`, into: &methods.ListInstancesInput{}, field: "limit", reason: "type"},
		{name: "recursive type", input: `{"name":"a","children":[{"name":"b","children":[{"name":"c"},{}]}]}`, into: &tree{}, field: "children[0].children[1].name", reason: "required"},
		{name: "recursive pointer", input: `{"name":"a","parent":{"name":"b","parent":{"nam":"c"}}}`, into: &tree{}, field: "parent.parent.nam", reason: "unknown"},
		{name: "a type that decodes itself takes a string", input: `{"at":"2026-11-21T09:00:00Z"}`, into: &clock{}},
		{name: "embedded structs are flattened", input: `{"id":"a","name":"n","midName":"m","deep":1,"tagged":{"id":"b"}}`, into: &withEmbedded{}},
		{name: "required field of an embedded struct", input: `{"name":"n"}`, into: &withEmbedded{}, field: "id", reason: "required"},
		{name: "embedded struct by its Go name is unknown", input: `{"id":"a","Base":{}}`, into: &withEmbedded{}, field: "Base", reason: "unknown"},
		{name: "a named struct field is not flattened", input: `{"id":"a","tagged":{}}`, into: &withEmbedded{}, field: "tagged.id", reason: "required"},
		{name: "field named -", input: `{"-":"d"}`, into: &odd{}},
		{name: ",string option takes a quoted number", input: `{"quoted":"5"}`, into: &odd{}},
		{name: "json.Number takes a number", input: `{"num":1.5e3}`, into: &odd{}},
		{name: "[]byte takes base64", input: `{"raw":"aGk="}`, into: &odd{}},
		{name: "any takes anything", input: `{"free":[{"a":1}]}`, into: &odd{}},
		{name: "number for bool", input: `{"blocking":1,"presetId":"p"}`, into: &methods.AutoCreateSession{}, field: "blocking", reason: "type"},
		{name: "object for string", input: `{"instanceId":{}}`, into: &methods.GetInstanceInput{}, field: "instanceId", reason: "type"},
		{name: "array for map", input: `{"templateSlug":"t","name":"n","metadata":[]}`, into: &methods.CreateInstanceInput{}, field: "metadata", reason: "type"},
		{name: "integer out of range is left to encoding/json", input: `{"limit":99999999999999999999}`, into: &methods.ListInstancesInput{}, field: "limit", reason: "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeInput(json.RawMessage(tt.input), tt.into, false)
			if tt.field == "" && tt.reason == "" {
				if err != nil {
					t.Fatalf("decodeInput: %v", err)
				}
				return
			}
			fe := fieldErr(t, err)
			if fe.Field != tt.field || fe.Reason != tt.reason {
				t.Errorf("details = %+v, want field %q reason %q (%v)", fe, tt.field, tt.reason, err)
			}
		})
	}
}

func TestDecodeInputRefusedByUnmarshaler(t *testing.T) {
	for _, raw := range []string{`{"at":5}`, `{"at":"yesterday"}`} {
		t.Run(raw, func(t *testing.T) {
			err := decodeInput(json.RawMessage(raw), &clock{}, false)
			if !errors.Is(err, errBadValue) {
				t.Fatalf("decodeInput(%q) = %v, want errBadValue", raw, err)
			}
			if _, w := ToWire(err); w.Type != methods.InvalidInput || strings.Contains(w.Message, "parsing time") {
				t.Errorf("wire = %+v", w)
			}
		})
	}
}

func TestDecodeInputNotJSON(t *testing.T) {
	// Registry.Call takes raw input from Go callers; it is checked too.
	for _, raw := range []string{`{"instanceId":`, `{"instanceId":"i"} x`, `{'a':1}`, " "} {
		t.Run(raw, func(t *testing.T) {
			err := decodeInput(json.RawMessage(raw), &methods.GetInstanceInput{}, false)
			if _, w := ToWire(err); w.Type != methods.InvalidInput {
				t.Errorf("decodeInput(%q) = %v, want invalid_input", raw, err)
			}
		})
	}
}

func TestCheckIsCachedPerType(t *testing.T) {
	a := checkFor(reflect.TypeFor[methods.CreateInstanceInput]())
	b := checkFor(reflect.TypeFor[methods.CreateInstanceInput]())
	if a != b {
		t.Error("checkFor computed the check twice")
	}
	if want := []string{"name", "templateSlug"}; !reflect.DeepEqual(a.required, want) {
		t.Errorf("required = %v, want %v", a.required, want)
	}
}

// TestDecodeTooDeep: JSON nested past the limit is refused as too deep,
// not as "not valid JSON"; a deep but allowed body, and brackets inside
// strings, are not.
func TestDecodeTooDeep(t *testing.T) {
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	body := `{"method":"instances.list","input":{"x":` + deep + `}}`
	_, err := decodeEnvelope([]byte(body))
	if err != errTooDeep {
		t.Errorf("100000 deep: %v, want the nested-too-deeply error", err)
	}
	if !strings.Contains(errTooDeep.Message, "deep") {
		t.Errorf("the message does not say what is wrong: %s", errTooDeep.Message)
	}
	if err := decodeInput(json.RawMessage(`{"x":`+deep+`}`), &map[string]any{}, false); err != errTooDeep {
		t.Errorf("decodeInput 100000 deep: %v, want the nested-too-deeply error", err)
	}
	// Not JSON, with deep brackets only inside a string: not too deep.
	if _, err := decodeEnvelope([]byte(`{"method":"` + strings.Repeat("[", 20_000) + `"`)); err != errNotJSON {
		t.Errorf("brackets in a string: %v, want not-JSON", err)
	}
}
