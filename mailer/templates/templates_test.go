package templates

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/history"
)

const xss = `<script>alert("x")</script>`

func fixtures(locale string) (switchboard.Department, switchboard.Chat, switchboard.Visitor, history.Transcript) {
	start := time.Date(2026, 11, 24, 9, 15, 0, 0, time.UTC)
	end := start.Add(10 * time.Minute)
	d := switchboard.Department{ID: "d1", Name: "Sales " + xss, Email: switchboard.EmailSettings{
		FromAddress: "desk@example.com",
		Transcript:  switchboard.EmailSetting{Enabled: true, To: []string{"t@example.com"}},
		Missed:      switchboard.EmailSetting{Enabled: true, To: []string{"m@example.com", "n@example.com"}},
		Feedback:    switchboard.EmailSetting{Enabled: true, To: []string{"f@example.com"}},
		BlockedIP:   switchboard.EmailSetting{Enabled: true, To: []string{"b@example.com"}},
		CC:          switchboard.EmailSetting{Enabled: true, To: []string{"cc@example.com"}},
	}}
	ch := switchboard.Chat{ID: "c1", DepartmentID: "d1", DepartmentName: d.Name, Status: switchboard.ChatCompleted,
		Question: "price?\n" + xss, Locale: locale, VisitorIP: "192.0.2.1", PageURL: "https://shop.example/p?a=1&b=2",
		StartedAt: start, EndedAt: &end}
	v := switchboard.Visitor{ID: "v1", Name: "Eve\r\nBcc: evil@example.com " + xss, Email: "eve@example.com"}
	t := history.Transcript{Chat: ch, VisitorName: v.Name, VisitorEmail: v.Email, OperatorName: "Olga",
		Messages: []switchboard.Message{
			{Seq: 1, FromKind: switchboard.FromVisitor, FromName: v.Name, Body: "hi " + xss, At: start},
			{Seq: 2, FromKind: switchboard.FromOperator, FromName: "Olga", Body: "hello & welcome", At: start.Add(time.Second)},
		}}
	return d, ch, v, t
}

// checkMail checks what every email must be: one-line subject, both
// bodies, no unescaped user markup in HTML.
func checkMail(t *testing.T, m switchboard.Mail, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject %q: empty or more than one line", m.Subject)
	}
	if m.TextBody == "" || m.HTMLBody == "" {
		t.Fatalf("a body is missing: text %q html %q", m.TextBody, m.HTMLBody)
	}
	if strings.Contains(m.HTMLBody, "<script") {
		t.Errorf("user markup unescaped in HTML:\n%s", m.HTMLBody)
	}
	if !strings.HasPrefix(m.HTMLBody, "<!DOCTYPE html>") {
		t.Errorf("HTML body is not a document:\n%s", m.HTMLBody)
	}
}

