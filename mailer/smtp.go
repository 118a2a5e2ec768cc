package mailer

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/switchboard-chat/switchboard"
)

// SMTPOptions tunes NewSMTP; the zero value is the default.
type SMTPOptions struct {
	// Timeout bounds connecting and each command; 0 means 30s. The
	// context of Send bounds the whole exchange as well.
	Timeout time.Duration
	// HELO is the name given in EHLO/HELO; "" means the host name.
	HELO string
	// TLSConfig is used for STARTTLS and smtps; nil means the system roots
	// with the server's host name.
	TLSConfig *tls.Config
}

// SMTP is a Sender that delivers over SMTP, one connection per mail.
type SMTP struct {
	client *gomail.Client
	addr   string // host:port, for messages

	// mu serializes sends: a go-mail Client keeps per-connection state.
	mu sync.Mutex
}

// NewSMTP returns a Sender for an SMTP URL:
//
//	smtp://[user:pass@]host[:port][?starttls=opportunistic|require|none][&auth=MECH]
//	smtps://[user:pass@]host[:port][?auth=MECH]
//
// smtp:// speaks plain SMTP (default port 587) and upgrades with STARTTLS
// when the server offers it ("opportunistic", the default), always
// ("require": no STARTTLS is an error) or never ("none"). smtps:// uses
// implicit TLS (default port 465). With a user name, authentication uses
// the strongest mechanism the server offers (AUTH PLAIN and LOGIN only over
// TLS), or MECH when given (go-mail's names: "plain", "login",
// "plain-noenc", "cram-md5", "scram-sha-256", …). A malformed URL is an
// error naming what is wrong; nothing connects until Send.
func NewSMTP(rawURL string, opts SMTPOptions) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mailer: SMTP URL: %w", err)
	}
	var defaultPort int
	var options []gomail.Option
	switch u.Scheme {
	case "smtp":
		defaultPort = 587
		policy := gomail.TLSOpportunistic
		switch v := u.Query().Get("starttls"); v {
		case "", "opportunistic":
		case "require":
			policy = gomail.TLSMandatory
		case "none":
			policy = gomail.NoTLS
		default:
			return nil, fmt.Errorf("mailer: SMTP URL: starttls=%q, want opportunistic, require or none", v)
		}
		options = append(options, gomail.WithTLSPortPolicy(policy))
	case "smtps":
		defaultPort = 465
		if u.Query().Has("starttls") {
			return nil, fmt.Errorf("mailer: SMTP URL: starttls does not apply to smtps://")
		}
		options = append(options, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("mailer: SMTP URL: scheme %q, want smtp or smtps", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("mailer: SMTP URL: no host")
	}
	port := defaultPort
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("mailer: SMTP URL: bad port %q", p)
		}
	}
	options = append(options, gomail.WithPort(port),
		gomail.WithTimeout(cmp.Or(opts.Timeout, 30*time.Second)))
	if opts.HELO != "" {
		options = append(options, gomail.WithHELO(opts.HELO))
	}
	tlsConfig := opts.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	options = append(options, gomail.WithTLSConfig(tlsConfig))
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		mech := gomail.SMTPAuthAutoDiscover
		if v := u.Query().Get("auth"); v != "" {
			if err := mech.UnmarshalString(v); err != nil {
				return nil, fmt.Errorf("mailer: SMTP URL: auth=%q: %w", v, err)
			}
		}
		options = append(options, gomail.WithSMTPAuth(mech),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	c, err := gomail.NewClient(host, options...)
	if err != nil {
		return nil, fmt.Errorf("mailer: SMTP client: %w", err)
	}
	return &SMTP{client: c, addr: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// Send delivers m: a multipart message with its text and HTML bodies as
// alternatives and its attachment, from m.From to m.To and m.CC, with
// m.MessageID as its Message-ID. Errors say whether to retry (IsTemporary).
func (s *SMTP) Send(ctx context.Context, m switchboard.Mail) error {
	msg, err := Message(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// Connecting, the greeting, EHLO, STARTTLS or AUTH failed: the
		// server or our configuration is at fault, not this mail, so even a
		// 5xx here is worth retrying once that is fixed.
		return fmt.Errorf("mailer: connect to %s: %w", s.addr, &setupError{err})
	}
	// Once the server accepted the data the mail is sent, whatever QUIT
	// says: failing it then would only send it twice.
	defer s.client.CloseWithSMTPClient(c) //nolint:errcheck // see above
	if err := s.client.SendWithSMTPClient(c, msg); err != nil {
		return fmt.Errorf("mailer: send %s via %s: %w", m.MessageID, s.addr, err)
	}
	return nil
}

// Message builds the go-mail message of m. Every header goes through
// go-mail's encoding setters (never the preformatted ones), so user text
// cannot add headers; addresses with CR or LF are refused. An error is
// permanent (see Permanent): the mail cannot be built.
func Message(m switchboard.Mail) (*gomail.Msg, error) {
	bad := func(field string, err error) error {
		return Permanent(fmt.Errorf("mailer: mail %s: %s: %w", m.ID, field, err))
	}
	// The store validated these; check again, since a header is at stake.
	for _, list := range [][]string{{m.From}, m.To, m.CC} {
		for _, a := range list {
			if _, err := switchboard.ParseAddress(a); err != nil || strings.ContainsAny(a, "\r\n") {
				return nil, bad("address", fmt.Errorf("%q is not a valid address", a))
			}
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, bad("subject", fmt.Errorf("line break in subject"))
	}
	id := strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), ">")
	if id == "" || strings.ContainsAny(id, "<>\r\n \t") || !strings.Contains(id, "@") {
		return nil, bad("message_id", fmt.Errorf("%q is not a Message-ID", m.MessageID))
	}
	msg := gomail.NewMsg()
	if err := msg.From(strings.TrimSpace(m.From)); err != nil {
		return nil, bad("from", err)
	}
	if err := msg.To(trimAll(m.To)...); err != nil {
		return nil, bad("to", err)
	}
	if len(m.CC) > 0 {
		if err := msg.Cc(trimAll(m.CC)...); err != nil {
			return nil, bad("cc", err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(id)
	msg.SetDate()
	switch {
	case m.TextBody != "" && m.HTMLBody != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.TextBody)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTMLBody)
	case m.HTMLBody != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTMLBody)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.TextBody)
	}
	if len(m.AttachmentDoc) > 0 {
		name := m.Attachment
		if name == "" || strings.ContainsAny(name, "\r\n\"/\\") {
			return nil, bad("attachment_name", fmt.Errorf("%q is not a file name", name))
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		msg.AttachReadSeeker(name, bytes.NewReader(m.AttachmentDoc),
			gomail.WithFileContentType(gomail.ContentType(ctype)))
	}
	return msg, nil
}

func trimAll(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = strings.TrimSpace(s)
	}
	return out
}
