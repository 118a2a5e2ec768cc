package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
)

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "switchboard_session"

// caller is the authenticated operator of a request.
type caller struct {
	switchboard.Operator
	tokenHash string
	viaCookie bool
}

type callerKey struct{}

// Caller returns the operator a request was authenticated as, if any.
func Caller(ctx context.Context) (switchboard.Operator, bool) {
	c, ok := ctx.Value(callerKey{}).(*caller)
	if !ok {
		return switchboard.Operator{}, false
	}
	return c.Operator, true
}

type authedHandler func(w http.ResponseWriter, r *http.Request, c *caller)

// authed wraps h: the request must carry a live session (cookie or bearer
// token) of an operator whose role is at least min; cookie-authenticated
// writes must also come from our own origin (CSRF).
func (s *Server) authed(min switchboard.Role, h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if c.viaCookie && !safeMethod(r.Method) && !s.sameOrigin(r) {
			s.fail(w, r, errorf(http.StatusForbidden, "forbidden", "", "cross-origin request refused: the Origin header must match the console's origin"))
			return
		}
		if !c.Role.AtLeast(min) {
			s.fail(w, r, switchboard.ErrForbidden)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)), c)
	})
}

// Authenticate finds the operator and session (token hash) of a request:
// bearer token first, then the cookie. Without a live session the error
// matches switchboard.ErrUnauthorized. The WebSocket endpoint uses it too.
func (s *Server) Authenticate(r *http.Request) (switchboard.Operator, string, error) {
	c, err := s.authenticate(r)
	if err != nil {
		return switchboard.Operator{}, "", err
	}
	return c.Operator, c.tokenHash, nil
}

func (s *Server) authenticate(r *http.Request) (*caller, error) {
	token, viaCookie := "", false
	if h := r.Header.Get("Authorization"); h != "" {
		t, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(t) == "" {
			return nil, unauthorized("the Authorization header must be 'Bearer <token>'")
		}
		token = strings.TrimSpace(t)
	} else if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		token, viaCookie = ck.Value, true
	}
	if token == "" {
		return nil, switchboard.ErrUnauthorized
	}
	hash := auth.HashToken(token)
	_, op, err := s.store.SessionOperator(r.Context(), hash, s.now())
	if errors.Is(err, switchboard.ErrNotFound) {
		return nil, unauthorized("the session has expired or was ended; log in again")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return &caller{Operator: op, tokenHash: hash, viaCookie: viaCookie}, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether the request's Origin is the public URL's
// origin or the origin the request was addressed to.
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	canon, err := switchboard.CanonicalOrigin(o)
	if err != nil {
		return false
	}
	if canon == s.origin {
		return true
	}
	_, host, _ := strings.Cut(canon, "://")
	return strings.EqualFold(host, r.Host)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" && !s.sameOrigin(r) {
		s.fail(w, r, errorf(http.StatusForbidden, "forbidden", "", "cross-origin login refused"))
		return
	}
	var req loginRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if email == "" {
		s.fail(w, r, switchboard.Invalid("email", "is required"))
		return
	}
	if req.Password == "" {
		s.fail(w, r, switchboard.Invalid("password", "is required"))
		return
	}
	now := s.now()
	ip := s.ips.IP(r).String()
	for _, l := range []struct {
		lim *auth.Limiter
		key string
	}{{s.loginByIP, ip}, {s.loginByEmail, email}} {
		if ok, wait := l.lim.Allow(l.key, now); !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			s.fail(w, r, errorf(http.StatusTooManyRequests, "rate_limited", "", fmt.Sprintf("too many login attempts; try again in %d s", secs)))
			return
		}
	}
	op, err := s.store.OperatorByEmail(r.Context(), email)
	switch {
	case errors.Is(err, switchboard.ErrNotFound):
		auth.BurnPasswordCheck(req.Password)
		s.fail(w, r, errorf(http.StatusUnauthorized, "unauthorized", "", "wrong email or password"))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	if err := auth.CheckPassword(op.PasswordHash, req.Password); err != nil || !op.Enabled {
		msg := "wrong email or password"
		if err == nil {
			msg = "this account is disabled"
		}
		s.fail(w, r, errorf(http.StatusUnauthorized, "unauthorized", "", msg))
		return
	}
	token := switchboard.NewToken()
	sess := switchboard.Session{
		TokenHash:  auth.HashToken(token),
		OperatorID: op.ID,
		CreatedAt:  now.UTC().Truncate(time.Millisecond),
		ExpiresAt:  now.Add(s.sessionTTL).UTC().Truncate(time.Millisecond),
	}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  sess.ExpiresAt,
		HttpOnly: true,
		Secure:   s.publicURL.Scheme == "https",
		SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusOK, map[string]any{
		"token":      token,
		"expires_at": sess.ExpiresAt.Format(switchboard.TimeFormat),
		"operator":   s.operatorView(op),
	})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.store.DeleteSession(r.Context(), c.tokenHash); err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.publicURL.Scheme == "https", SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, c *caller) {
	writeJSON(w, http.StatusOK, s.operatorView(c.Operator))
}

// unauthorized is a 401 that still matches switchboard.ErrUnauthorized.
func unauthorized(msg string) error {
	return fmt.Errorf("%w: %w", switchboard.ErrUnauthorized, errorf(http.StatusUnauthorized, "unauthorized", "", msg))
}

// TicketTTL is how long a one-time WebSocket ticket stays valid.
const TicketTTL = 30 * time.Second

// handleTicket issues a one-time ticket for the operator WebSocket, which
// browsers cannot authenticate with headers. The ticket is stored (hashed)
// so every node accepts it, and is tied to the caller's session.
func (s *Server) handleTicket(w http.ResponseWriter, r *http.Request, c *caller) {
	ticket := switchboard.NewToken()
	exp := s.now().Add(TicketTTL).UTC().Truncate(time.Millisecond)
	if err := s.store.CreateTicket(r.Context(), auth.HashToken(ticket), c.ID, c.tokenHash, exp); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"ticket": ticket, "expires_at": exp.Format(switchboard.TimeFormat)})
}