func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func TestNotices(t *testing.T) {
	c, err := New("https://chat.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	d, ch, v, tr := fixtures("ja")

	m, err := c.Transcript(d, tr)
	checkMail(t, m, err)
	if m.Kind != switchboard.MailTranscript || m.From != "desk@example.com" || len(m.To) != 1 || m.To[0] != "t@example.com" || len(m.CC) != 0 {
		t.Errorf("transcript envelope = %+v", m)
	}
	// No department locale: English and Japanese; the transcript itself in
	// the chat's locale (ja).
	contains(t, "transcript text", m.TextBody, "has ended", "終了しました", "チャット履歴", "hi "+xss, "Olga",
		"https://chat.example.com/#/chats/c1")
	contains(t, "transcript html", m.HTMLBody, "hi &lt;script&gt;", "hello &amp; welcome", `href="https://chat.example.com/#/chats/c1"`,
		"Sales &lt;script&gt;")
	contains(t, "transcript subject", m.Subject, "Chat transcript", "チャット履歴", "Eve Bcc: evil@example.com")

	m, err = c.Missed(d, ch, v)
	checkMail(t, m, err)
	if m.Kind != switchboard.MailMissed || len(m.To) != 2 {
		t.Errorf("missed envelope = %+v", m)
	}
	contains(t, "missed text", m.TextBody, "price?\n"+xss, "eve@example.com", "192.0.2.1", "https://shop.example/p?a=1&b=2", "質問")
	contains(t, "missed html", m.HTMLBody, "price?<br>\n&lt;script&gt;", `href="mailto:eve@example.com"`, "a=1&amp;b=2")

	m, err = c.Feedback(d, ch, v, "Olga", switchboard.Feedback{ChatID: "c1", Rating: 4, Comment: "nice " + xss})
	checkMail(t, m, err)
	contains(t, "feedback text", m.TextBody, "★★★★☆", "nice "+xss, "Olga", "評価")
	contains(t, "feedback subject", m.Subject, "4/5")

	exp := ch.StartedAt.Add(time.Hour)
	m, err = c.BlockedIP(d, switchboard.BlockedIP{IP: "192.0.2.1", Reason: "spam " + xss, ChatID: "c1", CreatedAt: ch.StartedAt, ExpiresAt: &exp}, "Olga <olga@example.com>")
	checkMail(t, m, err)
	contains(t, "blocked text", m.TextBody, "Olga <olga@example.com> blocked the IP address 192.0.2.1", "spam "+xss, "2026-11-24 10:15 UTC", "ブロック")
	contains(t, "blocked html", m.HTMLBody, "Olga &lt;olga@example.com&gt;", "spam &lt;script&gt;")
	contains(t, "blocked subject", m.Subject, "192.0.2.1")

	// A department locale picks one language.
	d.Locale = "en"
	m, err = c.Missed(d, ch, v)
	checkMail(t, m, err)
	if strings.Contains(m.TextBody, "質問") || strings.Contains(m.Subject, "未対応") {
		t.Errorf("an English department's notice has Japanese:\n%s", m.TextBody)
	}
	d.Locale = "ja"
	m, err = c.Missed(d, ch, v)
	checkMail(t, m, err)
	if strings.Contains(m.TextBody, "Question") || !strings.HasPrefix(m.Subject, "[Sales") || !strings.Contains(m.Subject, "未対応") {
		t.Errorf("a Japanese department's notice: %q\n%s", m.Subject, m.TextBody)
	}

	// Off switches mean no recipients; without a public URL, no links.
	d.Email.Missed.Enabled = false
	plain := &Composer{}
	m, err = plain.Missed(d, ch, v)
	checkMail(t, m, err)
	if len(m.To) != 0 || strings.Contains(m.TextBody, "#/chats") {
		t.Errorf("missed with the switch off: to %v, body\n%s", m.To, m.TextBody)
	}
}

func TestVisitorMail(t *testing.T) {
	c, _ := New("https://chat.example.com")
	for _, locale := range []string{"en", "ja-JP"} {
		d, ch, v, tr := fixtures(locale)
		in := VisitorMail{Subject: "Your question " + xss, Body: "Dear Eve,\n" + xss + "\nbye", Operator: "Olga", Transcript: tr}

		m, err := c.Visitor(d, ch, v, in)
		checkMail(t, m, err)
		if m.Kind != switchboard.MailVisitor || m.To[0] != "eve@example.com" || len(m.CC) != 1 || m.CC[0] != "cc@example.com" || m.Attachment != "" {
			t.Errorf("envelope = %+v", m)
		}
		if m.Subject != "Your question "+xss {
			t.Errorf("subject = %q", m.Subject)
		}
		contains(t, "text", m.TextBody, "Dear Eve,\n"+xss+"\nbye", "Olga")
		contains(t, "html", m.HTMLBody, "Dear Eve,<br>\n&lt;script&gt;")
		if strings.Contains(m.TextBody, "hi "+xss) || strings.Contains(m.TextBody, "#/chats") {
			t.Errorf("transcript or console link without asking:\n%s", m.TextBody)
		}

		in.Mode = TranscriptInline
		m, err = c.Visitor(d, ch, v, in)
		checkMail(t, m, err)
		contains(t, "inline text", m.TextBody, "hi "+xss, "hello & welcome")
		contains(t, "inline html", m.HTMLBody, "hi &lt;script&gt;")

		in.Mode = TranscriptAttached
		m, err = c.Visitor(d, ch, v, in)
		checkMail(t, m, err)
		if m.Attachment != "transcript-c1.txt" || !strings.Contains(string(m.AttachmentDoc), "hi "+xss) {
			t.Errorf("attachment %q: %q", m.Attachment, m.AttachmentDoc)
		}
		if locale == "ja-JP" {
			contains(t, "ja text", m.TextBody, "チャットの記録を添付しました")
		} else {
			contains(t, "en text", m.TextBody, "transcript of your chat is attached")
		}

		d.Email.CC.Enabled = false
		m, err = c.Visitor(d, ch, v, in)
		checkMail(t, m, err)
		if len(m.CC) != 0 {
			t.Errorf("CC %v with the CC switch off", m.CC)
		}
	}
}

func TestVisitorMailRefusesBadInput(t *testing.T) {
	d, ch, v, _ := fixtures("en")
	ok := VisitorMail{Subject: "hi", Body: "hello"}
	cases := []struct {
		field string
		mod   func(*VisitorMail)
	}{
		{"subject", func(in *VisitorMail) { in.Subject = " " }},
		{"subject", func(in *VisitorMail) { in.Subject = "hi\r\nBcc: evil@example.com" }},
		{"subject", func(in *VisitorMail) { in.Subject = "hi\nthere" }},
		{"subject", func(in *VisitorMail) { in.Subject = strings.Repeat("x", MaxSubject+1) }},
		{"body", func(in *VisitorMail) { in.Body = "\n " }},
		{"body", func(in *VisitorMail) { in.Body = strings.Repeat("あ", MaxBody+1) }},
		{"include_transcript", func(in *VisitorMail) { in.Mode = "fax" }},
	}
	for _, c := range cases {
		in := ok
		c.mod(&in)
		_, err := (&Composer{}).Visitor(d, ch, v, in)
		var ve *switchboard.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%+v: %v, want a validation error for %q", in, err, c.field)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nBcc: x@y":    "a Bcc: x@y",
		"  a\t\tb \x00 c ": "a b c",
		"a\u2028b":         "a b",
		"日本語":              "日本語",
	} {
		if got := OneLine(in, 0); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
	if got := OneLine(strings.Repeat("あ", 10), 5); got != "ああああ…" {
		t.Errorf("cut = %q", got)
	}
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"javascript:alert(1)", "/relative", "ftp://x"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// Subjects fit the outbox's 998 bytes whatever the names: a department
// name at its longest and a long visitor name, in three-byte characters,
// in both languages.
func TestLongNamesKeepSubjectsShort(t *testing.T) {
	d, ch, v, tr := fixtures("ja")
	d.Name = strings.Repeat("部", 100)
	v.Name = strings.Repeat("名", 2000)
	tr.VisitorName = v.Name
	c := &Composer{}
	check := func(kind string, m switchboard.Mail, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Subject) > 998 || !strings.HasPrefix(m.Subject, "["+strings.Repeat("部", 10)) {
			t.Errorf("%s subject is %d bytes: %q", kind, len(m.Subject), m.Subject)
		}
	}
	m, err := c.Transcript(d, tr)
	check("transcript", m, err)
	m, err = c.Missed(d, ch, v)
	check("missed", m, err)
	m, err = c.Feedback(d, ch, v, "", switchboard.Feedback{Rating: 1})
	check("feedback", m, err)
	m, err = c.BlockedIP(d, switchboard.BlockedIP{IP: "2001:db8::/32"}, "")
	check("blocked", m, err)
}
