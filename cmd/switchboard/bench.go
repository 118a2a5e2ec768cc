package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/loadgen"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

const benchUsage = `Usage: switchboard bench [flags]

Load-tests Switchboard over its WebSocket protocol and checks its guarantees:
a fresh department with operators who answer every chat, many visitors each
sending messages, every ack recorded; then every visitor reconnects, resumes
its chat from the start and the checker compares. It prints throughput,
latencies and any broken guarantee, and exits non-zero on one.

Without --url it starts an in-process server on a free 127.0.0.1 port with
every WebSocket limit off, over a fresh SQLite store in a temporary directory
(or --data-dir, or --postgres-url). With --url it loads that server, logging in
as --admin-email/--admin-password; start it with --ws-rate 0 and high
--ip-max-sockets and --ip-max-chats-per-hour, or its limits refuse the load.

'switchboard bench seed' fills a database with a large chat history for the
history benchmarks instead (see 'switchboard bench seed --help').
`

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "seed" {
		return benchSeed(ctx, args[1:], stdout, stderr)
	}
	var (
		sc                        storeConfig
		target                    string
		adminEmail, adminPassword string
		asJSON                    bool
		cfg                       loadgen.Config
	)
	fs := newFlagSet("bench", benchUsage, stderr)
	sc.register(fs)
	// A bench leaves nothing behind by default: its own temporary store.
	dataDir := fs.Lookup("data-dir")
	dataDir.DefValue, dataDir.Usage = "", "directory of the in-process server's SQLite database (default: a fresh temporary directory, removed at the end)"
	_ = dataDir.Value.Set("")
	fs.StringVar(&target, "url", "", "load this running server (http://host:port; several nodes of a cluster comma-separated: clients are spread over them and move to the next when one drops) instead of an in-process one")
	fs.StringVar(&adminEmail, "admin-email", "", "with --url: an admin's email")
	fs.StringVar(&adminPassword, "admin-password", "", "with --url: that admin's password")
	fs.IntVar(&cfg.Chats, "chats", 100, "concurrent chats, one visitor connection each")
	fs.IntVar(&cfg.Operators, "operators", 0, "operators answering (default max(1, chats/50))")
	fs.IntVar(&cfg.Messages, "messages", 20, "messages each visitor sends")
	fs.BoolVar(&cfg.Replies, "replies", true, "operators answer each visitor message (both directions)")
	fs.IntVar(&cfg.Window, "window", 4, "messages a visitor may have unacked at once")
	fs.IntVar(&cfg.Ramp, "ramp", 200, "visitors connecting and starting their chat at once")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "the whole run")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	var cpuProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (server and load generator) to this file")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see 'switchboard bench --help')", fs.Arg(0))
	}
	if cfg.Chats < 1 || cfg.Operators < 0 || cfg.Messages < 0 || cfg.Window < 1 || cfg.Ramp < 1 || cfg.Timeout <= 0 {
		return errors.New("--chats, --window and --ramp must be at least 1, --operators and --messages at least 0, --timeout positive")
	}
	if cfg.Messages == 0 {
		cfg.Messages = -1 // loadgen: none (0 would mean its default)
	}
	log, err := sc.logger(stderr)
	if err != nil {
		return err
	}
	cfg.Log = log

	where := ""
	if target != "" {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if given["data-dir"] || given["postgres-url"] {
			return errors.New("--url loads a running server: --data-dir and --postgres-url are for the in-process one")
		}
		if adminEmail == "" || adminPassword == "" {
			return errors.New("--url needs --admin-email and --admin-password (an admin of that server)")
		}
		cfg.URL, cfg.AdminEmail, cfg.AdminPassword = target, adminEmail, adminPassword
		cfg.AllowRemote = true // a person named this server
		where = target
	} else {
		stop, desc, err := startBenchServer(ctx, &sc, &cfg, adminEmail, adminPassword, log, stderr)
		if err != nil {
			return err
		}
		defer stop()
		where = desc
	}

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res, runErr := loadgen.Run(ctx, cfg)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else if runErr == nil || res.Chats > 0 {
		printBench(stdout, cfg, where, res)
	}
	if runErr != nil {
		return runErr
	}
	if n := len(res.Violations); n > 0 {
		return fmt.Errorf("%d guarantee violations", n)
	}
	return nil
}

