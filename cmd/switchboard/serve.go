package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/clientip"
	"github.com/switchboard-chat/switchboard/cluster"
	clusterredis "github.com/switchboard-chat/switchboard/cluster/redis"
	"github.com/switchboard-chat/switchboard/mailer"
	"github.com/switchboard-chat/switchboard/metrics"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

const serveUsage = `Usage: switchboard [serve] [flags]

Starts the Switchboard server. With no flags it listens on 127.0.0.1:8080,
keeps everything in ./data (SQLite) and, on its first start, creates a public
department named after the portal and an admin whose password it prints once.
`

// defaultAdminEmail is the first admin's login when --admin-email is empty.
const defaultAdminEmail = "admin@switchboard.local"

type serveConfig struct {
	storeConfig
	addr            string
	publicURL       string
	redisURL        string
	redisPrefix     string
	nodeID          string
	smtpURL         string
	mailFrom        string
	portalName      string
	adminEmail      string
	adminPassword   string
	trustedProxies  string
	sessionTTL      time.Duration
	shutdownTimeout time.Duration
	drainDelay      time.Duration
	operatorGrace   time.Duration
	metricsAddr     string
	// Protocol limits (see docs/protocol.md).
	maxMessageBytes   int
	wsRate            float64
	wsBurst           int
	ipMaxSockets      int
	ipMaxChatsPerHour int
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c serveConfig
	fs := newFlagSet("serve", serveUsage, stderr)
	c.storeConfig.register(fs)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address (host:port)")
	fs.StringVar(&c.publicURL, "public-url", "", "URL that browsers, embed snippets and emails use to reach the server (default http://<addr>)")
	fs.StringVar(&c.redisURL, "redis-url", "", "cluster mode: Redis URL for presence and fan-out (requires --postgres-url)")
	fs.StringVar(&c.redisPrefix, "redis-prefix", "switchboard:", "prefix of every Redis key and channel")
	fs.StringVar(&c.nodeID, "node-id", "", "cluster mode: this node's id, unique in the cluster (default <hostname>-<random>; a restarted process takes a new one)")
	fs.StringVar(&c.smtpURL, "smtp-url", "", "SMTP server for outgoing mail (smtp://user:pass@host:587[?starttls=require|none], smtps://…:465); empty logs mail instead")
	fs.StringVar(&c.mailFrom, "mail-from", "switchboard@localhost", "sender of mail whose department has no from-address")
	fs.StringVar(&c.portalName, "portal-name", "Switchboard", "name of the portal and of the default department")
	fs.StringVar(&c.adminEmail, "admin-email", "", "first start only: the first admin's email (default "+defaultAdminEmail+")")
	fs.StringVar(&c.adminPassword, "admin-password", "", "first start only: the first admin's password (default: generated and printed once)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For / Forwarded headers are believed")
	fs.DurationVar(&c.sessionTTL, "session-ttl", 7*24*time.Hour, "how long an operator's login lasts")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for in-flight work before exiting")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "on SIGTERM, answer /readyz with 503 and refuse new WebSockets this long before closing (lets a load balancer move new clients to other nodes)")
	fs.DurationVar(&c.operatorGrace, "operator-grace", 30*time.Second, "how long an operator whose connection dropped keeps its status and chats before they are requeued")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve GET /metrics only on this address (e.g. 127.0.0.1:9090) instead of on --addr")
	fs.IntVar(&c.maxMessageBytes, "max-message-bytes", 8192, "largest chat message body, in UTF-8 bytes")
	fs.Float64Var(&c.wsRate, "ws-rate", 20, "frames per second allowed per WebSocket connection (0 turns the limit off)")
	fs.IntVar(&c.wsBurst, "ws-burst", 40, "burst of frames allowed above --ws-rate")
	fs.IntVar(&c.ipMaxSockets, "ip-max-sockets", 200, "open WebSockets allowed per client IP")
	fs.IntVar(&c.ipMaxChatsPerHour, "ip-max-chats-per-hour", 100, "new chats allowed per client IP per hour")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see 'switchboard serve --help')", fs.Arg(0))
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if c.publicURL == "" {
		c.publicURL = "http://" + c.addr
	}
	c.publicURL = strings.TrimRight(c.publicURL, "/")
	ips, err := clientip.New(c.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}

	st, where, err := c.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store ready", "store", where)

	setup, password, err := firstStart(ctx, st, c)
	if err != nil {
		return err
	}

	var smtp mailer.Sender // nil: the server logs mail instead
	if c.smtpURL != "" {
		if smtp, err = mailer.NewSMTP(c.smtpURL, mailer.SMTPOptions{}); err != nil {
			return fmt.Errorf("--smtp-url: %w", err)
		}
		log.Info("sending mail through SMTP", "smtp", redactURL(c.smtpURL))
	}
	// The node's name labels its metrics: the host name (a pod's name on
	// Kubernetes, the container id under Compose).
	node, _ := os.Hostname()
	ms := metrics.New(metrics.Config{Node: node, Version: version, Log: log})
	clusterNode, err := c.openCluster(log, ms)
	if err != nil {
		return err
	}
	if clusterNode != nil {
		// A graceful stop removes this node's presence at once, so its
		// operators' chats are requeued by the others without waiting for
		// the TTL; a crash leaves that to the TTL and the sweep.
		defer func() {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := clusterNode.Leave(lctx); err != nil {
				log.Warn("leave the cluster", "err", err)
			}
			_ = clusterNode.Close()
		}()
	}
	srv, err := server.New(ctx, server.Config{
		Metrics: ms, NoMetricsRoute: c.metricsAddr != "", Cluster: clusterNode,
		Store: st, PublicURL: c.publicURL, IPs: ips, SessionTTL: c.sessionTTL, Log: log,
		OperatorGrace: c.operatorGrace, Mail: smtp, MailFrom: c.mailFrom,
		Live: session.Config{
			MaxMessageBytes:   c.maxMessageBytes,
			Rate:              c.wsRate,
			Burst:             c.wsBurst,
			IPMaxSockets:      c.ipMaxSockets,
			IPMaxChatsPerHour: c.ipMaxChatsPerHour,
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on --addr %s: %w", c.addr, err)
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if c.metricsAddr != "" {
		stopMetrics, err := serveMetrics(c.metricsAddr, ms, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	printBanner(stdout, c, setup, password)
	log.Info("listening", "addr", ln.Addr().String(), "public_url", c.publicURL, "version", version)

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	srv.BeginDrain()
	if c.drainDelay > 0 {
		log.Info("draining: /readyz answers 503, new WebSockets are refused", "drain_delay", c.drainDelay.String())
		select {
		case <-time.After(c.drainDelay):
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("shutting down", "timeout", c.shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.shutdownTimeout)
	defer cancel()
	// Shutdown does not wait for hijacked (WebSocket) connections: tell
	// those clients to reconnect elsewhere (1001) and wait for their
	// in-flight frames to finish.
	err = httpSrv.Shutdown(shutdownCtx)
	if derr := srv.Drain(shutdownCtx); derr != nil {
		log.Warn("drain incomplete", "err", derr)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openCluster joins the cluster when --redis-url is set; nil means a
// single node (no shared state at all, exactly as without cluster mode).
func (c *serveConfig) openCluster(log *slog.Logger, ms *metrics.Set) (cluster.Node, error) {
	if c.redisURL == "" {
		return nil, nil
	}
	client, err := clusterredis.NewClient(c.redisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	client.AddHook(redisMetrics{ms})
	id := c.nodeID
	if id == "" {
		host, _ := os.Hostname()
		id = strings.ReplaceAll(cmp.Or(host, "node"), ",", "_") + "-" + strings.ToLower(rand.Text()[:6])
	}
	node, err := clusterredis.New(clusterredis.Config{Client: client, Node: id, Prefix: c.redisPrefix, Log: log})
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	log.Info("cluster mode", "redis", redactURL(c.redisURL), "node_id", id)
	return node, nil
}

// check validates flag combinations with messages that say what to do.
func (c *serveConfig) check() error {
	if c.redisURL != "" && c.postgresURL == "" {
		return errors.New("--redis-url (cluster mode) needs --postgres-url: every node must share one PostgreSQL; SQLite is for a single node")
	}
	if strings.ContainsAny(c.nodeID, ",\n") {
		return errors.New("--node-id must not contain a comma or a newline")
	}
	if _, err := switchboard.ParseAddress(c.mailFrom); err != nil {
		return fmt.Errorf("--mail-from: %w", err)
	}
	if c.maxMessageBytes < 1 || c.maxMessageBytes > 60000 {
		return errors.New("--max-message-bytes must be between 1 and 60000 (a frame is at most 64 KiB)")
	}
	if c.wsRate < 0 || c.wsBurst < 0 || c.ipMaxSockets < 1 || c.ipMaxChatsPerHour < 1 {
		return errors.New("--ws-rate and --ws-burst must be ≥ 0; --ip-max-sockets and --ip-max-chats-per-hour ≥ 1")
	}
	if c.operatorGrace < time.Second || c.operatorGrace > time.Hour {
		return errors.New("--operator-grace must be between 1s and 1h")
	}
	if c.sessionTTL < time.Minute {
		return errors.New("--session-ttl must be at least 1m")
	}
	return nil
}

// firstStart creates the default department and first admin once per
// database. It returns the generated password when it made one.
func firstStart(ctx context.Context, st store.Store, c serveConfig) (store.SetupResult, string, error) {
	email := c.adminEmail
	if email == "" {
		email = defaultAdminEmail
	}
	password, generated := c.adminPassword, false
	if password == "" {
		password, generated = auth.GeneratePassword(), true
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return store.SetupResult{}, "", err
	}
	res, err := st.Setup(ctx, store.Setup{PortalName: c.portalName, AdminEmail: email, AdminName: "Admin", AdminPasswordHash: hash})
	if err != nil {
		return res, "", fmt.Errorf("first-start setup: %w", err)
	}
	if !res.Created || !generated {
		password = ""
	}
	return res, password, nil
}

func printBanner(w io.Writer, c serveConfig, setup store.SetupResult, password string) {
	fmt.Fprintf(w, "\nSwitchboard %s is running.\n\n", version)
	fmt.Fprintf(w, "  Console:      %s/\n", c.publicURL)
	fmt.Fprintf(w, "  Demo page:    %s/demo   (the widget of the first public department: chat with yourself)\n", c.publicURL)
	if setup.Created {
		fmt.Fprintf(w, "  Admin email:  %s\n", setup.Admin.Email)
		if password != "" {
			fmt.Fprintf(w, "  Password:     %s   (shown only now; change it after you log in)\n", password)
		}
		fmt.Fprintf(w, "  Department:   %q (public) was created for you\n", setup.Department.Name)
	}
	fmt.Fprintf(w, "  Health:       %s/readyz\n\n", c.publicURL)
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
