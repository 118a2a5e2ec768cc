package server_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/mailer"
	"github.com/switchboard-chat/switchboard/store"
)

// fastMail makes the server's mail worker poll and retry within a test's
// patience.
var fastMail = mailer.Config{Interval: 50 * time.Millisecond, BackoffBase: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond,
	Lease: 10 * time.Second, SendTimeout: 5 * time.Second}

func addresses(as []testenv.MailpitAddress) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Address)
	}
	slices.Sort(out)
	return out
}

// mailScenario drives one department through every event that mails —
// an answered chat ended by its operator (transcript), the visitor's
// feedback, an IP block, a chat missed because nobody is online, and the
// operator's reply by email to the missed chat with its transcript
// attached — and returns the missed chat's id.
func mailScenario(t *testing.T, n *node) (missedID string) {
	t.Helper()
	_, tok := n.operator("olga", 5, n.dept.ID)
	op := n.operatorConn("olga", tok)
	op.waitType("hello", wait)
	op.ok(frame{"type": "status.set", "status": "online"})

	ann := n.visitor("ann", n.dept.WidgetKey, "")
	ann.waitType("hello", wait)
	chatID := ann.ok(frame{"type": "chat.start", "name": "Ann <b>", "email": "ann@example.com", "question": "Where is my order?"}).str("chat_id")
	op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
	op.ok(frame{"type": "chat.accept", "chat_id": chatID})
	ann.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m1", "body": "it is late <script>x</script>"})
	op.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m2", "body": "on its way"})
	op.ok(frame{"type": "chat.end", "chat_id": chatID})
	ann.ok(frame{"type": "feedback", "chat_id": chatID, "rating": 4, "comment": "quick & kind"})

	n.api(n.adminToken, "POST", "/api/blocked-ips", map[string]any{"ip": "198.51.100.7", "reason": "spam", "department_id": n.dept.ID}, 201, nil)

	op.ok(frame{"type": "status.set", "status": "away"})
	carl := n.visitor("carl", n.dept.WidgetKey, "")
	carl.waitType("hello", wait)
	ack := carl.ok(frame{"type": "chat.start", "name": "Carl", "email": "carl@example.com", "question": "Do you ship to Japan?"})
	if ack.str("status") != "missed" {
		t.Fatalf("chat.start with nobody online: %v, want missed", ack)
	}
	missedID = ack.str("chat_id")
	n.api(tok, "POST", "/api/chats/"+missedID+"/email", map[string]any{
		"subject": "Re: shipping", "body": "Yes, we do.\nOlga", "include_transcript": "attachment"}, 202, nil)
	return missedID
}

