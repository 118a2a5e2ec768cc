// Package api serves Switchboard's HTTP API under /api (see docs/openapi.yaml):
// login and sessions, departments, operators and the public widget lookup,
// plus /healthz and /readyz.
package api

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/clientip"
	"github.com/switchboard-chat/switchboard/mailer/templates"
	"github.com/switchboard-chat/switchboard/store"
)

// Presence tells the API who is online; the router implements it. A nil
// Presence reports everyone offline.
type Presence interface {
	// OperatorStatus returns an operator's live status and open chat count.
	OperatorStatus(operatorID string) (switchboard.Status, int)
	// DepartmentOnline reports whether an operator of the department can
	// take a chat now.
	DepartmentOnline(departmentID string) bool
	// OperatorUpdated tells the router an operator's record changed
	// (max_chats, enabled), so the change applies at once.
	OperatorUpdated(ctx context.Context, operatorID string) error
}

// Config configures the API. Zero values take the documented defaults.
type Config struct {
	Store store.Store // required
	// Presence answers live status questions; nil means nobody is online.
	Presence Presence
	// Visitors lists the visitors on the site now (GET /api/visitors); nil
	// lists none.
	Visitors Visitors
	// Monitored returns the ids of the chats a supervisor or admin is
	// watching now (GET /api/chats?category=monitored); nil means none.
	Monitored func() []string
	// Reopened is called after POST /api/chats/{id}/reopen reopened a
	// chat in the store (queued, or ongoing with the caller), with the
	// caller: the server wires it to the live session layer, which tells
	// the chat's participants and routes it. nil routes nothing.
	Reopened func(ctx context.Context, chat switchboard.Chat, by switchboard.Operator) error
	// PublicURL is where browsers reach the server; embed snippets point to
	// it and cookie-authenticated writes must come from its origin. Required.
	PublicURL string
	// IPs resolves client addresses; nil trusts no proxy.
	IPs *clientip.Resolver
	// SessionTTL is how long a login lasts; 0 means 7 days.
	SessionTTL time.Duration
	// Ready reports whether the server is ready (store and presence
	// reachable, not draining); nil pings the store.
	Ready func(ctx context.Context) error
	// Log receives request errors; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MailQueued is called after the API queued mail that is due now (an
	// email to a visitor, a retried mail); the server wires it to the mail
	// worker's Wake. nil does nothing: the worker polls anyway.
	MailQueued func()
}

// Server is the HTTP API. Create it with New.
type Server struct {
	store      store.Store
	presence   Presence
	visitors   Visitors
	monitored  func() []string
	reopened   func(ctx context.Context, chat switchboard.Chat, by switchboard.Operator) error
	publicURL  *url.URL
	origin     string // scheme://host[:port] of publicURL
	ips        *clientip.Resolver
	sessionTTL time.Duration
	ready      func(ctx context.Context) error
	log        *slog.Logger
	now        func() time.Time
	mailQueued func()
	mail       *templates.Composer // emails to visitors

	loginByIP    *auth.Limiter
	loginByEmail *auth.Limiter
	mux          *http.ServeMux
}

