package platform

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform/auth"
	"github.com/roosthq/roost/rpc"
)

// cookieName is the instance cookie; its path scopes it to one instance.
const cookieName = "roost_instance"

var (
	errTokenOnPlatform = &rpc.Error{Type: methods.Unauthorized,
		Message: "Instance tokens cannot call the platform RPC; it needs an API key (Authorization: Bearer rk_...)."}
	errTokenNotForInstance = &rpc.Error{Type: methods.NotFound,
		Message: "No instance with this id is open to this token. Use the token issued for this instance."}
	errCookieCrossSite = &rpc.Error{Type: methods.Unauthorized,
		Message: "The instance cookie is accepted only on requests from the platform's own pages (or an origin of --allowed-origins). From another page, send the instance token as Authorization: Bearer."}
	errTokenInstanceGone = &rpc.Error{Type: methods.Unauthorized,
		Message: "The instance token no longer opens this instance: it was archived or removed."}
)

// bearer returns the credential of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true // present but not a bearer credential: malformed
	}
	return strings.TrimSpace(cred), true
}

// authenticateKey returns the caller of an API-key request.
func (s *Server) authenticateKey(r *http.Request) (rpc.Caller, error) {
	secret, present := bearer(r)
	if !present {
		return rpc.Caller{}, auth.ErrNoCredential
	}
	if !auth.LooksLikeKey(secret) {
		if strings.Count(secret, ".") == 2 {
			return rpc.Caller{}, errTokenOnPlatform
		}
		return rpc.Caller{}, auth.ErrMalformedKey
	}
	key, err := s.keys.Authenticate(r.Context(), secret)
	if err != nil {
		return rpc.Caller{}, err
	}
	return rpc.Caller{Kind: "key", ID: key.ID, OrgID: key.OrgID, Admin: key.Admin || key.Operator, Operator: key.Operator}, nil
}

func (s *Server) handlePlatformRPC(c echo.Context) error {
	req := c.Request()
	caller, err := s.authenticateKey(req)
	if err != nil {
		s.platform.Refuse(c.Response(), req, err)
		return nil
	}
	s.platform.ServeHTTP(c.Response(), req.WithContext(rpc.WithCaller(req.Context(), caller)))
	return nil
}

// tokenWant is what an endpoint requires of an instance token.
type tokenWant struct {
	// instanceID is the instance the request's path names.
	instanceID string
	// sessionID, for a session's wsToken, is the session the path names;
	// empty for an instance token.
	sessionID string
	// origin is the request's Origin header, if any.
	origin string
}

// verifyInstanceToken is the one check of an instance token (or a session's
// wsToken): its signature, audience and expiry; that it opens the instance
// (and session) the request names; that a token bound to an origin comes
// from it; and that the instance still takes work. It returns the claims
// and the instance, read once for the whole call.
func (s *Server) verifyInstanceToken(ctx context.Context, token string, want tokenWant) (*auth.Claims, instance.Row, error) {
	claims, err := s.verifyInstanceClaims(token, want)
	if err != nil {
		return nil, instance.Row{}, err
	}
	row, err := s.instances.LookupActive(ctx, claims.OrgID, claims.InstanceID())
	if err != nil {
		return nil, instance.Row{}, errTokenInstanceGone.Wrap(err)
	}
	return claims, row, nil
}

// verifyInstanceClaims is verifyInstanceToken without the instance's row:
// for a caller that has just found the instance active itself.
func (s *Server) verifyInstanceClaims(token string, want tokenWant) (*auth.Claims, error) {
	verify := s.signer.Verify
	if want.sessionID != "" {
		verify = s.signer.VerifySession
	}
	claims, err := verify(token)
	if err != nil {
		return nil, err
	}
	if claims.InstanceID() != want.instanceID {
		return nil, errTokenNotForInstance
	}
	if claims.SessionID != want.sessionID {
		return nil, errWrongSess
	}
	if claims.Origin != "" && want.origin != "" && want.origin != claims.Origin {
		return nil, auth.ErrWrongOrigin
	}
	return claims, nil
}

