package instance

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

// TokenIssuer signs instance tokens.
type TokenIssuer interface {
	IssueInstance(orgID, instanceID, origin string, meta map[string]any, ttl time.Duration) (token string, expiresAt time.Time, err error)
}

// CreateToken issues an instance token for an active instance of the org.
func (s *Service) CreateToken(ctx context.Context, orgID string, in methods.CreateInstanceTokenInput) (methods.CreateInstanceTokenOutput, error) {
	var out methods.CreateInstanceTokenOutput
	ttl, err := validate.TokenTTL(in.ExpiresIn)
	if err != nil {
		return out, err
	}
	if in.Origin != "" && !IsOrigin(in.Origin) {
		return out, rpc.InvalidField("origin", "format", "The origin must be a scheme and host with an optional port, like https://app.example.com, with no path.")
	}
	if in.Meta != nil {
		b, err := json.Marshal(in.Meta)
		if err != nil || len(b) > MaxTokenMetaSize {
			return out, rpc.InvalidField("meta", "size", "The meta must be a JSON object of at most %d bytes.", MaxTokenMetaSize)
		}
	}
	rpc.SetInstance(ctx, in.InstanceID)
	if _, err := s.LookupActive(ctx, orgID, in.InstanceID); err != nil {
		return out, err
	}
	tok, exp, err := s.tokens.IssueInstance(orgID, in.InstanceID, in.Origin, in.Meta, ttl)
	if err != nil {
		return out, err
	}
	return methods.CreateInstanceTokenOutput{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339)}, nil
}

// IsOrigin reports whether s is a serialized origin: scheme://host[:port].
func IsOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" &&
		u.RawQuery == "" && u.Fragment == "" && u.User == nil && u.Scheme+"://"+u.Host == s
}