// TestMailSettings: each of the department's six email settings, on and
// off, through the real server, its mail worker, SMTP and Mailpit: with
// exactly one setting on, only that setting's effect shows (the visitor's
// email always goes out, since an operator sent it).
func TestMailSettings(t *testing.T) {
	settings := []string{"", "from_address", "transcript", "blocked_ip", "feedback", "missed", "cc"}
	for i, on := range settings {
		name := on
		if name == "" {
			name = "all_off"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Every backend runs the store's side of this (storetest);
			// here each setting takes turns on the two, to spare the CPU.
			backend := teststore.Backends[i%len(teststore.Backends)]
			st := teststore.Open(t, backend)
			pit := testenv.SMTP(t)
			smtp, err := mailer.NewSMTP(pit.SMTPURL, mailer.SMTPOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n := newNode(t, st, nodeOptions{mail: smtp, mailTuning: fastMail})
			email := map[string]any{"from_address": ""}
			lists := map[string]string{"transcript": "t1@example.com, t2@example.com", "blocked_ip": "b@example.com",
				"feedback": "f@example.com", "missed": "m@example.com", "cc": "cc1@example.com,cc2@example.com"}
			for k, to := range lists {
				// Off keeps the addresses: the switch alone decides.
				email[k] = map[string]any{"enabled": k == on, "to": to}
			}
			if on == "from_address" {
				email["from_address"] = "desk@example.com"
			}
			n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"email": email}, 200, nil)

			missedID := mailScenario(t, n)

			want := 1 // the reply to the visitor
			if on == "transcript" || on == "blocked_ip" || on == "feedback" || on == "missed" {
				want++
			}
			queued, _, err := st.ListMails(t.Context(), store.MailFilter{}, store.Page{})
			if err != nil || len(queued) != want {
				t.Fatalf("outbox holds %d mails (%v), want %d", len(queued), err, want)
			}
			msgs := pit.WaitMessages(t, want, 20*time.Second)
			waitUntil(t, 10*time.Second, "every mail marked sent", func() bool {
				sent, _, err := st.ListMails(t.Context(), store.MailFilter{Status: switchboard.MailSent}, store.Page{})
				return err == nil && len(sent) == want
			})
			if msgs = pit.Messages(t); len(msgs) != want {
				t.Fatalf("%d messages arrived, want %d", len(msgs), want)
			}
			from := "switchboard@localhost"
			if on == "from_address" {
				from = "desk@example.com"
			}
			for _, m := range msgs {
				to := addresses(m.To)
				if m.From.Address != from {
					t.Errorf("%q from %s, want %s", m.Subject, m.From.Address, from)
				}
				if m.Text == "" || m.HTML == "" || strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "Ann <b>") {
					t.Errorf("%q: bodies not both there or not escaped:\n%s\n%s", m.Subject, m.Text, m.HTML)
				}
				cc := addresses(m.Cc)
				switch {
				case slices.Equal(to, []string{"carl@example.com"}):
					if on == "cc" && !slices.Equal(cc, []string{"cc1@example.com", "cc2@example.com"}) || on != "cc" && len(cc) != 0 {
						t.Errorf("reply to the visitor with cc %v (cc setting on: %v)", cc, on == "cc")
					}
					if m.Subject != "Re: shipping" || !strings.Contains(m.Text, "Yes, we do.\nOlga") || !strings.Contains(m.HTML, "Yes, we do.<br>") {
						t.Errorf("reply: %q\n%s\n%s", m.Subject, m.Text, m.HTML)
					}
					if len(m.Attachments) != 1 || m.Attachments[0].FileName != "transcript-"+missedID+".txt" {
						t.Fatalf("reply attachments = %+v", m.Attachments)
					}
					if doc := string(pit.Part(t, m.ID, m.Attachments[0].PartID)); !strings.Contains(doc, "Do you ship to Japan?") {
						t.Errorf("attached transcript:\n%s", doc)
					}
				case on == "transcript" && slices.Equal(to, []string{"t1@example.com", "t2@example.com"}):
					for _, s := range []string{"it is late <script>x</script>", "on its way", "olga", "ann@example.com"} {
						if !strings.Contains(m.Text, s) {
							t.Errorf("transcript text lacks %q:\n%s", s, m.Text)
						}
					}
					if !strings.Contains(m.HTML, "it is late &lt;script&gt;") || !strings.Contains(m.Subject, "Acme") {
						t.Errorf("transcript %q html:\n%s", m.Subject, m.HTML)
					}
				case on == "feedback" && slices.Equal(to, []string{"f@example.com"}):
					if !strings.Contains(m.Text, "quick & kind") || !strings.Contains(m.Subject, "4/5") {
						t.Errorf("feedback %q:\n%s", m.Subject, m.Text)
					}
				case on == "blocked_ip" && slices.Equal(to, []string{"b@example.com"}):
					if !strings.Contains(m.Subject, "198.51.100.7") || !strings.Contains(m.Text, "spam") || !strings.Contains(m.Text, "admin@example.com") {
						t.Errorf("block notice %q:\n%s", m.Subject, m.Text)
					}
				case on == "missed" && slices.Equal(to, []string{"m@example.com"}):
					for _, s := range []string{"Do you ship to Japan?", "Carl", "carl@example.com", "/#/chats/" + missedID} {
						if !strings.Contains(m.Text, s) {
							t.Errorf("missed notice lacks %q:\n%s", s, m.Text)
						}
					}
				default:
					t.Errorf("unexpected mail %q to %v cc %v (setting on: %q)", m.Subject, to, cc, on)
				}
			}
		})
	}
}