// authenticateInstance checks the instance token of a request to an
// instance endpoint: from the Bearer header, else (when allowCookie) the
// instance cookie. It returns the caller for the instance in the path, and
// the request's context carrying the caller and the instance.
func (s *Server) authenticateInstance(c echo.Context, allowCookie bool) (context.Context, *auth.Claims, error) {
	req := c.Request()
	token, present := bearer(req)
	if !present && allowCookie {
		if ck, err := req.Cookie(cookieName); err == nil {
			// A browser sends the cookie with requests of every page of the
			// same site (a service domain under the platform's, say): it
			// counts only on the platform's own requests.
			if !s.sameOrigin(req) {
				return nil, nil, errCookieCrossSite
			}
			token, present = ck.Value, true
		}
	}
	if !present {
		return nil, nil, auth.ErrNoToken
	}
	if auth.LooksLikeKey(token) {
		return nil, nil, auth.ErrKeyOnInstance
	}
	claims, row, err := s.verifyInstanceToken(req.Context(), token, tokenWant{instanceID: c.Param("id"), origin: req.Header.Get("Origin")})
	if err != nil {
		return nil, nil, err
	}
	caller := rpc.Caller{Kind: "token", ID: claims.ID, OrgID: claims.OrgID, InstanceID: claims.InstanceID(), Origin: claims.Origin}
	return instance.WithRow(rpc.WithCaller(req.Context(), caller), row), claims, nil
}

func (s *Server) handleInstanceRPC(c echo.Context) error {
	s.cors(c)
	ctx, _, err := s.authenticateInstance(c, true)
	if err != nil {
		s.instance.Refuse(c.Response(), c.Request(), err)
		return nil
	}
	s.instance.ServeHTTP(c.Response(), c.Request().WithContext(ctx))
	return nil
}

// handleSessionCookie exchanges a Bearer instance token for the instance
// cookie: HttpOnly, SameSite=Strict, scoped to this instance's path, and
// expiring with the token.
func (s *Server) handleSessionCookie(c echo.Context) error {
	s.cors(c)
	_, claims, err := s.authenticateInstance(c, false)
	if err != nil {
		rpc.WriteError(c.Response(), err)
		return nil
	}
	token, _ := bearer(c.Request())
	exp := claims.ExpiresAt.Time
	c.SetCookie(&http.Cookie{
		Name: cookieName, Value: token, Path: instancePath(claims.InstanceID()),
		Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(c.Request()),
	})
	rpc.WriteJSON(c.Response(), http.StatusOK, methods.Reply{OK: true,
		Value: map[string]string{"expiresAt": exp.UTC().Format(time.RFC3339)}})
	return nil
}

func (s *Server) handleClearCookie(c echo.Context) error {
	s.cors(c)
	c.SetCookie(&http.Cookie{Name: cookieName, Value: "", Path: instancePath(c.Param("id")), MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(c.Request())})
	rpc.WriteJSON(c.Response(), http.StatusOK, methods.Reply{OK: true, Value: methods.OKOutput{OK: true}})
	return nil
}

func instancePath(id string) string { return "/api/v1/instances/" + url.PathEscape(id) }

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// cors lets browser apps on any origin call the instance endpoints with
// a token (Authorization: Bearer): the token, not the origin, is the
// credential, and a token bound to an origin is checked against it.
// Credentialed requests (the instance cookie) are allowed only from the
// platform's own origin and the origins of --allowed-origins.
func (s *Server) cors(c echo.Context) {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return
	}
	h := c.Response().Header()
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "X-Request-Id")
	if origin == "null" {
		// An opaque origin (a sandboxed page, a file): no access at all.
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if s.trustedOrigin(c.Request(), origin) {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// ownOrigin is the origin the request reached the platform at.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if isHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// trustedOrigin reports whether origin may send the platform's cookies:
// the platform's own, its base URL's, or one of --allowed-origins.
func (s *Server) trustedOrigin(r *http.Request, origin string) bool {
	origin = strings.ToLower(origin)
	if origin == ownOrigin(r) || origin == s.baseOrigin {
		return true
	}
	return s.allowedOrigins[origin]
}

// sameOrigin reports whether a request that carries the instance cookie
// comes from the platform's own pages: a browser says where a request
// comes from (Sec-Fetch-Site, else Origin); a request without either is
// not a browser's (curl, a backend), which holds the cookie itself.
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return origin == "" || s.trustedOrigin(r, origin)
	case "":
		return origin == "" || s.trustedOrigin(r, origin)
	}
	return origin != "" && origin != "null" && s.allowedOrigins[strings.ToLower(origin)]
}

func (s *Server) handlePreflight(c echo.Context) error {
	s.cors(c)
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
	h.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}
