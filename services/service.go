package services

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/sandbox"
	"github.com/roosthq/roost/storage"
)

// ErrNoService answers a service code that names nothing.
var ErrNoService = &rpc.Error{Type: methods.NotFound, Message: "No service answers at this address."}

// Sessions is what service URLs ask of the sessions service: whether a
// session of the instance exists (its error when it does not).
type Sessions interface {
	Session(ctx context.Context, orgID, instanceID, id string) (status string, err error)
}

// Manifests gives the manifest of a bundle revision of the org.
type Manifests interface {
	Manifest(ctx context.Context, orgID, revisionID string) (*methods.BundleManifest, error)
}

// Options configures a Service.
type Options struct {
	DB        *storage.DB
	Instances *instance.Service
	Sandboxes *sandbox.Service
	Sessions  Sessions
	Bundles   Manifests
	// BaseURL gives the platform's public URL, for service URLs.
	BaseURL func() string
	// ServiceDomain, when set, also gives services https://{code}.DOMAIN/.
	ServiceDomain string
}

// Service hands out and resolves service URLs.
type Service struct {
	o      Options
	routes *storage.Cache[route]
}

// NewService returns a Service.
func NewService(o Options) *Service { return &Service{o: o, routes: storage.NewCache[route](o.DB)} }

// Row is a stored service code.
type Row struct {
	Code        string `db:"code"`
	OrgID       string `db:"org_id"`
	InstanceID  string `db:"instance_id"`
	SessionID   string `db:"session_id"`
	ServiceType string `db:"service_type"`
	Port        int    `db:"port"`
	Public      bool   `db:"public"`
	CreatedAt   int64  `db:"created_at"`
}

const columns = `code, org_id, instance_id, session_id, service_type, port, public, created_at`

var codeEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newCode is an unguessable service code (128 random bits), usable as a
// DNS label.
func newCode() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return codeEncoding.EncodeToString(b[:])
}

func (s *Service) manifest(ctx context.Context, inst instance.Row) (*methods.BundleManifest, error) {
	if inst.BundleRevisionID == "" {
		return nil, nil
	}
	return s.o.Bundles.Manifest(ctx, inst.OrgID, inst.BundleRevisionID)
}

// URL renders a service's address.
func (s *Service) URL(code string) string {
	if s.o.ServiceDomain != "" {
		return "https://" + code + "." + s.o.ServiceDomain + "/"
	}
	return s.o.BaseURL() + "/s/" + code + "/"
}

// resolveService finds a service of the manifest by type, or a raw port as
// "port:N".
func resolveService(m *methods.BundleManifest, serviceType string) (port int, public bool, err error) {
	if p, ok := strings.CutPrefix(serviceType, "port:"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return 0, false, rpc.InvalidField("serviceType", "format", "A port service is written port:N with N from 1 to 65535.")
		}
		return n, false, nil
	}
	var known []string
	if m != nil {
		for _, sv := range m.Services {
			if sv.ServiceType == serviceType {
				return sv.Port, sv.Public, nil
			}
			known = append(known, sv.ServiceType)
		}
	}
	return 0, false, rpc.InvalidField("serviceType", "enum",
		"The bundle declares no service %q. Its services: %s; any port can be reached as port:N.", serviceType, strings.Join(append(known, "port:N"), ", "))
}

