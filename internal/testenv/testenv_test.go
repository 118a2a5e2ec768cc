package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { Main(m) }

func connectPostgres(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func redisClient(t *testing.T, u string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPostgresURLGivesEachTestItsOwnEmptyDatabase(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		dbs = map[string]bool{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				u := PostgresURL(t)
				if pu, err := url.Parse(u); err != nil || pu.Query().Get("sslmode") != "disable" && pu.Query().Get("sslmode") != "" {
					t.Errorf("PostgresURL() = %q: not a postgres URL", u)
				}
				conn := connectPostgres(t, u)
				var db string
				var tables int
				err := conn.QueryRow(t.Context(),
					`SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&db, &tables)
				if err != nil {
					t.Fatal(err)
				}
				if tables != 0 {
					t.Errorf("new database %s has %d tables, want 0", db, tables)
				}
				// The same table name in both databases must not collide.
				if _, err := conn.Exec(t.Context(), `CREATE TABLE chats (id int PRIMARY KEY); INSERT INTO chats VALUES (1)`); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				dbs[db] = true
				mu.Unlock()
			})
		}
	})
	if len(dbs) != 2 {
		t.Fatalf("two tests got databases %v, want two different ones", dbs)
	}

	admin := adminURL(t)
	conn := connectPostgres(t, admin)
	for db := range dbs {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after its test ended", db)
		}
	}
}

// adminURL is the URL PostgresURL creates databases through.
func adminURL(t *testing.T) string {
	if u := os.Getenv(postgresEnv); u != "" {
		return u
	}
	srv, err := sharedPostgres()
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL("postgres")
}

func TestRedisPrefixesAreUniqueAndCleanedUp(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		prefixes = map[string]bool{}
		urls     = map[string]bool{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				u, prefix := Redis(t)
				if !strings.HasPrefix(prefix, "test:") || !strings.HasSuffix(prefix, ":") {
					t.Errorf("prefix %q, want test:<random>:", prefix)
				}
				c := redisClient(t, u)
				for j := range 1500 { // more than one SCAN page and one UNLINK batch
					if err := c.Set(t.Context(), fmt.Sprintf("%skey%d", prefix, j), j, 0).Err(); err != nil {
						t.Fatal(err)
					}
				}
				mu.Lock()
				prefixes[prefix] = true
				urls[u] = true
				mu.Unlock()
			})
		}
	})
	if len(prefixes) != 2 || len(urls) != 1 {
		t.Fatalf("two tests got prefixes %v on servers %v, want two prefixes on one server", prefixes, urls)
	}
	for u := range urls {
		c := redisClient(t, u)
		for prefix := range prefixes {
			keys, err := c.Keys(t.Context(), prefix+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 0 {
				t.Errorf("%d keys under %s left after the test ended", len(keys), prefix)
			}
		}
	}
}

func TestRedisCleanupKeepsOtherKeys(t *testing.T) {
	t.Parallel()
	u, other := Redis(t)
	c := redisClient(t, u)
	if err := c.Set(t.Context(), other+"kept", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Run("inner", func(t *testing.T) {
		u, prefix := Redis(t)
		if err := redisClient(t, u).Set(t.Context(), prefix+"gone", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	if n, err := c.Exists(t.Context(), other+"kept").Result(); err != nil || n != 1 {
		t.Errorf("EXISTS %skept = %d, %v after another test's cleanup; want 1", other, n, err)
	}
}

const testMail = "From: Switchboard <noreply@switchboard.test>\r\n" +
	"To: Ann <ann@example.test>\r\n" +
	"Cc: bob@example.test\r\n" +
	"Subject: Transcript of your chat\r\n" +
	"Message-ID: <transcript-1@switchboard.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello Ann,\r\nthanks for chatting.\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>Hello Ann,</p>\r\n<p>thanks for chatting.</p>\r\n" +
	"--inner--\r\n" +
	"--outer\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Disposition: attachment; filename=\"chat.txt\"\r\n" +
	"\r\n" +
	"ann: hi\r\n" +
	"--outer--\r\n"

func TestMailpitReceivesMail(t *testing.T) {
	t.Parallel()
	m := SMTP(t)
	if got := m.Messages(t); len(got) != 0 {
		t.Fatalf("new Mailpit has %d messages, want 0", len(got))
	}
	u, err := url.Parse(m.SMTPURL)
	if err != nil || u.Scheme != "smtp" {
		t.Fatalf("SMTPURL = %q, want smtp://host:port", m.SMTPURL)
	}
	rcpt := []string{"ann@example.test", "bob@example.test", "carol@example.test"}
	if err := smtp.SendMail(u.Host, nil, "noreply@switchboard.test", rcpt, []byte(testMail)); err != nil {
		t.Fatal(err)
	}

	msgs := m.WaitMessages(t, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	check := func(name, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	check("Subject", got.Subject, "Transcript of your chat")
	check("MessageID", got.MessageID, "transcript-1@switchboard.test")
	check("From", fmt.Sprint(got.From), "{Switchboard noreply@switchboard.test}")
	check("To", fmt.Sprint(got.To), "[{Ann ann@example.test}]")
	check("Cc", fmt.Sprint(got.Cc), "[{ bob@example.test}]")
	check("Bcc", fmt.Sprint(got.Bcc), "[{ carol@example.test}]")
	// Mailpit trims the bodies' final line end.
	check("Text", got.Text, "Hello Ann,\nthanks for chatting.")
	check("HTML", got.HTML, "<p>Hello Ann,</p>\n<p>thanks for chatting.</p>")
	if len(got.Attachments) != 1 {
		t.Fatalf("Attachments = %+v, want chat.txt", got.Attachments)
	}
	check("attachment name", got.Attachments[0].FileName, "chat.txt")
	check("attachment content", string(m.Part(t, got.ID, got.Attachments[0].PartID)), "ann: hi")
	if raw := string(m.Raw(t, got.ID)); !strings.Contains(raw, "Subject: Transcript of your chat\r\n") {
		t.Errorf("Raw does not hold the Subject header line:\n%s", raw)
	}

	// Each test has its own Mailpit.
	if other := SMTP(t); other.SMTPURL == m.SMTPURL || len(other.Messages(t)) != 0 {
		t.Errorf("a second SMTP(t) = %+v shares the first one %+v", other, m)
	}
}

func TestStartPostgresStopStartKeepsData(t *testing.T) {
	t.Parallel()
	srv := StartPostgres(t, PostgresOptions{Fsync: true, Settings: map[string]string{"max_connections": "20"}})
	u := srv.URL("postgres")
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	for setting, want := range map[string]string{"fsync": "on", "synchronous_commit": "on", "max_connections": "20"} {
		var got string
		if err := conn.QueryRow(t.Context(), "SHOW "+setting).Scan(&got); err != nil || got != want {
			t.Errorf("SHOW %s = %q, %v; want %q", setting, got, err, want)
		}
	}
	if _, err := conn.Exec(t.Context(), `CREATE TABLE kv (k text PRIMARY KEY, v text); INSERT INTO kv VALUES ('a', 'acked')`); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if err := conn.Ping(t.Context()); err == nil {
		t.Error("Ping on a connection to a stopped server succeeded")
	}
	conn.Close(context.Background())
	if c, err := pgx.Connect(t.Context(), u); err == nil {
		c.Close(context.Background())
		t.Fatal("connecting to a stopped server succeeded")
	}
	srv.Stop() // stopping twice is harmless

	srv.Start()
	if srv.URL("postgres") != u {
		t.Errorf("URL after restart = %q, want %q", srv.URL("postgres"), u)
	}
	var v string
	if err := connectPostgres(t, u).QueryRow(t.Context(), `SELECT v FROM kv WHERE k = 'a'`).Scan(&v); err != nil || v != "acked" {
		t.Errorf("after restart: v = %q, %v; want %q", v, err, "acked")
	}
}

func TestStartRedisStopStart(t *testing.T) {
	t.Parallel()
	srv := StartRedis(t)
	u := srv.URL()
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	// By default go-redis retries a failed dial 5 times, 100ms apart.
	opts.MaxRetries, opts.DialerRetries = -1, 1
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if err := c.Ping(t.Context()).Err(); err == nil {
		t.Error("PING to a stopped server succeeded")
	}

	srv.Start()
	if srv.URL() != u {
		t.Errorf("URL after restart = %q, want %q", srv.URL(), u)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING after restart: %v", err)
	}
	if err := c.Get(t.Context(), "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET k after restart: %v, want redis.Nil (nothing is kept)", err)
	}
}

// TestEnvironmentWins runs first among the tests and alone: t.Setenv does not
// mix with parallel tests.
func TestEnvironmentWins(t *testing.T) {
	pg := StartPostgres(t, PostgresOptions{})
	t.Setenv(postgresEnv, pg.URL("postgres"))
	u := PostgresURL(t)
	if pu, _ := url.Parse(u); pu.Host != mustParse(t, pg.URL("postgres")).Host {
		t.Errorf("PostgresURL() = %q, want a database on %s", u, pg.URL("postgres"))
	}
	if err := connectPostgres(t, u).Ping(t.Context()); err != nil {
		t.Error(err)
	}

	rs := StartRedis(t)
	t.Setenv(redisEnv, rs.URL())
	if u, _ := Redis(t); u != rs.URL() {
		t.Errorf("Redis() URL = %q, want %q", u, rs.URL())
	}

	m := SMTP(t)
	t.Setenv(smtpEnv, m.SMTPURL)
	t.Setenv(mailpitAPIEnv, m.APIURL+"/")
	if got := SMTP(t); *got != *m {
		t.Errorf("SMTP() = %+v, want %+v", got, m)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestMissingBinaryErrorSaysHowToInstall(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("GOPATH", empty)
	t.Setenv("GOBIN", "")
	for name, want := range map[string]string{
		"redis-server": "apt-get install -y redis-server",
		"mailpit":      "go install github.com/axllent/mailpit@v1.27.11",
	} {
		_, err := lookPath(name, "SOME_ENV")
		if err == nil {
			t.Errorf("lookPath(%q) with an empty PATH succeeded", name)
			continue
		}
		for _, want := range []string{want, "./scripts/test", "SOME_ENV"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("lookPath(%q) error %q does not say %q", name, err, want)
			}
		}
	}
}

func TestStartReportsPortTaken(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"redis-server", "mailpit"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Someone else listens on the port picked, and accepts connections.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			bin, err := lookPath(name, "")
			if err != nil {
				t.Fatal(err)
			}
			srv, err := newServer(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.close)
			free, err := freePorts(1)
			if err != nil {
				t.Fatal(err)
			}
			if name == "redis-server" {
				srv.argv = []string{bin, "--port", taken, "--bind", "127.0.0.1", "--save", "", "--dir", srv.dir}
			} else {
				srv.argv = []string{bin, "--smtp", "127.0.0.1:" + taken, "--listen", "127.0.0.1:" + strconv.Itoa(free[0]),
					"--database", filepath.Join(srv.dir, "mailpit.db"), "--disable-version-check"}
			}
			srv.ready = func(ctx context.Context, pid int) bool { return false }
			if err := srv.start(); !errors.Is(err, errPortTaken) {
				t.Errorf("start on a taken port: %v, want errPortTaken", err)
			}
		})
	}
}

// TestNoGoroutinesLeft checks that using the services leaves no goroutine
// behind once a test's cleanups ran: other packages' tests check for leaks.
func TestNoGoroutinesLeft(t *testing.T) {
	t.Run("use", func(t *testing.T) {
		if err := connectPostgres(t, PostgresURL(t)).Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		u, prefix := Redis(t)
		if err := redisClient(t, u).Set(t.Context(), prefix+"k", 1, 0).Err(); err != nil {
			t.Fatal(err)
		}
		SMTP(t).Messages(t)
	})
	goleak.VerifyNone(t)
}
