package platform

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

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
	s.instances.RegisterInstance(s.instance)
	rpc.Register(s.platform, methods.TemplatesList, func(ctx context.Context, _ methods.ListTemplatesInput) (methods.ListTemplatesOutput, error) {
		return methods.ListTemplatesOutput{Templates: append([]methods.Template{}, s.templates.All()...)}, nil
	})
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