// code returns the code of (instance, session, service), making it on
// first use.
func (s *Service) code(ctx context.Context, inst instance.Row, sessionID, serviceType string, port int, public bool) (string, error) {
	var code string
	err := s.o.DB.GetContext(ctx, &code, `SELECT code FROM service_urls WHERE instance_id = ? AND session_id = ? AND service_type = ?`,
		inst.ID, sessionID, serviceType)
	if err == nil {
		return code, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	u := Row{Code: newCode(), OrgID: inst.OrgID, InstanceID: inst.ID, SessionID: sessionID, ServiceType: serviceType,
		Port: port, Public: public, CreatedAt: storage.Now()}
	_, err = s.o.DB.NamedExecContext(ctx, `INSERT INTO service_urls (`+columns+`) VALUES
		(:code, :org_id, :instance_id, :session_id, :service_type, :port, :public, :created_at)`, u)
	if storage.IsUniqueViolation(err) {
		return s.code(ctx, inst, sessionID, serviceType, port, public)
	}
	return u.Code, err
}

// ServiceURL gives the URL of one service for a session; url is null while
// the instance has no live sandbox.
func (s *Service) ServiceURL(ctx context.Context, orgID, instanceID, sessionID, serviceType string) (methods.GetServiceURLOutput, error) {
	rpc.SetInstance(ctx, instanceID)
	inst, err := s.o.Instances.Active(ctx, orgID, instanceID)
	if err != nil {
		return methods.GetServiceURLOutput{}, err
	}
	if _, err := s.o.Sessions.Session(ctx, orgID, instanceID, sessionID); err != nil {
		return methods.GetServiceURLOutput{}, err
	}
	m, err := s.manifest(ctx, inst)
	if err != nil {
		return methods.GetServiceURLOutput{}, err
	}
	port, public, err := resolveService(m, serviceType)
	if err != nil {
		return methods.GetServiceURLOutput{}, err
	}
	if _, err := s.o.Sandboxes.Live(ctx, inst.ID); err != nil {
		return methods.GetServiceURLOutput{URL: nil}, nil
	}
	code, err := s.code(ctx, inst, sessionID, serviceType, port, public)
	if err != nil {
		return methods.GetServiceURLOutput{}, err
	}
	u := s.URL(code)
	return methods.GetServiceURLOutput{URL: &u}, nil
}

// ServiceURLs gives a code for every service the bundle declares.
func (s *Service) ServiceURLs(ctx context.Context, orgID, instanceID, sessionID string) (methods.InstanceGetServiceURLsOutput, error) {
	out := methods.InstanceGetServiceURLsOutput{Services: []methods.InstanceService{}}
	inst, err := s.o.Instances.Active(ctx, orgID, instanceID)
	if err != nil {
		return out, err
	}
	if _, err := s.o.Sessions.Session(ctx, orgID, instanceID, sessionID); err != nil {
		return out, err
	}
	m, err := s.manifest(ctx, inst)
	if err != nil || m == nil {
		return out, err
	}
	for _, sv := range m.Services {
		code, err := s.code(ctx, inst, sessionID, sv.ServiceType, sv.Port, sv.Public)
		if err != nil {
			return out, err
		}
		out.Services = append(out.Services, methods.InstanceService{ServiceType: sv.ServiceType, Code: code, Port: sv.Port})
	}
	return out, nil
}

// InstanceServiceURLs lists the codes handed out for an instance, for
// instances.status.
func (s *Service) InstanceServiceURLs(ctx context.Context, orgID, instanceID string) ([]methods.ServiceURL, error) {
	var rows []Row
	if err := s.o.DB.SelectContext(ctx, &rows, `SELECT `+columns+` FROM service_urls WHERE instance_id = ? AND org_id = ?
		ORDER BY created_at, code`, instanceID, orgID); err != nil {
		return nil, err
	}
	out := make([]methods.ServiceURL, 0, len(rows))
	for _, r := range rows {
		u := methods.ServiceURL{Code: r.Code, Port: r.Port}
		if r.SessionID != "" {
			v := r.SessionID
			u.SessionID = &v
		}
		st := r.ServiceType
		u.ServiceType = &st
		out = append(out, u)
	}
	return out, nil
}

// Lookup finds the service a code names and the sandbox serving it now.
// What it found stays in a cache while neither the instance nor its
// sandboxes change (see storage.Versions), so that a busy service costs no
// SQL per request; a sandbox that is not running is always read afresh.
func (s *Service) Lookup(ctx context.Context, code string) (Row, sandbox.Row, error) {
	var u Row
	if len(code) != 26 {
		return u, sandbox.Row{}, ErrNoService
	}
	if r, ok := s.routes.Get(code); ok && r.sb.State == sandbox.Running {
		s.o.Sandboxes.Touch(ctx, r.sb.ID)
		return r.u, r.sb, nil
	}
	err := s.o.DB.GetContext(ctx, &u, `SELECT `+columns+` FROM service_urls WHERE code = ?`, code)
	if errors.Is(err, sql.ErrNoRows) {
		return u, sandbox.Row{}, ErrNoService
	}
	if err != nil {
		return u, sandbox.Row{}, err
	}
	// Taken before the reads: a change committed while they run moves it.
	version := s.routes.Version(u.InstanceID)
	inst, err := s.o.Instances.Active(ctx, u.OrgID, u.InstanceID)
	if err != nil {
		return u, sandbox.Row{}, ErrNoService
	}
	sb, err := s.o.Sandboxes.Usable(ctx, inst)
	if err != nil {
		return u, sandbox.Row{}, fmt.Errorf("service %s: %w", code, err)
	}
	s.routes.Put(code, u.InstanceID, version, route{u: u, sb: sb})
	return u, sb, nil
}

// route is what a service code led to.
type route struct {
	u  Row
	sb sandbox.Row
}
