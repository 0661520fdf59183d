package platform

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/roosthq/roost/internal/validate"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// MaxTokenMetaSize bounds the meta claims of an instance token.
const MaxTokenMetaSize = 4 << 10

func (s *Server) registerMethods() {
	s.instances.Register(s.platform)
	s.sessions.Register(s.platform)
	s.sessions.RegisterInstance(s.instance)
	s.services.Register(s.platform)
	s.services.RegisterInstance(s.instance)
	s.publish.Register(s.platform)
	s.publish.RegisterInstance(s.instance)
	s.sandboxes.RegisterInstance(s.instance)
	s.files.Register(s.platform)
	s.resources.Register(s.platform)
	s.bundles.Register(s.platform)
	s.fleet.RegisterAdmin(s.platform, func() string { return s.cfg.BaseURL })
	rpc.Register(s.platform, methods.TokensCreate, s.createToken)
	rpc.Register(s.instance, methods.GetInstanceStatus, func(ctx context.Context, _ methods.InstanceGetStatusInput) (methods.InstanceGetStatusOutput, error) {
		c, _ := rpc.CallerFrom(ctx)
		st, err := s.instances.Status(ctx, c.OrgID, c.InstanceID)
		if err != nil {
			return methods.InstanceGetStatusOutput{}, err
		}
		r, err := s.instances.Lookup(ctx, c.OrgID, c.InstanceID)
		if err != nil {
			return methods.InstanceGetStatusOutput{}, err
		}
		presets, services, err := s.sessions.Presets(ctx, c.OrgID, c.InstanceID)
		return methods.InstanceGetStatusOutput{GetInstanceStatusOutput: st, Name: r.Name, Presets: presets, Services: services}, err
	})
	rpc.Register(s.platform, methods.TemplatesList, func(ctx context.Context, _ methods.ListTemplatesInput) (methods.ListTemplatesOutput, error) {
		return methods.ListTemplatesOutput{Templates: append([]methods.Template{}, s.templates.All()...)}, nil
	})
}

func (s *Server) createToken(ctx context.Context, in methods.CreateInstanceTokenInput) (methods.CreateInstanceTokenOutput, error) {
	var out methods.CreateInstanceTokenOutput
	org, err := rpc.OrgOf(ctx)
	if err != nil {
		return out, err
	}
	ttl, err := validate.TokenTTL(in.ExpiresIn)
	if err != nil {
		return out, err
	}
	if in.Origin != "" && !isOrigin(in.Origin) {
		return out, rpc.InvalidField("origin", "format", "The origin must be a scheme and host with an optional port, like https://app.example.com, with no path.")
	}
	if in.Meta != nil {
		b, err := json.Marshal(in.Meta)
		if err != nil || len(b) > MaxTokenMetaSize {
			return out, rpc.InvalidField("meta", "size", "The meta must be a JSON object of at most %d bytes.", MaxTokenMetaSize)
		}
	}
	rpc.SetInstance(ctx, in.InstanceID)
	if _, err := s.instances.LookupActive(ctx, org, in.InstanceID); err != nil {
		return out, err
	}
	tok, claims, err := s.signer.Issue(org, in.InstanceID, in.Origin, in.Meta, ttl)
	if err != nil {
		return out, err
	}
	return methods.CreateInstanceTokenOutput{Token: tok, ExpiresAt: claims.ExpiresAt.UTC().Format(time.RFC3339)}, nil
}

// isOrigin reports whether s is a serialized origin: scheme://host[:port].
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" &&
		u.RawQuery == "" && u.Fragment == "" && u.User == nil && u.Scheme+"://"+u.Host == s
}

// Schema is the OpenRPC document of every platform and instance method.
// The registries are fixed once the server is built, so it is made once.
func (s *Server) Schema() map[string]any {
	s.schemaOnce.Do(func() {
		s.schema = rpc.OpenRPC("roost", Version, map[string]*rpc.Registry{
			"/api/v1/rpc":                s.platform,
			"/api/v1/instances/{id}/rpc": s.instance,
		})
	})
	return s.schema
}
