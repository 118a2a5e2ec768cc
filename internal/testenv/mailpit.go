package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Mailpit is an SMTP sink with an HTTP API, one per test.
//
// When SWITCHBOARD_TEST_SMTP_URL and SWITCHBOARD_TEST_MAILPIT_API are set, every
// test shares the Mailpit they name, and Messages returns what any test sent
// there: tests that read messages then must not run in parallel with others
// that send mail.
type Mailpit struct {
	SMTPURL string // smtp://127.0.0.1:PORT; accepts any or no authentication, no TLS
	APIURL  string // http://127.0.0.1:PORT, without a trailing slash
}

// MailpitMessage is one message as Mailpit parsed it.
type MailpitMessage struct {
	ID        string // Mailpit's, for Raw and Part
	MessageID string // the Message-ID header, without angle brackets
	Date      time.Time
	From      MailpitAddress
	To        []MailpitAddress
	Cc        []MailpitAddress
	Bcc       []MailpitAddress // envelope recipients not in To or Cc
	ReplyTo   []MailpitAddress
	Subject   string
	// Text and HTML are the decoded bodies, with CRLF line ends turned into LF.
	Text, HTML  string
	Attachments []MailpitAttachment
	Inline      []MailpitAttachment // parts with Content-Disposition: inline
}

// MailpitAddress is a mailbox of a message header.
type MailpitAddress struct{ Name, Address string }

// MailpitAttachment describes an attached file; Part gives its content.
type MailpitAttachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        int
}

// SMTP returns the Mailpit of SWITCHBOARD_TEST_SMTP_URL and
// SWITCHBOARD_TEST_MAILPIT_API when both are set, else starts one for the test,
// stopped in t.Cleanup. It fails the test when there is no Mailpit to be had.
func SMTP(t testing.TB) *Mailpit {
	t.Helper()
	smtpURL, api := os.Getenv(smtpEnv), os.Getenv(mailpitAPIEnv)
	if smtpURL != "" || api != "" {
		if smtpURL == "" || api == "" {
			t.Fatalf("testenv: set both %s and %s, or neither", smtpEnv, mailpitAPIEnv)
		}
		return &Mailpit{SMTPURL: smtpURL, APIURL: strings.TrimSuffix(api, "/")}
	}
	m, err := startMailpit(t)
	if err != nil {
		t.Fatalf("testenv: Mailpit: %v", err)
	}
	return m
}

// startMailpit starts a Mailpit removed in t.Cleanup.
func startMailpit(t testing.TB) (*Mailpit, error) {
	bin, err := lookPath("mailpit", smtpEnv+" and "+mailpitAPIEnv)
	if err != nil {
		return nil, err
	}
	srv, err := newServer("mailpit")
	if err != nil {
		return nil, err
	}
	t.Cleanup(srv.close)
	db := filepath.Join(srv.dir, "mailpit.db")
	m := &Mailpit{}
	srv.ready = func(ctx context.Context, pid int) bool {
		var info struct{ Database string }
		if getJSON(ctx, m.APIURL+"/api/v1/info", &info) != nil || info.Database != db {
			return false
		}
		u, _ := url.Parse(m.SMTPURL)
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		banner, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(banner, "220 ")
	}
	err = startOnFreePorts(2, func(ports []int) error {
		smtpAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
		apiAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
		m.SMTPURL, m.APIURL = "smtp://"+smtpAddr, "http://"+apiAddr
		srv.argv = []string{bin, "--smtp", smtpAddr, "--listen", apiAddr, "--database", db,
			"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--smtp-disable-rdns",
			"--disable-version-check", "--max", "0"}
		return srv.start()
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Messages returns every message Mailpit holds, oldest first. It fails the test
// when Mailpit does not answer.
func (m *Mailpit) Messages(t testing.TB) []MailpitMessage {
	t.Helper()
	msgs, err := m.messages(t.Context())
	if err != nil {
		t.Fatalf("testenv: Mailpit messages: %v", err)
	}
	return msgs
}

// WaitMessages polls Messages until at least n messages arrived, and returns
// them all. It fails the test when fewer arrived within timeout.
func (m *Mailpit) WaitMessages(t testing.TB, n int, timeout time.Duration) []MailpitMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs, err := m.messages(t.Context())
		if err != nil {
			t.Fatalf("testenv: Mailpit messages: %v", err)
		}
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			var subjects []string
			for _, msg := range msgs {
				subjects = append(subjects, strconv.Quote(msg.Subject))
			}
			t.Fatalf("testenv: waited %v for %d messages, got %d: [%s]", timeout, n, len(msgs), strings.Join(subjects, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Raw returns message id (MailpitMessage.ID) as it was received, headers and
// CRLF line ends and all. It fails the test when Mailpit has no such message.
func (m *Mailpit) Raw(t testing.TB, id string) []byte {
	t.Helper()
	return m.fetch(t, "/api/v1/message/"+url.PathEscape(id)+"/raw")
}

// Part returns the decoded content of one part of message id, such as an
// attachment's (MailpitAttachment.PartID). It fails the test when Mailpit has
// no such part.
func (m *Mailpit) Part(t testing.TB, id, partID string) []byte {
	t.Helper()
	return m.fetch(t, "/api/v1/message/"+url.PathEscape(id)+"/part/"+url.PathEscape(partID))
}

func (m *Mailpit) fetch(t testing.TB, path string) []byte {
	t.Helper()
	b, err := get(t.Context(), m.APIURL+path)
	if err != nil {
		t.Fatalf("testenv: Mailpit: %v", err)
	}
	return b
}

func (m *Mailpit) messages(ctx context.Context) ([]MailpitMessage, error) {
	var ids []string
	seen := map[string]bool{}
	for start := 0; ; {
		var page struct {
			Total    int
			Messages []struct{ ID string }
		}
		if err := getJSON(ctx, fmt.Sprintf("%s/api/v1/messages?start=%d&limit=500", m.APIURL, start), &page); err != nil {
			return nil, err
		}
		for _, msg := range page.Messages {
			if !seen[msg.ID] {
				seen[msg.ID] = true
				ids = append(ids, msg.ID)
			}
		}
		start += len(page.Messages)
		if len(page.Messages) == 0 || start >= page.Total {
			break
		}
	}
	slices.Reverse(ids) // Mailpit lists newest first
	msgs := make([]MailpitMessage, len(ids))
	for i, id := range ids {
		if err := getJSON(ctx, m.APIURL+"/api/v1/message/"+url.PathEscape(id), &msgs[i]); err != nil {
			return nil, err
		}
		msgs[i].Text = strings.ReplaceAll(msgs[i].Text, "\r\n", "\n")
		msgs[i].HTML = strings.ReplaceAll(msgs[i].HTML, "\r\n", "\n")
	}
	return msgs, nil
}

// httpClient talks to Mailpit. It keeps no idle connections, whose goroutines
// would show up in other packages' leak checks, and uses no proxy.
var httpClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func getJSON(ctx context.Context, u string, v any) error {
	b, err := get(ctx, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