// TestTranscriptsSurviveSMTPOutage is the test: SMTP is down
// while five chats end; their transcripts wait in the outbox (retried with
// backoff, visible with their last error), and once SMTP is back all five
// arrive, once each.
func TestTranscriptsSurviveSMTPOutage(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		pit := testenv.SMTP(t)
		// The server's SMTP address refuses connections until the proxy to
		// Mailpit starts listening on it.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		smtp, err := mailer.NewSMTP("smtp://"+addr, mailer.SMTPOptions{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(t, st, nodeOptions{mail: smtp, mailTuning: fastMail})
		n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"email": map[string]any{
			"from_address": "desk@example.com", "transcript": map[string]any{"enabled": true, "to": "log@example.com"}}}, 200, nil)
		_, tok := n.operator("olga", 10, n.dept.ID)
		op := n.operatorConn("olga", tok)
		op.waitType("hello", wait)
		op.ok(frame{"type": "status.set", "status": "online"})

		var chats []string
		for i := range 5 {
			v := n.visitor(fmt.Sprint("v", i), n.dept.WidgetKey, "")
			v.waitType("hello", wait)
			id := v.ok(frame{"type": "chat.start", "name": fmt.Sprint("Visitor ", i), "question": fmt.Sprint("question ", i)}).str("chat_id")
			op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == id })
			op.ok(frame{"type": "chat.accept", "chat_id": id})
			v.ok(frame{"type": "message.send", "chat_id": id, "client_msg_id": "a", "body": fmt.Sprint("body of chat ", i)})
			v.ok(frame{"type": "chat.end", "chat_id": id})
			chats = append(chats, id)
		}

		// Down: every transcript is pending, tried more than once, with
		// the refusal as its last error, and admins see it.
		waitUntil(t, 15*time.Second, "two failed attempts of each transcript", func() bool {
			ms, _, err := st.ListMails(t.Context(), store.MailFilter{Kind: switchboard.MailTranscript}, store.Page{})
			if err != nil || len(ms) != 5 {
				return false
			}
			for _, m := range ms {
				if m.Status != switchboard.MailPending || m.Attempts < 2 {
					return false
				}
			}
			return true
		})
		var pending struct {
			Items []struct {
				Status    string `json:"status"`
				LastError string `json:"last_error"`
				Attempts  int    `json:"attempts"`
			}
		}
		n.api(n.adminToken, "GET", "/api/outbox?status=pending&kind=transcript", nil, 200, &pending)
		if len(pending.Items) != 5 {
			t.Fatalf("pending transcripts listed: %+v", pending)
		}
		for _, it := range pending.Items {
			if !strings.Contains(it.LastError, "refused") || it.Attempts < 2 {
				t.Errorf("pending transcript %+v: want a refused connection after retries", it)
			}
		}
		if msgs := pit.Messages(t); len(msgs) != 0 {
			t.Fatalf("%d messages arrived while SMTP was down", len(msgs))
		}

		// Up again.
		proxySMTP(t, addr, strings.TrimPrefix(pit.SMTPURL, "smtp://"))
		msgs := pit.WaitMessages(t, 5, 20*time.Second)
		waitUntil(t, 10*time.Second, "every transcript marked sent", func() bool {
			ms, _, err := st.ListMails(t.Context(), store.MailFilter{Status: switchboard.MailSent}, store.Page{})
			return err == nil && len(ms) == 5
		})
		time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
		msgs = pit.Messages(t)
		if len(msgs) != 5 {
			t.Fatalf("%d messages arrived, want 5", len(msgs))
		}
		seen := map[string]bool{}
		for _, m := range msgs {
			if m.From.Address != "desk@example.com" || !slices.Equal(addresses(m.To), []string{"log@example.com"}) || m.HTML == "" {
				t.Errorf("transcript %q from %v to %v", m.Subject, m.From, m.To)
			}
			for i, id := range chats {
				if strings.Contains(m.Text, fmt.Sprint("body of chat ", i)) && strings.Contains(m.Text, "/#/chats/"+id) {
					if seen[id] {
						t.Errorf("the transcript of chat %d arrived twice", i)
					}
					seen[id] = true
				}
			}
		}
		if len(seen) != 5 {
			t.Errorf("transcripts of %d chats arrived, want 5", len(seen))
		}
	})
}

// proxySMTP listens on addr (where the SMTP server was down) and relays
// every connection to target, until the test ends.
func proxySMTP(t *testing.T, addr, target string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("SMTP back on %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{})
				go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(c, u)
				c.(*net.TCPConn).CloseWrite()
				<-done
			})
		}
	})
}

