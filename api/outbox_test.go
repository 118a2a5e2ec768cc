package api_test

import (
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// TestOutbox: GET /api/outbox lists mail for admins with attempts and last
// errors, filtered by status and kind; a failed mail can be retried.
func TestOutbox(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := t.Context()
		enqueue := func(kind switchboard.MailKind, subject string) switchboard.Mail {
			m := switchboard.Mail{Kind: kind, From: "desk@example.com", To: []string{"a@example.com"}, Subject: subject, TextBody: "x"}
			if err := st.EnqueueMail(ctx, &m); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			return m
		}
		a := enqueue(switchboard.MailTranscript, "a")
		b := enqueue(switchboard.MailMissed, "b")
		c := enqueue(switchboard.MailMissed, "c")
		if err := st.MailFailed(ctx, b.ID, "550 5.1.1 no such user"); err != nil {
			t.Fatal(err)
		}
		if err := st.MailSent(ctx, c.ID, time.Now()); err != nil {
			t.Fatal(err)
		}

		type mailList struct {
			Items      []mailOut `json:"items"`
			NextCursor *string   `json:"next_cursor"`
		}
		var l mailList
		e.admin.do("GET", "/api/outbox", nil, 200, &l)
		if len(l.Items) != 3 || l.Items[0].ID != c.ID || l.Items[2].ID != a.ID || l.NextCursor != nil {
			t.Fatalf("outbox = %+v", l)
		}
		e.admin.do("GET", "/api/outbox?status=failed", nil, 200, &l)
		if len(l.Items) != 1 || l.Items[0].ID != b.ID || l.Items[0].LastError != "550 5.1.1 no such user" || l.Items[0].Attempts != 1 || l.Items[0].Status != "failed" {
			t.Fatalf("failed = %+v", l)
		}
		e.admin.do("GET", "/api/outbox?kind=missed&status=sent", nil, 200, &l)
		if len(l.Items) != 1 || l.Items[0].ID != c.ID || l.Items[0].SentAt == nil {
			t.Fatalf("sent missed = %+v", l)
		}
		e.admin.do("GET", "/api/outbox?limit=2", nil, 200, &l)
		if len(l.Items) != 2 || l.NextCursor == nil {
			t.Fatalf("first page = %+v", l)
		}
		e.admin.do("GET", "/api/outbox?limit=2&cursor="+*l.NextCursor, nil, 200, &l)
		if len(l.Items) != 1 || l.Items[0].ID != a.ID {
			t.Fatalf("second page = %+v", l)
		}
		e.admin.fails("GET", "/api/outbox?status=lost", nil, 400, "bad_request", "status")
		e.admin.fails("GET", "/api/outbox?kind=spam", nil, 400, "bad_request", "kind")
		e.admin.fails("GET", "/api/outbox?limit=0", nil, 400, "bad_request", "limit")
		e.admin.fails("GET", "/api/outbox?cursor=garbage", nil, 400, "bad_request", "cursor")

		_, sup := e.newOperator("Sam Super", switchboard.RoleSupervisor)
		sup.fails("GET", "/api/outbox", nil, 403, "forbidden", "")
		sup.fails("POST", "/api/outbox/"+b.ID+"/retry", nil, 403, "forbidden", "")

		var m mailOut
		e.admin.do("POST", "/api/outbox/"+b.ID+"/retry", nil, 200, &m)
		if m.ID != b.ID || m.Status != "pending" || m.Attempts != 1 || m.LastError == "" {
			t.Fatalf("retried = %+v", m)
		}
		e.admin.fails("POST", "/api/outbox/"+b.ID+"/retry", nil, 409, "conflict", "status")
		e.admin.fails("POST", "/api/outbox/no-such-mail/retry", nil, 404, "not_found", "")
		e.admin.do("GET", "/api/outbox?status=failed", nil, 200, &l)
		if len(l.Items) != 0 {
			t.Fatalf("failed after the retry = %+v", l)
		}
	})
}
