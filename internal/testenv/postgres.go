package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURL returns the URL of a fresh, empty database for this test, on the
// server of SWITCHBOARD_TEST_POSTGRES_URL when set (which must be a postgres://
// URL of a user allowed to create databases), else on a throwaway server shared
// by the test process. The database is dropped in t.Cleanup. Tests may run in
// parallel. It fails the test when there is no server to be had.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(postgresEnv)
	if admin == "" {
		srv, err := sharedPostgres()
		if err != nil {
			t.Fatalf("testenv: PostgreSQL: %v", err)
		}
		admin = srv.URL("postgres")
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("testenv: %s=%q: want a postgres:// URL", postgresEnv, admin)
	}
	name := "t_" + randomName()
	if err := execAdmin(t.Context(), admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		if err := execAdmin(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// execAdmin runs one statement on its own connection to adminURL.
func execAdmin(ctx context.Context, adminURL, sql string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL for %q: %w", sql, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// sharedPostgres starts, once per process, the server behind PostgresURL:
// tuned for speed, not durability, with room for many parallel tests.
var sharedPostgres = sync.OnceValues(func() (*PostgresServer, error) {
	return startPostgres(nil, map[string]string{
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"max_connections":    "300",
	})
})

// PostgresOptions configures a server started by StartPostgres.
type PostgresOptions struct {
	// Fsync runs the server with fsync, synchronous_commit and full_page_writes
	// on, as in production, for durability tests. False (the zero value) turns
	// all three off, which is faster.
	Fsync bool
	// Settings are more server settings (postgres -c name=value), such as
	// {"max_connections": "20"}; they win over those Fsync sets. Nil means none.
	Settings map[string]string
}

// PostgresServer is a throwaway PostgreSQL server. Its superuser is postgres,
// with no password; it listens on 127.0.0.1 only.
type PostgresServer struct {
	t    testing.TB // nil for the shared server
	srv  *server
	port int
}

// StartPostgres starts a PostgreSQL server dedicated to the test, for tests that
// stop and start it or need settings of their own; it is removed in t.Cleanup.
// It never uses SWITCHBOARD_TEST_POSTGRES_URL. It fails the test when the server
// cannot start.
func StartPostgres(t testing.TB, opts PostgresOptions) *PostgresServer {
	t.Helper()
	onOff := map[bool]string{true: "on", false: "off"}[opts.Fsync]
	settings := map[string]string{"fsync": onOff, "synchronous_commit": onOff, "full_page_writes": onOff}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	s, err := startPostgres(t, settings)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL: %v", err)
	}
	return s
}

// URL returns the URL of database dbname on the server as its superuser, such
// as postgres://postgres@127.0.0.1:PORT/dbname?sslmode=disable. The database
// "postgres" always exists.
func (s *PostgresServer) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     "127.0.0.1:" + strconv.Itoa(s.port),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop shuts the server down at once ("immediate" mode: no checkpoint, clients
// cut off), as a crash would, and waits until it is gone. Stopping a stopped
// server does nothing. Call it from the test's goroutine.
func (s *PostgresServer) Stop() { s.srv.stop() }

// Start starts a stopped server again on the same data directory and port; it
// recovers from its write-ahead log like after a crash. Starting a running
// server does nothing. It fails the test when the server does not come back;
// call it from the test's goroutine.
func (s *PostgresServer) Start() {
	s.t.Helper()
	if err := s.srv.start(); err != nil {
		s.t.Fatalf("testenv: restart PostgreSQL: %v", err)
	}
}

// startPostgres runs initdb and starts a server with the given settings; t, when
// not nil, removes it in t.Cleanup.
func startPostgres(t testing.TB, settings map[string]string) (*PostgresServer, error) {
	initdb, err := lookPath("initdb", postgresEnv)
	if err != nil {
		return nil, err
	}
	postgres, err := lookPath("postgres", postgresEnv)
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	srv, err := newServer("postgres")
	if err != nil {
		return nil, err
	}
	if t != nil {
		t.Cleanup(srv.close)
	}
	fail := func(err error) (*PostgresServer, error) {
		if t == nil {
			srv.close()
		}
		return nil, err
	}
	srv.cred = cred
	srv.stopSig = syscall.SIGQUIT // immediate shutdown; SIGKILL would leave its children behind
	if cred != nil {
		if err := os.Chown(srv.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}

	dataDir := filepath.Join(srv.dir, "data")
	cmd := exec.Command(initdb, "-D", dataDir, "-U", "postgres", "-A", "trust",
		"--no-sync", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions")
	cmd.Dir = srv.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}

	s := &PostgresServer{t: t, srv: srv}
	srv.ready = func(ctx context.Context, pid int) bool {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		var dir string
		err = conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir)
		return err == nil && dir == dataDir
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	err = startOnFreePorts(1, func(ports []int) error {
		s.port = ports[0]
		// TCP only: no unix socket, so no socket path length limit and no lock
		// file in /tmp or /var/run.
		srv.argv = []string{postgres, "-D", dataDir, "-p", strconv.Itoa(s.port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="}
		for _, k := range keys {
			srv.argv = append(srv.argv, "-c", k+"="+settings[k])
		}
		return srv.start()
	})
	if err != nil {
		return fail(err)
	}
	return s, nil
}
