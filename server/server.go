// Package server composes Switchboard's parts into one http.Handler: the
// HTTP API, the WebSocket endpoints, the router between them and the
// embedded console. cmd/switchboard and the end-to-end tests both build
// the server here, so they can never be wired differently.
package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/api"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/clientip"
	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/console"
	"github.com/switchboard-chat/switchboard/mailer"
	"github.com/switchboard-chat/switchboard/mailer/templates"
	"github.com/switchboard-chat/switchboard/metrics"
	"github.com/switchboard-chat/switchboard/router"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/widget"
)

// Config configures a server. Zero values take each part's defaults.
type Config struct {
	Store      store.Store // required, already migrated
	PublicURL  string      // required: where browsers reach the server
	IPs        *clientip.Resolver
	SessionTTL time.Duration
	// Live holds the WebSocket limits; its Store, Router, Authenticate,
	// VisitorTokens, IPs, ConsoleOrigin and Log are filled here.
	Live session.Config
	// OperatorGrace is how long a disconnected operator keeps its chats
	// (0 means the router's default, 30 s).
	OperatorGrace time.Duration
	// Mail sends the outbox's emails; nil logs them instead (the
	// single-node default without --smtp-url).
	Mail mailer.Sender
	// MailFrom is the sender of mail whose department has no from-address;
	// "" means switchboard@localhost.
	MailFrom string
	// MailTuning tunes the mail worker (poll interval, backoff, lease); its
	// Store, Sender and Log are set here. The zero value is the mailer's
	// defaults (tests shorten the backoff).
	MailTuning mailer.Config
	// Metrics is the node's Prometheus metrics; nil makes a fresh set.
	Metrics *metrics.Set
	// NoMetricsRoute leaves GET /metrics off the handler (cmd serves it on
	// --metrics-addr instead).
	NoMetricsRoute bool
	// Cluster is this node's view of the shared live state (cluster mode:
	// several nodes on one PostgreSQL and one Redis); nil runs a single
	// node with all live state in this process.
	Cluster cluster.Node

	Log *slog.Logger
}

// Server is a running Switchboard node.
type Server struct {
	http.Handler
	API    *api.Server
	Live   *session.Server
	Router *router.Router
	Mailer *mailer.Worker
	// Metrics is the node's metrics set (cfg.Metrics or a fresh one).
	Metrics *metrics.Set

	stopMail func()        // ends the mail worker's Run
	mailDone chan struct{} // closed when it returned

	// draining is set by BeginDrain: /readyz answers 503 and new
	// WebSocket connections are refused, so a load balancer moves new
	// clients to other nodes while this one still serves its own.
	draining atomic.Bool
}

// New wires the parts and starts the router (which rebuilds its queues
// from the store). Close the server to stop the router's timers.
func New(ctx context.Context, cfg Config) (*Server, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("server: public URL %q is not absolute", cfg.PublicURL)
	}
	consoleOrigin, err := switchboard.CanonicalOrigin(u.Scheme + "://" + u.Host)
	if err != nil {
		return nil, fmt.Errorf("server: public URL: %w", err)
	}
	// The store writes the event mails (transcripts, notices); their links
	// point to this server's console.
	composer, err := templates.New(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg.Store.SetMailComposer(composer)
	// The visitor-token key lives in the store so every node signs alike.
	key, err := cfg.Store.EnsureSetting(ctx, "visitor_token_key", hex.EncodeToString([]byte(switchboard.NewToken())))
	if err != nil {
		return nil, fmt.Errorf("server: visitor token key: %w", err)
	}
	tokens, err := auth.NewVisitorTokens([]byte(key), 0)
	if err != nil {
		return nil, err
	}

	s := &Server{Metrics: newMetrics(cfg)}
	live := cfg.Live
	live.Metrics = s.Metrics
	live.Store = cfg.Store
	live.Authenticate = func(r *http.Request) (switchboard.Operator, string, error) { return s.API.Authenticate(r) }
	live.VisitorTokens = tokens
	live.IPs = cfg.IPs
	live.ConsoleOrigin = consoleOrigin
	live.Log = cfg.Log
	live.Cluster = cfg.Cluster
	if s.Live, err = session.New(live); err != nil {
		return nil, err
	}
	if s.Router, err = router.New(router.Config{Store: cfg.Store, Notifier: s.Live, Log: cfg.Log, Grace: cfg.OperatorGrace, Metrics: s.Metrics, Cluster: routerCluster(cfg.Cluster)}); err != nil {
		return nil, err
	}
	s.Live.Attach(s.Router)
	if err := s.Router.Start(ctx); err != nil {
		return nil, fmt.Errorf("server: start router: %w", err)
	}
	s.API, err = api.New(api.Config{Store: cfg.Store, Presence: s.Router, Visitors: s.Live, Monitored: s.Live.Monitored, Reopened: s.reopened, PublicURL: cfg.PublicURL, IPs: cfg.IPs, SessionTTL: cfg.SessionTTL, Log: cfg.Log,
		MailQueued: func() { s.Mailer.Wake() }, Ready: s.ready(cfg)})
	if err != nil {
		s.Router.Close()
		return nil, err
	}
	if err := s.startMailer(cfg); err != nil {
		s.Router.Close()
		return nil, err
	}
	s.serveMetrics(cfg)
	s.API.Handle("GET /ws/visitor", s.refuseWhileDraining(s.Live.Visitor()))
	s.API.Handle("GET /ws/operator", s.refuseWhileDraining(s.Live.Operator()))
	wh, err := widget.New(widget.Config{Store: cfg.Store, PublicURL: cfg.PublicURL, Log: cfg.Log})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.API.Handle("GET /widget/{file}", wh) // the loader: /widget/{widget_key}.js
	s.API.Handle("GET /demo", wh)
	consoleHandler := console.Handler()
	s.API.Handle("GET /{$}", consoleHandler)
	s.API.Handle("GET /console", consoleHandler)
	s.API.Handle("GET /console/", consoleHandler) // the page and /console/assets/
	s.Handler = s.API
	return s, nil
}

