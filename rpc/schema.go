package rpc

import (
	"reflect"
	"sort"
	"strings"
)

// Schema is a JSON Schema, as a plain map so it marshals as written.
type Schema = map[string]any

// schemaBuilder turns Go types into JSON Schemas, naming each struct once
// in definitions.
type schemaBuilder struct {
	defs   map[string]Schema
	inputs map[string]bool // struct names used in inputs
}

// markInputs records every struct reachable from an input type, so that an
// output struct of the same name can be told apart.
func (b *schemaBuilder) markInputs(t reflect.Type) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || b.inputs[typeName(t)] {
		return
	}
	b.inputs[typeName(t)] = true
	for i := 0; i < t.NumField(); i++ {
		b.markInputs(t.Field(i).Type)
	}
}

// typeName names a struct type for definitions.
func typeName(t reflect.Type) string {
	n := t.Name()
	if n == "" {
		n = "Anonymous"
	}
	return n
}

// of returns the schema of t. For outputs, every field without omitempty
// is always present, and pointer or map fields without it may be null; for
// inputs, fields tagged required:"true" are required.
func (b *schemaBuilder) of(t reflect.Type, output bool) Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Schema{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return Schema{"type": "number"}
	case reflect.Slice:
		return Schema{"type": "array", "items": b.of(t.Elem(), output)}
	case reflect.Array:
		return Schema{"type": "array", "items": b.of(t.Elem(), output), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return Schema{"type": "object", "additionalProperties": b.of(t.Elem(), output)}
	case reflect.Struct:
		name := typeName(t)
		if output && b.inputs[name] {
			name += "Out"
		}
		if _, ok := b.defs[name]; !ok {
			b.defs[name] = Schema{} // stops recursion
			b.defs[name] = b.object(t, output)
		}
		return Schema{"$ref": "#/components/schemas/" + name}
	}
	return Schema{}
}

func (b *schemaBuilder) object(t reflect.Type, output bool) Schema {
	props := Schema{}
	required := []string{}
	b.fields(t, output, props, &required)
	sort.Strings(required)
	def := Schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		def["required"] = required
	}
	return def
}

// fields adds t's fields to props, inlining embedded structs as
// encoding/json does.
func (b *schemaBuilder) fields(t reflect.Type, output bool, props Schema, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			b.fields(f.Type, output, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		jn, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if jn == "-" {
			continue
		}
		if jn == "" {
			jn = f.Name
		}
		omit := strings.Contains(opts, "omitempty")
		fs := b.of(f.Type, output)
		if output && !omit && (f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Map) {
			fs = Schema{"anyOf": []any{fs, Schema{"type": "null"}}}
		}
		if d := f.Tag.Get("doc"); d != "" {
			// A field's doc tag is its description in the schema.
			if _, ref := fs["$ref"]; ref {
				fs = Schema{"allOf": []any{fs}, "description": d}
			} else {
				c := Schema{"description": d}
				for k, v := range fs {
					c[k] = v
				}
				fs = c
			}
		}
		props[jn] = fs
		if (output && !omit) || (!output && f.Tag.Get("required") == "true") {
			*required = append(*required, jn)
		}
	}
}

// OpenRPC describes every method of the given registries as an OpenRPC
// document; each method carries x-endpoint, the path it is called at.
func OpenRPC(title, version string, endpoints map[string]*Registry) map[string]any {
	b := &schemaBuilder{defs: map[string]Schema{}, inputs: map[string]bool{}}
	var names []string
	for path := range endpoints {
		names = append(names, path)
		for _, m := range endpoints[path].Methods() {
			b.markInputs(m.Input)
		}
	}
	sort.Strings(names)
	var ms []any
	for _, path := range names {
		for _, m := range endpoints[path].Methods() {
			ms = append(ms, map[string]any{
				"name":       m.Name,
				"x-endpoint": path,
				"params":     []any{map[string]any{"name": "input", "required": true, "schema": b.of(m.Input, false)}},
				"result":     map[string]any{"name": "value", "schema": b.of(m.Output, true)},
			})
		}
	}
	return map[string]any{
		"openrpc":    "1.2.6",
		"info":       map[string]any{"title": title, "version": version},
		"methods":    ms,
		"components": map[string]any{"schemas": b.defs},
	}
}
