package rpc

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/roosthq/roost/methods"
)

// MaxBody is the largest request body the RPC endpoints read.
const MaxBody = 1 << 20

var (
	errNotJSON = &Error{Type: methods.InvalidInput,
		Message: "The request body is not valid JSON. Send {\"method\": \"...\", \"input\": {...}} with Content-Type: application/json."}
	errTooLarge = &Error{Type: methods.PayloadTooLarge,
		Message: fmt.Sprintf("The request body is larger than %d bytes. Send large data with the file upload endpoint and pass its fileId.", MaxBody)}
	errBadValue = &Error{Type: methods.InvalidInput,
		Message: "The input has a value that is not in the form its field takes. Check it against the method's schema."}
	errEnvelopeType = InvalidField("", "type", "The request body must be a JSON object with \"method\" and \"input\".")
	errTooDeep      = &Error{Type: methods.InvalidInput,
		Message: fmt.Sprintf("The request body nests arrays and objects more than %d deep. Send a flatter input.", maxDepth)}
)

// maxDepth is the deepest nesting of arrays and objects the decoder reads
// (encoding/json's own limit).
const maxDepth = 10000

// notJSON is why a body that is not valid JSON is refused: nested too
// deeply, or not JSON at all.
func notJSON(b []byte) *Error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > maxDepth {
				return errTooDeep
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return errNotJSON
}

type envelope struct {
	Method string
	Input  json.RawMessage
}

// decodeEnvelope reads {"method": string, "input": object?} and nothing else.
// It walks the body once after checking that it is valid JSON, building no
// map: this runs on every call. A repeated member counts by its last value,
// as encoding/json would read it.
func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	if !json.Valid(body) {
		return env, notJSON(body)
	}
	i := skipWS(body, 0)
	if body[i] != '{' {
		return env, errEnvelopeType
	}
	var method []byte
	var unknown string
	hasMethod, hasUnknown := false, false
	it := members{b: body, i: i}
	for it.next() {
		switch {
		case it.is("method"):
			method, hasMethod = it.val, true
		case it.is("input"):
			env.Input = json.RawMessage(it.val)
		case !hasUnknown:
			unknown, hasUnknown = keyString(it.key, it.esc), true
		}
	}
	if hasUnknown {
		return env, InvalidField(unknown, "unknown", "The request has an unknown field %q; the envelope holds only \"method\" and \"input\".", unknown)
	}
	if !hasMethod || isNull(method) {
		return env, InvalidField("method", "required", "The request has no \"method\". Name the method to call, for example \"instances.list\".")
	}
	s, ok := jsonString(method)
	if !ok {
		return env, InvalidField("method", "type", "The field \"method\" must be a string naming the method to call.")
	}
	env.Method = s
	return env, nil
}

// decodeInput fills in from raw, checking the shape against In's type first so
// that unknown, missing and wrong-typed fields are reported with their path.
// valid says raw is known to be valid JSON (it came out of a checked body).
func decodeInput(raw json.RawMessage, in any, valid bool) error {
	if len(raw) == 0 || isNull(raw) {
		raw = json.RawMessage("{}")
	} else if !valid && !json.Valid(raw) {
		return notJSON(raw)
	}
	tc := checkFor(reflect.TypeOf(in).Elem())
	if err := tc.check(raw, skipWS(raw, 0), nil); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			return InvalidField(field, "type", "The field %q must be %s, not %s.", field, describeType(typeErr.Type), typeErr.Value)
		}
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return errNotJSON.Wrap(err)
		}
		// A type that decodes itself (a time, say) refused its value.
		return errBadValue.Wrap(err)
	}
	return nil
}

// checkKind is what JSON a Go type accepts, as far as the checker tells.
type checkKind uint8

const (
	kindAny    checkKind = iota // anything: interfaces, custom unmarshalers
	kindStruct                  // an object with known members
	kindSlice                   // an array, each element checked
	kindMap                     // an object with free keys
	kindString
	kindBool
	kindNumber
)

// typeCheck is what checking a value of one Go type needs, computed once per
// type.
type typeCheck struct {
	kind checkKind
	typ  reflect.Type // the type as declared, for messages
	elem *typeCheck   // kindSlice
	// kindStruct:
	fields   map[string]fieldInfo
	required []string // sorted, so the first missing field reported is stable
}

type fieldInfo struct {
	name     string
	required int // index in typeCheck.required, -1 when optional
	check    *typeCheck
}