// routerCluster keeps a nil cluster.Node a nil router.Cluster (an
// interface holding a nil pointer would not be).
func routerCluster(n cluster.Node) router.Cluster {
	if n == nil {
		return nil
	}
	return n
}

// ready is /readyz's check: the node is not draining, the store answers,
// and in cluster mode Redis too (an outage is reported with its reason and
// clears by itself when Redis answers again).
func (s *Server) ready(cfg Config) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if s.draining.Load() {
			return errors.New("draining: this node is shutting down")
		}
		if err := cfg.Store.Ping(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if cfg.Cluster != nil {
			if err := cfg.Cluster.Ping(ctx); err != nil {
				return fmt.Errorf("cluster (redis): %w", err)
			}
		}
		return nil
	}
}

// BeginDrain is the first step of a graceful stop: /readyz turns 503 and
// new WebSocket connections are refused with 503 (clients retry, on
// another node behind a load balancer); the connections already open are
// served until Drain.
func (s *Server) BeginDrain() { s.draining.Store(true) }

func (s *Server) refuseWhileDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"this node is shutting down; connect again"}}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Drain tells every WebSocket client to reconnect elsewhere (1001) and
// waits until their connections ended or ctx is done. Call it after
// http.Server.Shutdown, which does not wait for hijacked connections.
func (s *Server) Drain(ctx context.Context) error {
	s.Live.CloseAll()
	done := make(chan struct{})
	go func() { s.Live.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("server: connections still open: %w", ctx.Err())
	}
}

// startMailer runs the outbox worker until Close.
func (s *Server) startMailer(cfg Config) error {
	sender := cfg.Mail
	if sender == nil {
		sender = mailer.NewLogSender(cfg.Log)
	}
	from := cfg.MailFrom
	if from == "" {
		from = "switchboard@localhost"
	}
	mc := cfg.MailTuning
	mc.Store, mc.Sender, mc.Log = cfg.Store, mailer.WithDefaultFrom(sender, from), cfg.Log
	mc.Metrics = s.Metrics
	w, err := mailer.New(mc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Mailer, s.stopMail, s.mailDone = w, cancel, make(chan struct{})
	go func() {
		defer close(s.mailDone)
		w.Run(ctx)
	}()
	return nil
}

// Close stops the mail worker (after the mail it is sending) and the
// router's timers.
func (s *Server) Close() {
	s.stopMail()
	<-s.mailDone
	s.Router.Close()
}

// reopened tells the live session layer (and through it the router) about
// a chat that the API reopened.
func (s *Server) reopened(ctx context.Context, ch switchboard.Chat, by switchboard.Operator) error {
	return s.Live.Reopened(ctx, ch, by.Name)
}
