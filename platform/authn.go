package platform

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

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

// authenticateInstance checks the instance token of a request to an
// instance endpoint: from the Bearer header, else (when allowCookie) the
// instance cookie. It returns the caller for the instance in the path.
func (s *Server) authenticateInstance(c echo.Context, allowCookie bool) (rpc.Caller, *auth.Claims, error) {
	req := c.Request()
	token, present := bearer(req)
	if !present && allowCookie {
		if ck, err := req.Cookie(cookieName); err == nil {
			token, present = ck.Value, true
		}
	}
	if !present {
		return rpc.Caller{}, nil, auth.ErrNoToken
	}
	if auth.LooksLikeKey(token) {
		return rpc.Caller{}, nil, auth.ErrKeyOnInstance
	}
	claims, err := s.signer.Verify(token)
	if err != nil {
		return rpc.Caller{}, nil, err
	}
	if claims.InstanceID() != c.Param("id") {
		return rpc.Caller{}, nil, errTokenNotForInstance
	}
	if claims.Origin != "" {
		if o := req.Header.Get("Origin"); o != "" && o != claims.Origin {
			return rpc.Caller{}, nil, auth.ErrWrongOrigin
		}
	}
	if _, err := s.instances.LookupActive(req.Context(), claims.OrgID, claims.InstanceID()); err != nil {
		return rpc.Caller{}, nil, errTokenInstanceGone.Wrap(err)
	}
	return rpc.Caller{Kind: "token", ID: claims.ID, OrgID: claims.OrgID, InstanceID: claims.InstanceID(), Origin: claims.Origin}, claims, nil
}

func (s *Server) handleInstanceRPC(c echo.Context) error {
	s.cors(c)
	caller, _, err := s.authenticateInstance(c, true)
	if err != nil {
		s.instance.Refuse(c.Response(), c.Request(), err)
		return nil
	}
	req := c.Request()
	s.instance.ServeHTTP(c.Response(), req.WithContext(rpc.WithCaller(req.Context(), caller)))
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

// cors lets browser apps on any origin call the instance endpoints: the
// token, not the origin, is the credential, and a token bound to an origin is
// checked against it.
func (s *Server) cors(c echo.Context) {
	origin := c.Request().Header.Get("Origin")
	if origin == "" {
		return
	}
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", "X-Request-Id")
}

func (s *Server) handlePreflight(c echo.Context) error {
	s.cors(c)
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
	h.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}