var (
	checks   sync.Map // reflect.Type -> *typeCheck
	checksMu sync.Mutex

	numberType          = reflect.TypeFor[json.Number]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func checkFor(t reflect.Type) *typeCheck {
	if c, ok := checks.Load(t); ok {
		return c.(*typeCheck)
	}
	checksMu.Lock()
	defer checksMu.Unlock()
	building := map[reflect.Type]*typeCheck{}
	c := buildCheck(t, building)
	for bt, bc := range building {
		checks.LoadOrStore(bt, bc)
	}
	return c
}

// buildCheck computes the check of t; building holds the checks under
// construction, so that recursive types end.
func buildCheck(t reflect.Type, building map[reflect.Type]*typeCheck) *typeCheck {
	if c, ok := checks.Load(t); ok {
		return c.(*typeCheck)
	}
	if c, ok := building[t]; ok {
		return c
	}
	c := &typeCheck{typ: t}
	building[t] = c
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	if base == numberType || reflect.PointerTo(base).Implements(unmarshalerType) || reflect.PointerTo(base).Implements(textUnmarshalerType) {
		return c // encoding/json lets the type decide what it accepts
	}
	switch base.Kind() {
	case reflect.Struct:
		c.kind = kindStruct
		c.fields = map[string]fieldInfo{}
		addFields(c, base, building)
		sort.Strings(c.required)
		for i, name := range c.required {
			f := c.fields[name]
			f.required = i
			c.fields[name] = f
		}
	case reflect.Slice, reflect.Array:
		if base.Elem().Kind() == reflect.Uint8 {
			return c // []byte is a base64 string to encoding/json
		}
		c.kind = kindSlice
		c.elem = buildCheck(base.Elem(), building)
	case reflect.Map:
		c.kind = kindMap
	case reflect.String:
		c.kind = kindString
	case reflect.Bool:
		c.kind = kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		c.kind = kindNumber
	}
	return c
}

// addFields adds the members struct t takes to c: its own fields, then
// those of embedded structs without a JSON name, level by level, as
// encoding/json promotes them unless a shallower field has the name.
// (encoding/json also drops a name that two embedded structs give at the
// same depth; roost's wire types have no such clash.)
func addFields(c *typeCheck, t reflect.Type, building map[reflect.Type]*typeCheck) {
	seen := map[reflect.Type]bool{}
	for level := []reflect.Type{t}; len(level) > 0; {
		var next []reflect.Type
		for _, t := range level {
			if seen[t] {
				continue
			}
			seen[t] = true
			for i := 0; i < t.NumField(); i++ {
				sf := t.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if sf.Anonymous && name == "" {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if et.Kind() == reflect.Struct && (sf.IsExported() || sf.Type.Kind() != reflect.Pointer) {
						next = append(next, et)
						continue
					}
				}
				if !sf.IsExported() {
					continue
				}
				if name == "" {
					name = sf.Name
				}
				if _, dup := c.fields[name]; dup {
					continue
				}
				f := fieldInfo{name: name, required: -1, check: buildCheck(sf.Type, building)}
				if hasOption(opts, "string") {
					f.check = &typeCheck{typ: sf.Type} // quoted scalars: leave them to encoding/json
				}
				if sf.Tag.Get("required") == "true" {
					c.required = append(c.required, name)
				}
				c.fields[name] = f
			}
		}
		level = next
	}
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// path is the location of a value in the input, built into a string only
// when an error names it.
type path struct {
	parent *path
	key    []byte // a member's name, raw from the input (nil for an index)
	esc    bool   // key holds JSON escapes
	index  int
}

func (p *path) String() string {
	if p == nil {
		return ""
	}
	var segs []*path
	for q := p; q != nil; q = q.parent {
		segs = append(segs, q)
	}
	var b strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		if s.key == nil {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(keyString(s.key, s.esc))
	}
	return b.String()
}

// check walks the value at b[i] (valid JSON) beside c's type: objects of
// structs must have only known members and every required one; arrays are
// checked element by element; scalars must be of the JSON kind their Go
// type takes. Null is accepted everywhere, as encoding/json accepts it.
// Finer rules (integer ranges, fractions) are left to encoding/json.
func (c *typeCheck) check(b []byte, i int, at *path) error {
	if b[i] == 'n' || c.kind == kindAny {
		return nil
	}
	switch c.kind {
	case kindStruct:
		if b[i] != '{' {
			if at == nil {
				return InvalidField("input", "type", "The field \"input\" must be a JSON object.")
			}
			p := at.String()
			return InvalidField(p, "type", "The field %q must be an object.", p)
		}
		var present uint64 // bit n: required field n is present and not null
		var presentMore []bool
		if len(c.required) > 64 {
			presentMore = make([]bool, len(c.required))
		}
		it := members{b: b, i: i}
		for it.next() {
			var f fieldInfo
			var ok bool
			if it.esc {
				f, ok = c.fields[keyString(it.key, true)]
			} else {
				f, ok = c.fields[string(it.key)] // no copy for a map index
			}
			if !ok {
				p := (&path{parent: at, key: it.key, esc: it.esc}).String()
				return InvalidField(p, "unknown", "The input has an unknown field %q. Check its spelling against the method's schema.", p)
			}
			if f.check.kind != kindAny && it.val[0] != 'n' {
				if err := f.check.check(b, it.vi, &path{parent: at, key: it.key, esc: it.esc}); err != nil {
					return err
				}
			}
			if f.required >= 0 {
				set := it.val[0] != 'n'
				if presentMore != nil {
					presentMore[f.required] = set
				} else if set {
					present |= 1 << f.required
				} else {
					present &^= 1 << f.required
				}
			}
		}
		for n, name := range c.required {
			if presentMore != nil && presentMore[n] || presentMore == nil && present&(1<<n) != 0 {
				continue
			}
			p := (&path{parent: at, key: []byte(name)}).String()
			return InvalidField(p, "required", "The input is missing the required field %q.", p)
		}
	case kindSlice:
		if b[i] != '[' {
			return c.typeError(b[i], at)
		}
		if c.elem.kind == kindAny {
			return nil
		}
		it := elements{b: b, i: i}
		for n := 0; it.next(); n++ {
			if b[it.vi] == 'n' {
				continue
			}
			if err := c.elem.check(b, it.vi, &path{parent: at, index: n}); err != nil {
				return err
			}
		}
	case kindMap:
		if b[i] != '{' {
			return c.typeError(b[i], at)
		}
	case kindString:
		if b[i] != '"' {
			return c.typeError(b[i], at)
		}
	case kindBool:
		if b[i] != 't' && b[i] != 'f' {
			return c.typeError(b[i], at)
		}
	case kindNumber:
		if b[i] != '-' && (b[i] < '0' || b[i] > '9') {
			return c.typeError(b[i], at)
		}
	}
	return nil
}

func (c *typeCheck) typeError(first byte, at *path) error {
	p := at.String()
	return InvalidField(p, "type", "The field %q must be %s, not %s.", p, describeType(c.typ), jsonKind(first))
}

// jsonKind names the kind of a JSON value by its first byte, in the words
// encoding/json uses.
func jsonKind(first byte) string {
	switch first {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// members iterates over the members of the JSON object at b[i], which must
// be valid JSON.
type members struct {
	b       []byte
	i       int // next position to read
	started bool
	key     []byte // the member's name without quotes, escapes undone only by keyString
	esc     bool
	vi      int    // where the value starts
	val     []byte // the value
}

func (m *members) next() bool {
	b, i := m.b, m.i
	if !m.started {
		m.started = true
		i = skipWS(b, i+1) // past '{'
	}
	if i >= len(b) || b[i] != '"' {
		m.i = len(b) - 1
		return false
	}
	end, esc := skipString(b, i)
	m.key, m.esc = b[i+1:end-1], esc
	i = skipWS(b, end)
	i = skipWS(b, i+1) // ':'
	m.vi = i
	end = skipValue(b, i)
	m.val = b[i:end]
	i = skipWS(b, end)
	if b[i] == ',' {
		i = skipWS(b, i+1)
	}
	m.i = i
	return true
}

// is reports whether the member's name is name, without allocating.
func (m *members) is(name string) bool {
	if !m.esc {
		return string(m.key) == name
	}
	return keyString(m.key, true) == name
}

// keyString returns a member's name as encoding/json reads it.
func keyString(key []byte, esc bool) string {
	if !esc && utf8.Valid(key) {
		return string(key)
	}
	var s string
	quoted := make([]byte, 0, len(key)+2)
	quoted = append(append(append(quoted, '"'), key...), '"')
	_ = json.Unmarshal(quoted, &s)
	return s
}

// jsonString returns the string a JSON value holds, if it is a string.
func jsonString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if utf8.Valid(inner) && !hasByte(inner, '\\') {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// elements iterates over the elements of the JSON array at b[i], which must
// be valid JSON.
type elements struct {
	b       []byte
	i       int
	vi      int
	started bool
}

func (e *elements) next() bool {
	b, i := e.b, e.i
	if !e.started {
		e.started = true
		i = skipWS(b, i+1) // past '['
	}
	if i >= len(b) || b[i] == ']' {
		e.i = len(b) - 1
		return false
	}
	e.vi = i
	i = skipWS(b, skipValue(b, i))
	if b[i] == ',' {
		i = skipWS(b, i+1)
	}
	e.i = i
	return true
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the position after the string that starts at b[i]
// and whether it holds escapes.
func skipString(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return len(b), esc
}

// skipValue returns the position after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := skipString(b, j)
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return len(b)
}

func isNull(raw []byte) bool {
	i := skipWS(raw, 0)
	return len(raw)-i >= 4 && string(raw[i:i+4]) == "null" && skipWS(raw, i+4) == len(raw)
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
