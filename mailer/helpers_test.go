package mailer_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/mailer"
	"github.com/switchboard-chat/switchboard/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// freePort returns a loopback port nobody listens on (a moment ago).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMailpit starts a Mailpit of this test's own, with its SMTP server on
// smtpPort (0: any free port) and extra flags (testenv.SMTP takes none),
// stopped at cleanup.
func startMailpit(t *testing.T, smtpPort int, extra ...string) *testenv.Mailpit {
	t.Helper()
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, "go", "bin", "mailpit")
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("no mailpit: go install github.com/axllent/mailpit@v1.27.11")
		}
	}
	if smtpPort == 0 {
		smtpPort = freePort(t)
	}
	smtpAddr := "127.0.0.1:" + strconv.Itoa(smtpPort)
	apiAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	dir := t.TempDir()
	args := []string{"--smtp", smtpAddr, "--listen", apiAddr, "--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-auth-accept-any", "--smtp-disable-rdns", "--disable-version-check", "--max", "0"}
	// Mailpit refuses insecure authentication next to required TLS; with
	// implicit TLS there is no plain-text greeting to wait for.
	tlsRequired := slices.Contains(extra, "--smtp-require-starttls") || slices.Contains(extra, "--smtp-require-tls")
	implicitTLS := slices.Contains(extra, "--smtp-require-tls")
	if !tlsRequired {
		args = append(args, "--smtp-auth-allow-insecure")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	m := &testenv.Mailpit{SMTPURL: "smtp://" + smtpAddr, APIURL: "http://" + apiAddr}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	waitFor(t, 15*time.Second, "mailpit to answer", func() bool {
		resp, err := client.Get(m.APIURL + "/livez")
		if err != nil {
			return false
		}
		resp.Body.Close()
		c, err := net.DialTimeout("tcp", smtpAddr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		if implicitTLS {
			return true
		}
		c.SetDeadline(time.Now().Add(time.Second))
		banner, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(banner, "220 ")
	})
	return m
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newSMTP returns an SMTP sender for url.
func newSMTP(t *testing.T, url string) *mailer.SMTP {
	t.Helper()
	s, err := mailer.NewSMTP(url, mailer.SMTPOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewSMTP(%q): %v", url, err)
	}
	return s
}

// fastConfig is a worker configuration with test-sized timings.
func fastConfig(st store.Store, s mailer.Sender) mailer.Config {
	return mailer.Config{
		Store: st, Sender: s,
		Interval:    20 * time.Millisecond,
		Lease:       10 * time.Second,
		SendTimeout: 5 * time.Second,
		BackoffBase: 100 * time.Millisecond,
		BackoffMax:  400 * time.Millisecond,
	}
}

// runWorker starts a worker and returns a function that stops it and waits
// for Run to return (also called at cleanup).
func runWorker(t *testing.T, c mailer.Config) (*mailer.Worker, func()) {
	t.Helper()
	w, err := mailer.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return w, stop
}

// enqueue stores a mail to ann@example.com.
func enqueue(t *testing.T, st store.Store, subject string, mod ...func(*switchboard.Mail)) switchboard.Mail {
	t.Helper()
	m := switchboard.Mail{
		Kind: switchboard.MailVisitor, ChatID: "chat-1",
		From: "support@example.com", To: []string{"ann@example.com"},
		Subject: subject, TextBody: "body of " + subject,
	}
	for _, f := range mod {
		f(&m)
	}
	if err := st.EnqueueMail(context.Background(), &m); err != nil {
		t.Fatalf("EnqueueMail(%q): %v", subject, err)
	}
	return m
}

// mail returns the stored mail id.
func mail(t *testing.T, st store.Store, id string) switchboard.Mail {
	t.Helper()
	p := store.Page{Limit: store.MaxLimit}
	for {
		items, next, err := st.Mails(context.Background(), "", p)
		if err != nil {
			t.Fatalf("Mails: %v", err)
		}
		for _, m := range items {
			if m.ID == id {
				return m
			}
		}
		if next == "" {
			t.Fatalf("mail %s not stored", id)
		}
		p.Cursor = next
	}
}
