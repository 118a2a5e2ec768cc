// Package templates writes Switchboard's emails: the department notices
// (transcript, missed chat, feedback, blocked IP) and the emails operators
// send to visitors, each as a plain-text and an HTML body (sent as
// multipart/alternative), in English or Japanese, with the department's
// name.
//
// The templates are files embedded from files/: plain text with
// text/template, HTML with html/template, so everything user-supplied
// (names, questions, comments, reasons, message bodies) is escaped in HTML.
// Subjects are built from user text too; every control character (CR and
// LF above all) is replaced by a space and long parts are cut, so a subject
// can never carry a header of its own.
//
// Locale: an email to a visitor is in the chat's locale. A department
// notice goes to staff, whose language the visitor's browser does not
// tell: it is in the department's locale when one is set, else in English
// and Japanese one after the other. A transcript inside a notice is in
// the chat's locale (package history).
//
// The package has no store dependency: the store composes the notices in
// the transaction of the event that causes them, and the API composes
// emails to visitors.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/history"
)

//go:embed files/*.tmpl
var files embed.FS

// Limits of the text that goes into a subject, in characters.
const (
	maxSubjectPart = 120 // a name inside a subject
	// maxNoticeSubject keeps a notice's subject within the outbox's 998
	// bytes (four bytes a character at most).
	maxNoticeSubject = 240
	// MaxSubject is the longest subject an operator may give (see Visitor).
	MaxSubject = 200
	// MaxBody is the longest body an operator may give, in characters.
	MaxBody = 20000
)

var funcs = map[string]any{"lines": func(s string) []string { return strings.Split(s, "\n") }}

var (
	textSet = texttemplate.Must(texttemplate.New("").Funcs(funcs).ParseFS(files, "files/*.txt.tmpl"))
	htmlSet = htmltemplate.Must(htmltemplate.New("").Funcs(funcs).ParseFS(files, "files/*.html.tmpl"))
)

// Composer writes emails. Its zero value (or New("")) writes them without
// links to the console.
type Composer struct {
	public string // public URL without a trailing slash, or ""
}

// New returns a Composer whose emails link to chats under publicURL (the
// server's --public-url); "" means no links.
func New(publicURL string) (*Composer, error) {
	if publicURL == "" {
		return &Composer{}, nil
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("templates: public URL %q is not an absolute http(s) URL", publicURL)
	}
	return &Composer{public: strings.TrimRight(u.String(), "/")}, nil
}