// startBenchServer starts an in-process server with every WebSocket limit
// off on a free loopback port, fills cfg's URL and admin, and returns how
// to stop it and a description of its store.
func startBenchServer(ctx context.Context, sc *storeConfig, cfg *loadgen.Config, adminEmail, adminPassword string, log *slog.Logger, stderr io.Writer) (stop func(), where string, err error) {
	var cleanups []func()
	stopAll := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			stopAll()
		}
	}()
	tempDir := sc.postgresURL == "" && sc.dataDir == ""
	if tempDir {
		dir, err := os.MkdirTemp("", "switchboard-bench-")
		if err != nil {
			return nil, "", err
		}
		sc.dataDir = dir
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	}
	st, where, err := sc.openStore(ctx, log)
	if err != nil {
		return nil, "", err
	}
	cleanups = append(cleanups, func() { st.Close() })

	// The first start creates an admin with a generated password; a store
	// that has one already needs its login.
	email, password := adminEmail, adminPassword
	if email == "" {
		email = defaultAdminEmail
	}
	generated := password == ""
	if generated {
		password = auth.GeneratePassword()
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, "", err
	}
	setup, err := st.Setup(ctx, store.Setup{PortalName: "Switchboard", AdminEmail: email, AdminName: "Admin", AdminPasswordHash: hash})
	if err != nil {
		return nil, "", fmt.Errorf("first-start setup: %w", err)
	}
	if !setup.Created && generated {
		return nil, "", fmt.Errorf("the store (%s) already has an admin: give its --admin-email and --admin-password, or use a fresh store (no --data-dir, or a new database)", where)
	}
	if setup.Created && generated && !tempDir {
		// The store outlives the bench: its admin may be needed again.
		fmt.Fprintf(stderr, "bench: created the first admin of %s: %s, password %s\n", where, email, password)
	}
	cfg.AdminEmail, cfg.AdminPassword = email, password

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	publicURL := "http://" + ln.Addr().String()
	// The server logs only its warnings and errors: the bench's output is
	// the load generator's.
	srvLog := slog.New(levelAtLeast{log.Handler(), slog.LevelWarn})
	srv, err := server.New(ctx, server.Config{
		Store: st, PublicURL: publicURL, Log: srvLog,
		Live: session.Config{Rate: 0, IPMaxSockets: 1 << 30, IPMaxChatsPerHour: 1 << 30},
	})
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(srvLog.Handler(), slog.LevelWarn)}
	go func() { _ = httpSrv.Serve(ln) }()
	cleanups = append(cleanups, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(sctx)
		_ = srv.Drain(sctx)
		srv.Close()
	})
	cfg.URL = publicURL
	return stopAll, "in-process server, " + where, nil
}

// levelAtLeast drops records below a level.
type levelAtLeast struct {
	slog.Handler
	min slog.Level
}

func (h levelAtLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelAtLeast) WithAttrs(a []slog.Attr) slog.Handler {
	return levelAtLeast{h.Handler.WithAttrs(a), h.min}
}

func (h levelAtLeast) WithGroup(name string) slog.Handler {
	return levelAtLeast{h.Handler.WithGroup(name), h.min}
}

// printBench prints the result as a short table.
func printBench(w io.Writer, cfg loadgen.Config, where string, r loadgen.Result) {
	replies := "replies on"
	expect := cfg.Chats * max(cfg.Messages, 0)
	if cfg.Replies {
		expect *= 2
	} else {
		replies = "replies off"
	}
	fmt.Fprintf(w, "\nswitchboard bench: %d chats × %d messages, %s, window %d (%s)\n\n",
		cfg.Chats, max(cfg.Messages, 0), replies, cfg.Window, where)
	pct := func(p loadgen.Percentiles) string {
		return fmt.Sprintf("p50 %s   p90 %s   p99 %s   max %s", msStr(p.P50), msStr(p.P90), msStr(p.P99), msStr(p.Max))
	}
	fmt.Fprintf(w, "  chats              %d\n", r.Chats)
	fmt.Fprintf(w, "  messages acked     %d of %d\n", r.Acked, expect)
	fmt.Fprintf(w, "  duration           %.2f s\n", r.Duration.Seconds())
	fmt.Fprintf(w, "  acked msgs/s       %.0f\n", r.AckedPerSec)
	fmt.Fprintf(w, "  ack latency        %s\n", pct(r.AckLatency))
	fmt.Fprintf(w, "  delivery latency   %s\n", pct(r.Delivery))
	if r.Reconnects > 0 {
		fmt.Fprintf(w, "  reconnects         %d\n", r.Reconnects)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "  warnings           %d (protocol misbehaviour that breaks no guarantee)\n", len(r.Warnings))
		listBench(w, r.Warnings)
	}
	if len(r.Violations) == 0 {
		fmt.Fprintf(w, "  violations         0 (all guarantees held)\n\n")
		return
	}
	fmt.Fprintf(w, "  violations         %d\n", len(r.Violations))
	listBench(w, r.Violations)
	fmt.Fprintln(w)
}

// listBench prints up to 20 items.
func listBench(w io.Writer, items []string) {
	for i, it := range items {
		if i == 20 {
			fmt.Fprintf(w, "    … and %d more (--json lists all)\n", len(items)-20)
			return
		}
		fmt.Fprintf(w, "    - %s\n", it)
	}
}

func msStr(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", float64(d)/1e6), "0") + " ms"
	}
}