// waitUntil polls cond every 20 ms until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVisitorEmails: both ways an operator writes to a visitor, through
// the real server and SMTP — "send email" from an ongoing chat with the
// transcript inline, and "reply by email" from the completed chat with it
// attached — each from the department's from-address with its CC copied.
// (The session does not learn the visitor's locale yet, so these chats are
// English; the Japanese templates are tested in mailer/templates.)
func TestVisitorEmails(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		pit := testenv.SMTP(t)
		smtp, err := mailer.NewSMTP(pit.SMTPURL, mailer.SMTPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(t, st, nodeOptions{mail: smtp, mailTuning: fastMail})
		n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"email": map[string]any{
			"from_address": "desk@example.com", "cc": map[string]any{"enabled": true, "to": "archive@example.com"}}}, 200, nil)
		_, tok := n.operator("olga", 5, n.dept.ID)
		op := n.operatorConn("olga", tok)
		op.waitType("hello", wait)
		op.ok(frame{"type": "status.set", "status": "online"})
		v := n.visitor("yuki", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		chatID := v.ok(frame{"type": "chat.start", "name": "ゆき", "email": "yuki@example.jp", "question": "注文はどこですか？"}).str("chat_id")
		op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		op.ok(frame{"type": "chat.accept", "chat_id": chatID})
		op.ok(frame{"type": "message.send", "chat_id": chatID, "client_msg_id": "m1", "body": "確認します <b>"})

		// Send email from the ongoing chat, transcript inline.
		n.api(tok, "POST", "/api/chats/"+chatID+"/email", map[string]any{
			"subject": "ご注文について", "body": "お待たせしました。\n<i>発送済み</i>です。", "include_transcript": "inline"}, 202, nil)
		msgs := pit.WaitMessages(t, 1, 20*time.Second)
		m := msgs[0]
		if m.From.Address != "desk@example.com" || !slices.Equal(addresses(m.To), []string{"yuki@example.jp"}) ||
			!slices.Equal(addresses(m.Cc), []string{"archive@example.com"}) || m.Subject != "ご注文について" || len(m.Attachments) != 0 {
			t.Fatalf("send email: %q from %v to %v cc %v, %d attachments", m.Subject, m.From, m.To, m.Cc, len(m.Attachments))
		}
		for _, s := range []string{"お待たせしました。\n<i>発送済み</i>です。", "Transcript of your chat", "注文はどこですか？", "確認します <b>", "olga"} {
			if !strings.Contains(m.Text, s) {
				t.Errorf("send email text lacks %q:\n%s", s, m.Text)
			}
		}
		if !strings.Contains(m.HTML, "&lt;i&gt;発送済み&lt;/i&gt;") || !strings.Contains(m.HTML, "確認します &lt;b&gt;") || strings.Contains(m.HTML, "<i>") {
			t.Errorf("send email HTML not escaped:\n%s", m.HTML)
		}

		// Reply by email once the chat is over, transcript attached.
		op.ok(frame{"type": "chat.end", "chat_id": chatID})
		n.api(tok, "POST", "/api/chats/"+chatID+"/email", map[string]any{
			"subject": "Re: ご注文について", "body": "ありがとうございました。", "include_transcript": true}, 202, nil)
		msgs = pit.WaitMessages(t, 2, 20*time.Second)
		m = msgs[1]
		if m.Subject != "Re: ご注文について" || !slices.Equal(addresses(m.Cc), []string{"archive@example.com"}) ||
			!strings.Contains(m.Text, "The transcript of your chat is attached") || strings.Contains(m.Text, "確認します") {
			t.Fatalf("reply: %q cc %v\n%s", m.Subject, m.Cc, m.Text)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].FileName != "transcript-"+chatID+".txt" {
			t.Fatalf("reply attachments = %+v", m.Attachments)
		}
		doc := string(pit.Part(t, m.ID, m.Attachments[0].PartID))
		for _, s := range []string{"Chat transcript", "注文はどこですか？", "確認します <b>"} {
			if !strings.Contains(doc, s) {
				t.Errorf("attached transcript lacks %q:\n%s", s, doc)
			}
		}
		// User text reaches the headers only as the (encoded) subject.
		raw := string(pit.Raw(t, m.ID))
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		if strings.Count(head, "Subject:") != 1 || strings.Contains(head, "ご注文") {
			t.Errorf("headers:\n%s", head)
		}
	})
}