// New returns the API server, or an error for an invalid Config.
func New(cfg Config) (*Server, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" {
		return nil, switchboard.Invalid("public_url", "%q is not an absolute URL", cfg.PublicURL)
	}
	origin, err := switchboard.CanonicalOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return nil, switchboard.Invalid("public_url", "%v", err)
	}
	s := &Server{
		store:      cfg.Store,
		presence:   cfg.Presence,
		visitors:   cfg.Visitors,
		monitored:  cfg.Monitored,
		reopened:   cfg.Reopened,
		publicURL:  u,
		origin:     origin,
		ips:        cmp.Or(cfg.IPs, &clientip.Resolver{}),
		sessionTTL: cmp.Or(cfg.SessionTTL, 7*24*time.Hour),
		ready:      cfg.Ready,
		log:        cmp.Or(cfg.Log, slog.New(slog.DiscardHandler)).With("component", "api"),
		now:        cfg.Now,
		mailQueued: cfg.MailQueued,
		mail:       &templates.Composer{}, // emails to visitors carry no console links
		// Ten tries per IP at once, then one every 6 s; five per email
		// address, then one every 30 s: slow enough to stop guessing, quick
		// enough for someone who mistyped.
		loginByIP:    auth.NewLimiter(6*time.Second, 10),
		loginByEmail: auth.NewLimiter(30*time.Second, 5),
		mux:          http.NewServeMux(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ready == nil {
		s.ready = s.store.Ping
	}
	s.routes()
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Handle adds another handler (the WebSocket endpoints, the console) to the
// server's mux, so one handler serves everything.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.handleReady)

	m.HandleFunc("POST /api/login", s.handleLogin)
	m.Handle("POST /api/logout", s.authed(switchboard.RoleOperator, s.handleLogout))
	m.Handle("GET /api/me", s.authed(switchboard.RoleOperator, s.handleMe))
	m.Handle("PATCH /api/me", s.authed(switchboard.RoleOperator, s.handlePatchMe))
	m.Handle("POST /api/ws-ticket", s.authed(switchboard.RoleOperator, s.handleTicket))

	m.Handle("GET /api/departments", s.authed(switchboard.RoleOperator, s.handleListDepartments))
	m.Handle("POST /api/departments", s.authed(switchboard.RoleAdmin, s.handleCreateDepartment))
	m.Handle("GET /api/departments/{id}", s.authed(switchboard.RoleOperator, s.handleGetDepartment))
	m.Handle("PATCH /api/departments/{id}", s.authed(switchboard.RoleAdmin, s.handlePatchDepartment))
	m.Handle("DELETE /api/departments/{id}", s.authed(switchboard.RoleAdmin, s.handleDeleteDepartment))
	m.Handle("PUT /api/departments/{id}/operators/{operator_id}", s.authed(switchboard.RoleAdmin, s.handleAddDepartmentOperator))
	m.Handle("DELETE /api/departments/{id}/operators/{operator_id}", s.authed(switchboard.RoleAdmin, s.handleRemoveDepartmentOperator))
	m.Handle("GET /api/departments/{id}/embed", s.authed(switchboard.RoleOperator, s.handleEmbed))

	m.Handle("GET /api/operators", s.authed(switchboard.RoleOperator, s.handleListOperators))
	m.Handle("POST /api/operators", s.authed(switchboard.RoleAdmin, s.handleCreateOperator))
	m.Handle("GET /api/operators/{id}", s.authed(switchboard.RoleOperator, s.handleGetOperator))
	m.Handle("PATCH /api/operators/{id}", s.authed(switchboard.RoleAdmin, s.handlePatchOperator))
	m.Handle("DELETE /api/operators/{id}", s.authed(switchboard.RoleAdmin, s.handleDeleteOperator))

	m.Handle("GET /api/audit", s.authed(switchboard.RoleAdmin, s.handleAudit))

	m.Handle("GET /api/chats", s.authed(switchboard.RoleOperator, s.handleListChats))
	m.Handle("GET /api/chats/{id}", s.authed(switchboard.RoleOperator, s.handleGetChat))
	m.Handle("DELETE /api/chats/{id}", s.authed(switchboard.RoleAdmin, s.handleDeleteChat))
	m.Handle("POST /api/chats/{id}/notes", s.authed(switchboard.RoleOperator, s.handleAddNote))
	m.Handle("POST /api/chats/{id}/reopen", s.authed(switchboard.RoleOperator, s.handleReopenChat))
	m.Handle("GET /api/chats/{id}/transcript", s.authed(switchboard.RoleOperator, s.handleTranscript))
	m.Handle("POST /api/chats/{id}/email", s.authed(switchboard.RoleOperator, s.handleChatEmail))
	m.Handle("GET /api/outbox", s.authed(switchboard.RoleAdmin, s.handleListOutbox))
	m.Handle("POST /api/outbox/{id}/retry", s.authed(switchboard.RoleAdmin, s.handleRetryMail))

	m.Handle("GET /api/visitors", s.authed(switchboard.RoleOperator, s.handleListVisitors))
	m.Handle("GET /api/blocked-ips", s.authed(switchboard.RoleSupervisor, s.handleListBlocks))
	m.Handle("POST /api/blocked-ips", s.authed(switchboard.RoleSupervisor, s.handleCreateBlock))
	m.Handle("DELETE /api/blocked-ips/{id}", s.authed(switchboard.RoleSupervisor, s.handleDeleteBlock))

	m.HandleFunc("GET /api/public/widgets/{key}", s.handlePublicWidget)

	// Anything else under /api is a JSON 404, not the mux's text one.
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errorf(http.StatusNotFound, "not_found", "", "no such endpoint"))
	})
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