// Domain is the host name of the public URL, or "" (for Message-IDs of
// mail without a From address of its own).
func (c *Composer) Domain() string {
	if c == nil || c.public == "" {
		return ""
	}
	u, err := url.Parse(c.public)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// ChatLink is the console's address of a chat, or "" without a public URL.
func (c *Composer) ChatLink(chatID string) string {
	if c == nil || c.public == "" || chatID == "" {
		return ""
	}
	return c.public + "/#/chats/" + url.PathEscape(chatID)
}

// data is what every template sees; each kind uses some of it.
type data struct {
	Dept     string
	Link     string
	Chat     switchboard.Chat
	Visitor  switchboard.Visitor
	Who      string // the visitor's name, else email, else "a visitor" in the locale
	Operator string
	Started  string
	Ended    string

	Rating  int
	Stars   string
	Comment string

	Block     switchboard.BlockedIP
	By        string
	BlockedAt string
	Expires   string

	Body           string
	Transcript     string
	TranscriptHTML htmltemplate.HTML
	Attached       bool
}

type section struct {
	Lang string
	Body htmltemplate.HTML
}

// lang is "ja" for Japanese locales ("ja", "ja-JP"), else "en".
func lang(locale string) string {
	if locale == "ja" || strings.HasPrefix(locale, "ja-") || strings.HasPrefix(locale, "ja_") {
		return "ja"
	}
	return "en"
}

// staffLangs are the languages of a department notice.
func staffLangs(d switchboard.Department) []string {
	switch d.Locale {
	case "en", "ja":
		return []string{d.Locale}
	}
	return []string{"en", "ja"}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// who names the visitor for a reader of lang.
func who(v switchboard.Visitor, lang string) string {
	switch {
	case strings.TrimSpace(v.Name) != "":
		return strings.TrimSpace(v.Name)
	case v.Email != "":
		return v.Email
	case lang == "ja":
		return "訪問者"
	}
	return "a visitor"
}

// OneLine makes user text safe for a header: control characters (CR, LF,
// tab, NUL, …) and Unicode line separators become spaces, runs of spaces
// one space, and the result is trimmed and cut to max characters.
func OneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if max > 0 && utf8.RuneCountInString(out) > max {
		out = string([]rune(out)[:max-1]) + "…"
	}
	return out
}

// render runs the templates of kind for each language and returns the
// subject, text body and HTML body. after is appended to both bodies once
// (a transcript), after every language's section.
func render(kind string, langs []string, d func(lang string) data, afterText string, afterHTML htmltemplate.HTML) (subject, text, html string, err error) {
	var subjects, texts []string
	var sections []section
	for _, l := range langs {
		dd := d(l)
		var s, t, h bytes.Buffer
		if tmpl := textSet.Lookup(kind + ".subject." + l); tmpl != nil {
			if err := tmpl.Execute(&s, dd); err != nil {
				return "", "", "", fmt.Errorf("templates: %s subject: %w", kind, err)
			}
			subjects = append(subjects, s.String())
		}
		if err := textSet.ExecuteTemplate(&t, kind+"."+l, dd); err != nil {
			return "", "", "", fmt.Errorf("templates: %s text: %w", kind, err)
		}
		if err := htmlSet.ExecuteTemplate(&h, kind+"."+l, dd); err != nil {
			return "", "", "", fmt.Errorf("templates: %s html: %w", kind, err)
		}
		texts = append(texts, strings.TrimSpace(t.String()))
		// h is html/template's output: escaped already.
		sections = append(sections, section{Lang: l, Body: htmltemplate.HTML(h.String())})
	}
	subject = OneLine(strings.Join(subjects, " / "), maxNoticeSubject)
	text = strings.Join(texts, "\n\n----\n\n") + "\n"
	if afterText != "" {
		text += "\n----\n\n" + afterText
	}
	var h bytes.Buffer
	err = htmlSet.ExecuteTemplate(&h, "layout", map[string]any{
		"Lang": langs[0], "Subject": subject, "Sections": sections, "After": afterHTML,
	})
	if err != nil {
		return "", "", "", fmt.Errorf("templates: %s layout: %w", kind, err)
	}
	return subject, text, h.String(), nil
}

// base is the data every kind shares.
func (c *Composer) base(d switchboard.Department, ch switchboard.Chat, v switchboard.Visitor, operator string) func(string) data {
	dept := d.Name
	if dept == "" {
		dept = ch.DepartmentName
	}
	return func(l string) data {
		out := data{Dept: OneLine(dept, maxSubjectPart), Link: c.ChatLink(ch.ID), Chat: ch, Visitor: v,
			Who: OneLine(who(v, l), maxSubjectPart), Operator: operator, Started: stamp(ch.StartedAt)}
		if ch.EndedAt != nil {
			out.Ended = stamp(*ch.EndedAt)
		}
		return out
	}
}

// notice fills the envelope of a department notice.
func notice(kind switchboard.MailKind, d switchboard.Department, chatID string, to []string) switchboard.Mail {
	return switchboard.Mail{Kind: kind, ChatID: chatID, DepartmentID: d.ID, From: d.Email.FromAddress,
		To: append([]string{}, to...), CC: []string{}}
}

// transcriptBodies renders t as text and as an HTML fragment.
func transcriptBodies(t history.Transcript) (string, htmltemplate.HTML, error) {
	var text, html bytes.Buffer
	if err := history.Render(&text, "text", t); err != nil {
		return "", "", fmt.Errorf("templates: transcript: %w", err)
	}
	if err := history.RenderHTMLFragment(&html, t); err != nil {
		return "", "", fmt.Errorf("templates: transcript: %w", err)
	}
	// html is html/template's output: escaped already.
	return text.String(), htmltemplate.HTML(html.String()), nil
}

// Transcript is the email of a chat's transcript to the department's
// transcript addresses (sent when the chat ends). t carries the chat, its
// messages and the names; the recipients are d's transcript setting's, none
// when it is off.
func (c *Composer) Transcript(d switchboard.Department, t history.Transcript) (switchboard.Mail, error) {
	m := notice(switchboard.MailTranscript, d, t.Chat.ID, d.Email.Transcript.Recipients())
	v := switchboard.Visitor{Name: t.VisitorName, Email: t.VisitorEmail}
	text, html, err := transcriptBodies(t)
	if err != nil {
		return m, err
	}
	m.Subject, m.TextBody, m.HTMLBody, err = render("transcript", staffLangs(d), c.base(d, t.Chat, v, t.OperatorName), text, html)
	return m, err
}

// Missed is the notice of a chat nobody answered, with the visitor's
// question and contact details, to the department's missed-chat addresses.
func (c *Composer) Missed(d switchboard.Department, ch switchboard.Chat, v switchboard.Visitor) (switchboard.Mail, error) {
	m := notice(switchboard.MailMissed, d, ch.ID, d.Email.Missed.Recipients())
	if ch.VisitorIP == "" {
		ch.VisitorIP = v.IP
	}
	if ch.PageURL == "" {
		ch.PageURL = v.PageURL
	}
	var err error
	m.Subject, m.TextBody, m.HTMLBody, err = render("missed", staffLangs(d), c.base(d, ch, v, ""), "", "")
	return m, err
}

// Feedback forwards a visitor's rating and comment to the department's
// feedback addresses.
func (c *Composer) Feedback(d switchboard.Department, ch switchboard.Chat, v switchboard.Visitor, operator string, f switchboard.Feedback) (switchboard.Mail, error) {
	m := notice(switchboard.MailFeedback, d, ch.ID, d.Email.Feedback.Recipients())
	base := c.base(d, ch, v, operator)
	rating := min(max(f.Rating, 0), 5)
	stars := strings.Repeat("★", rating) + strings.Repeat("☆", 5-rating)
	var err error
	m.Subject, m.TextBody, m.HTMLBody, err = render("feedback", staffLangs(d), func(l string) data {
		dd := base(l)
		dd.Rating, dd.Stars, dd.Comment = rating, stars, f.Comment
		return dd
	}, "", "")
	return m, err
}

// BlockedIP tells the department's blocked-IP addresses that by (an
// operator's "Name <email>", or "" when unknown) blocked b.
func (c *Composer) BlockedIP(d switchboard.Department, b switchboard.BlockedIP, by string) (switchboard.Mail, error) {
	m := notice(switchboard.MailBlockedIP, d, b.ChatID, d.Email.BlockedIP.Recipients())
	base := c.base(d, switchboard.Chat{ID: b.ChatID}, switchboard.Visitor{}, "")
	var err error
	m.Subject, m.TextBody, m.HTMLBody, err = render("blocked_ip", staffLangs(d), func(l string) data {
		dd := base(l)
		dd.Block, dd.By, dd.BlockedAt = b, by, stamp(b.CreatedAt)
		if b.ExpiresAt != nil {
			dd.Expires = stamp(*b.ExpiresAt)
		}
		return dd
	}, "", "")
	return m, err
}

// TranscriptMode says whether and how an email to a visitor carries the
// chat's transcript.
type TranscriptMode string

const (
	NoTranscript       TranscriptMode = ""
	TranscriptInline   TranscriptMode = "inline"     // in both bodies
	TranscriptAttached TranscriptMode = "attachment" // a text file
)

// VisitorMail is what an operator writes to a visitor.
type VisitorMail struct {
	Subject  string // one line, at most MaxSubject characters
	Body     string // at most MaxBody characters
	Operator string // the sender's name, signed under the body
	// Transcript is the chat's transcript, used as Mode says.
	Transcript history.Transcript
	Mode       TranscriptMode
}

// Check validates what the operator wrote, naming the field at fault:
// subject and body are required, within their limits, and the subject is
// one line (CR or LF in it is refused rather than silently mended: the
// operator sees what went out).
func (in VisitorMail) Check() error {
	switch {
	case strings.TrimSpace(in.Subject) == "":
		return switchboard.Invalid("subject", "is required")
	case strings.ContainsAny(in.Subject, "\r\n\u2028\u2029"):
		return switchboard.Invalid("subject", "must be one line (no CR or LF)")
	case !utf8.ValidString(in.Subject) || strings.ContainsRune(in.Subject, 0):
		return switchboard.Invalid("subject", "must be valid UTF-8 text")
	case utf8.RuneCountInString(in.Subject) > MaxSubject:
		return switchboard.Invalid("subject", "is longer than %d characters", MaxSubject)
	case strings.TrimSpace(in.Body) == "":
		return switchboard.Invalid("body", "is required")
	case !utf8.ValidString(in.Body) || strings.ContainsRune(in.Body, 0):
		return switchboard.Invalid("body", "must be valid UTF-8 text")
	case utf8.RuneCountInString(in.Body) > MaxBody:
		return switchboard.Invalid("body", "is longer than %d characters", MaxBody)
	}
	switch in.Mode {
	case NoTranscript, TranscriptInline, TranscriptAttached:
	default:
		return switchboard.Invalid("include_transcript", "must be false, true, %q or %q", TranscriptInline, TranscriptAttached)
	}
	return nil
}

// Visitor is an operator's email to the visitor of ch, in the chat's
// locale, from the department's from-address, with the department's CC
// addresses copied. The visitor's email address is v.Email (the caller
// checks there is one). in is validated first (see VisitorMail.Check).
func (c *Composer) Visitor(d switchboard.Department, ch switchboard.Chat, v switchboard.Visitor, in VisitorMail) (switchboard.Mail, error) {
	if err := in.Check(); err != nil {
		return switchboard.Mail{}, err
	}
	m := switchboard.Mail{Kind: switchboard.MailVisitor, ChatID: ch.ID, DepartmentID: d.ID, From: d.Email.FromAddress,
		To: []string{v.Email}, CC: append([]string{}, d.Email.CC.Recipients()...)}
	base := c.base(d, ch, v, in.Operator)
	l := lang(ch.Locale)
	dd := base(l)
	dd.Link = "" // the console is for staff
	dd.Body = strings.ReplaceAll(strings.TrimSpace(in.Body), "\r\n", "\n")
	switch in.Mode {
	case TranscriptInline:
		var err error
		if dd.Transcript, dd.TranscriptHTML, err = transcriptBodies(in.Transcript); err != nil {
			return m, err
		}
	case TranscriptAttached:
		var b bytes.Buffer
		if err := history.Render(&b, "text", in.Transcript); err != nil {
			return m, fmt.Errorf("templates: transcript: %w", err)
		}
		m.Attachment, m.AttachmentDoc = "transcript-"+safeName(ch.ID)+".txt", b.Bytes()
		dd.Attached = true
	}
	_, text, html, err := render("visitor", []string{l}, func(string) data { return dd }, "", "")
	if err != nil {
		return m, err
	}
	m.Subject, m.TextBody, m.HTMLBody = OneLine(in.Subject, MaxSubject), text, html
	return m, nil
}

// safeName keeps letters, digits, '-' and '_' of an id for a file name.
func safeName(s string) string {
	out := strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			return r
		}
		return -1
	}, s)
	if out == "" {
		return "chat"
	}
	return out
}
