package bundles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// ManifestName is the manifest's file name at the archive's root.
const ManifestName = "roost.json"

// MaxManifestSize bounds roost.json.
const MaxManifestSize = 64 << 10

var (
	presetIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	envKeyPattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	versionPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$`)
)

// manifestError is an invalid_input about a field of roost.json.
func manifestError(field, format string, args ...any) error {
	return rpc.InvalidField("manifest."+field, "manifest", "roost.json: "+format, args...)
}

// ParseManifest decodes and validates roost.json.
func ParseManifest(b []byte) (methods.BundleManifest, error) {
	var m methods.BundleManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return m, manifestError(te.Field, "the field %q must be %s, not %s.", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se):
			return m, manifestError("", "not valid JSON (at byte %d).", se.Offset)
		default:
			// Unknown fields come back only as text from encoding/json;
			// report them without echoing internals.
			return m, manifestError("", "not a valid manifest: %s. Allowed fields: name, version, entrypoint, presets, services, env, health.",
				strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	if dec.More() {
		return m, manifestError("", "has data after the JSON object.")
	}
	return m, ValidateManifest(&m)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

// ValidateManifest checks every rule of roost.json and normalizes health.
func ValidateManifest(m *methods.BundleManifest) error {
	if strings.TrimSpace(m.Name) == "" || len(m.Name) > 100 {
		return manifestError("name", "\"name\" is required, 1 to 100 characters.")
	}
	if !versionPattern.MatchString(m.Version) {
		return manifestError("version", "\"version\" is required: 1 to 64 letters, digits and . + _ -, like \"1.2.0\".")
	}
	if len(m.Entrypoint) == 0 || len(m.Entrypoint) > 64 {
		return manifestError("entrypoint", "\"entrypoint\" must be a non-empty array of strings (the argv that starts the agent), like [\"python3\", \"agent.py\"].")
	}
	for i, a := range m.Entrypoint {
		if a == "" || strings.ContainsRune(a, 0) || len(a) > 4096 {
			return manifestError(fmt.Sprintf("entrypoint[%d]", i), "entrypoint[%d] must be a non-empty string without NUL.", i)
		}
	}
	if m.Presets == nil {
		m.Presets = []methods.BundlePreset{}
	}
	seen := map[string]bool{}
	for i, p := range m.Presets {
		if !presetIDPattern.MatchString(p.ID) {
			return manifestError(fmt.Sprintf("presets[%d].id", i), "presets[%d].id must be 1 to 64 letters, digits and . _ -.", i)
		}
		if seen[p.ID] {
			return manifestError(fmt.Sprintf("presets[%d].id", i), "preset id %q appears twice.", p.ID)
		}
		seen[p.ID] = true
		if strings.TrimSpace(p.Name) == "" || len(p.Name) > 200 {
			return manifestError(fmt.Sprintf("presets[%d].name", i), "presets[%d].name is required, 1 to 200 characters.", i)
		}
		if len(p.Description) > 2000 {
			return manifestError(fmt.Sprintf("presets[%d].description", i), "presets[%d].description is longer than 2000 characters.", i)
		}
	}
	if m.Services == nil {
		m.Services = []methods.BundleService{}
	}
	seenSvc, seenPort := map[string]bool{}, map[int]bool{}
	for i, s := range m.Services {
		if !presetIDPattern.MatchString(s.ServiceType) {
			return manifestError(fmt.Sprintf("services[%d].serviceType", i), "services[%d].serviceType must be 1 to 64 letters, digits and . _ -.", i)
		}
		if s.Port < 1 || s.Port > 65535 {
			return manifestError(fmt.Sprintf("services[%d].port", i), "services[%d].port must be between 1 and 65535.", i)
		}
		if seenSvc[s.ServiceType] || seenPort[s.Port] {
			return manifestError(fmt.Sprintf("services[%d]", i), "services[%d] repeats a serviceType or a port.", i)
		}
		seenSvc[s.ServiceType], seenPort[s.Port] = true, true
	}
	if len(m.Env) > 256 {
		return manifestError("env", "\"env\" has more than 256 variables.")
	}
	for k, v := range m.Env {
		if !envKeyPattern.MatchString(k) || strings.HasPrefix(k, "ROOST_") {
			return manifestError("env."+k, "env name %q must be letters, digits and _, not starting with a digit, and not start with ROOST_ (reserved).", k)
		}
		if strings.ContainsRune(v, 0) || len(v) > 32<<10 {
			return manifestError("env."+k, "env %s must be a string without NUL, at most 32 KiB.", k)
		}
	}
	if m.Health != nil {
		h := *m.Health
		switch {
		case h == "" || h == "none":
			m.Health = nil
		case !strings.HasPrefix(h, "/") || len(h) > 1024 || strings.ContainsAny(h, " \t\r\n\x00"):
			return manifestError("health", "\"health\" must be an HTTP path on the agent starting with /, like \"/health\", or \"none\".")
		}
	}
	return nil
}
