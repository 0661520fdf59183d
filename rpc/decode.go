package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/roosthq/roost/methods"
)

// MaxBody is the largest request body the RPC endpoints read.
const MaxBody = 1 << 20

var (
	errNotJSON = &Error{Type: methods.InvalidInput,
		Message: "The request body is not valid JSON. Send {\"method\": \"...\", \"input\": {...}} with Content-Type: application/json."}
	errTooLarge = &Error{Type: methods.PayloadTooLarge,
		Message: fmt.Sprintf("The request body is larger than %d bytes. Send large data with the file upload endpoint and pass its fileId.", MaxBody)}
)

type envelope struct {
	Method string
	Input  json.RawMessage
}

// decodeEnvelope reads {"method": string, "input": object?} and nothing else.
func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return env, InvalidField("", "type", "The request body must be a JSON object with \"method\" and \"input\".")
		}
		return env, errNotJSON
	}
	if raw == nil {
		return env, InvalidField("", "type", "The request body must be a JSON object with \"method\" and \"input\".")
	}
	for k := range raw {
		if k != "method" && k != "input" {
			return env, InvalidField(k, "unknown", "The request has an unknown field %q; the envelope holds only \"method\" and \"input\".", k)
		}
	}
	m, ok := raw["method"]
	if !ok || isNull(m) {
		return env, InvalidField("method", "required", "The request has no \"method\". Name the method to call, for example \"instances.list\".")
	}
	if err := json.Unmarshal(m, &env.Method); err != nil {
		return env, InvalidField("method", "type", "The field \"method\" must be a string naming the method to call.")
	}
	env.Input = raw["input"]
	return env, nil
}

// decodeInput fills in from raw, checking the shape against In's type first so
// that unknown and missing fields are reported with their path.
func decodeInput(raw json.RawMessage, in any) error {
	if len(raw) == 0 || isNull(raw) {
		raw = json.RawMessage("{}")
	}
	t := reflect.TypeOf(in).Elem()
	if err := checkShape(t, raw, ""); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			return InvalidField(field, "type", "The field %q must be %s, not %s.", field, describeType(typeErr.Type), typeErr.Value)
		}
		return errNotJSON.Wrap(err)
	}
	return nil
}

type fieldInfo struct {
	name     string
	required bool
	typ      reflect.Type
}

// shape is what checkShape needs of a struct type, computed once per type.
type shape struct {
	fields   map[string]fieldInfo
	required []string // sorted, so the first missing field reported is stable
}

var shapeCache sync.Map // reflect.Type -> *shape

func shapeOf(t reflect.Type) *shape {
	if s, ok := shapeCache.Load(t); ok {
		return s.(*shape)
	}
	s := &shape{fields: map[string]fieldInfo{}}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f := fieldInfo{name: name, required: sf.Tag.Get("required") == "true", typ: sf.Type}
		s.fields[name] = f
		if f.required {
			s.required = append(s.required, name)
		}
	}
	sort.Strings(s.required)
	shapeCache.Store(t, s)
	return s
}

// checkShape walks raw beside t: objects must have only known keys and every
// required key; it recurses into nested structs and slices of them. Type
// errors of scalars are left to encoding/json, which names the field too.
func checkShape(t reflect.Type, raw json.RawMessage, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(raw) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			if path == "" {
				return InvalidField("input", "type", "The field \"input\" must be a JSON object.")
			}
			return InvalidField(path, "type", "The field %q must be an object.", path)
		}
		sh := shapeOf(t)
		for k, v := range obj {
			f, ok := sh.fields[k]
			if !ok {
				p := join(path, k)
				return InvalidField(p, "unknown", "The input has an unknown field %q. Check its spelling against the method's schema.", p)
			}
			if err := checkShape(f.typ, v, join(path, k)); err != nil {
				return err
			}
		}
		for _, f := range sh.required {
			if v, ok := obj[f]; !ok || isNull(v) {
				p := join(path, f)
				return InvalidField(p, "required", "The input is missing the required field %q.", p)
			}
		}
	case reflect.Slice:
		elem := t.Elem()
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() != reflect.Struct {
			return nil
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			return InvalidField(path, "type", "The field %q must be an array.", path)
		}
		for i, v := range arr {
			if err := checkShape(elem, v, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of type " + t.String()
}
