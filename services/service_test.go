package services

import (
	"errors"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

func TestResolveService(t *testing.T) {
	m := &methods.BundleManifest{Services: []methods.BundleService{
		{ServiceType: "web", Port: 3000, Public: true},
		{ServiceType: "api", Port: 8080},
	}}
	tests := []struct {
		name        string
		m           *methods.BundleManifest
		serviceType string
		port        int
		public      bool
		reason      string
	}{
		{"declared public", m, "web", 3000, true, ""},
		{"declared private", m, "api", 8080, false, ""},
		{"raw port", m, "port:5173", 5173, false, ""},
		{"raw port without a bundle", nil, "port:1", 1, false, ""},
		{"highest port", m, "port:65535", 65535, false, ""},
		{"port zero", m, "port:0", 0, false, "format"},
		{"port too high", m, "port:65536", 0, false, "format"},
		{"port not a number", m, "port:web", 0, false, "format"},
		{"undeclared", m, "db", 0, false, "enum"},
		{"undeclared without a bundle", nil, "web", 0, false, "enum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, public, err := resolveService(tt.m, tt.serviceType)
			if tt.reason == "" {
				if err != nil || port != tt.port || public != tt.public {
					t.Fatalf("resolveService(%q) = %d, %v, %v; want %d, %v, nil", tt.serviceType, port, public, err, tt.port, tt.public)
				}
				return
			}
			var re *rpc.Error
			if !errors.As(err, &re) || re.Type != methods.InvalidInput {
				t.Fatalf("resolveService(%q) error = %v, want invalid input", tt.serviceType, err)
			}
			fe, ok := re.Details.(rpc.FieldError)
			if !ok || fe.Field != "serviceType" || fe.Reason != tt.reason {
				t.Fatalf("resolveService(%q) details = %#v, want serviceType/%s", tt.serviceType, re.Details, tt.reason)
			}
		})
	}
}

func TestURL(t *testing.T) {
	base := func() string { return "http://127.0.0.1:8080" }
	tests := []struct {
		name, domain, want string
	}{
		{"under /s/", "", "http://127.0.0.1:8080/s/abc/"},
		{"service domain", "svc.example.com", "https://abc.svc.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewService(Options{BaseURL: base, ServiceDomain: tt.domain})
			if got := s.URL("abc"); got != tt.want {
				t.Errorf("URL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewCode(t *testing.T) {
	a, b := newCode(), newCode()
	if len(a) != 26 || a == b {
		t.Fatalf("newCode gave %q and %q, want two different 26-character codes", a, b)
	}
}
