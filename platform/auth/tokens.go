package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

const (
	tokenIssuer     = "roost"
	tokenAudience   = "instance"
	sessionAudience = "session"
)

// Errors of instance-token authentication.
var (
	ErrNoToken = &rpc.Error{Type: methods.Unauthorized,
		Message: "This endpoint needs an instance token: send it as Authorization: Bearer <token>, or open the session cookie first."}
	ErrKeyOnInstance = &rpc.Error{Type: methods.Unauthorized,
		Message: "API keys cannot call the instance RPC. Create an instance token with tokens.create and send that."}
	ErrBadToken = &rpc.Error{Type: methods.Unauthorized,
		Message: "The instance token is not valid. Ask your backend for a new one (tokens.create)."}
	ErrExpiredToken = &rpc.Error{Type: methods.Unauthorized,
		Message: "The instance token has expired. Ask your backend for a new one (tokens.create)."}
	ErrWrongOrigin = &rpc.Error{Type: methods.Unauthorized,
		Message: "The instance token was issued for another origin than this page's. Ask for a token issued for this origin."}
)

// Claims are what an instance token carries.
type Claims struct {
	jwt.RegisteredClaims
	OrgID  string         `json:"org"`
	Origin string         `json:"origin,omitempty"`
	Meta   map[string]any `json:"meta,omitempty"`
	// SessionID is set in session tokens (wsToken): they open that one
	// session's websocket and nothing else.
	SessionID string `json:"sid,omitempty"`
}

// InstanceID is the instance the token opens.
func (c *Claims) InstanceID() string { return c.Subject }

// Signer issues and verifies instance tokens with an HMAC key kept in the
// data dir.
type Signer struct {
	key     []byte
	parser  *jwt.Parser
	session *jwt.Parser

	// verified remembers the tokens whose signature was checked, by a hash
	// of the token, until they expire: a token cannot be revoked, so one
	// found good stays good, and a busy service proxy or RPC client need
	// not pay for the signature on every request.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]Claims
}

// maxVerified bounds the remembered tokens; past it they are forgotten.
const maxVerified = 10000

// LoadSigner reads the signing key at path, generating it (mode 0600) on
// first use.
func LoadSigner(path string) (*Signer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, key, 0o600); err != nil {
			return nil, err
		}
		// A concurrent first start may have won: keep whichever key landed first.
		if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
			os.Remove(tmp)
			return nil, err
		}
		os.Remove(tmp)
		key, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("token key %s: %w", path, err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("token key %s is shorter than 32 bytes", path)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	parser := func(aud string) *jwt.Parser {
		return jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(tokenIssuer),
			jwt.WithAudience(aud),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		)
	}
	return &Signer{key: key, parser: parser(tokenAudience), session: parser(sessionAudience)}, nil
}

// Issue signs a token for the instance of the org.
func (s *Signer) Issue(orgID, instanceID, origin string, meta map[string]any, ttl time.Duration) (string, Claims, error) {
	return s.issue(tokenAudience, orgID, instanceID, "", origin, meta, ttl)
}

// IssueInstance signs an instance token and says when it expires.
func (s *Signer) IssueInstance(orgID, instanceID, origin string, meta map[string]any, ttl time.Duration) (string, time.Time, error) {
	tok, c, err := s.Issue(orgID, instanceID, origin, meta, ttl)
	return tok, c.ExpiresAt.Time, err
}

// IssueSession signs a session token (wsToken): it opens the websocket of
// one session of the instance.
func (s *Signer) IssueSession(orgID, instanceID, sessionID, origin string, ttl time.Duration) (string, time.Time, error) {
	tok, c, err := s.issue(sessionAudience, orgID, instanceID, sessionID, origin, nil, ttl)
	return tok, c.ExpiresAt.Time, err
}

func (s *Signer) issue(aud, orgID, instanceID, sessionID, origin string, meta map[string]any, ttl time.Duration) (string, Claims, error) {
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        storage.NewID("tok"),
			Issuer:    tokenIssuer,
			Subject:   instanceID,
			Audience:  jwt.ClaimStrings{aud},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		OrgID: orgID, Origin: origin, Meta: meta, SessionID: sessionID,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.key)
	return tok, c, err
}

// Verify checks an instance token's signature, issuer, audience and expiry.
func (s *Signer) Verify(token string) (*Claims, error) {
	return s.verify(s.parser, token)
}

// VerifySession checks a session token (wsToken).
func (s *Signer) VerifySession(token string) (*Claims, error) {
	c, err := s.verify(s.session, token)
	if err == nil && c.SessionID == "" {
		return nil, ErrBadToken
	}
	return c, err
}

func (s *Signer) verify(p *jwt.Parser, token string) (*Claims, error) {
	kind := byte('i')
	if p == s.session {
		kind = 's'
	}
	h := sha256.New()
	h.Write([]byte{kind})
	h.Write([]byte(token))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	s.mu.Lock()
	c, ok := s.verified[key]
	s.mu.Unlock()
	if ok && c.ExpiresAt != nil && time.Now().Before(c.ExpiresAt.Time) {
		return &c, nil
	}
	got, err := s.verifySignature(p, token)
	if err != nil {
		return nil, err
	}
	if got.ExpiresAt != nil {
		s.mu.Lock()
		if s.verified == nil || len(s.verified) >= maxVerified {
			s.verified = map[[sha256.Size]byte]Claims{}
		}
		s.verified[key] = *got
		s.mu.Unlock()
	}
	return got, nil
}

func (s *Signer) verifySignature(p *jwt.Parser, token string) (*Claims, error) {
	var c Claims
	_, err := p.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.key, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpiredToken
	case err != nil:
		return nil, ErrBadToken.Wrap(err)
	case c.Subject == "" || c.OrgID == "" || c.ID == "":
		return nil, ErrBadToken
	}
	return &c, nil
}
