package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

type mailOut struct {
	ID             string   `json:"id"`
	Kind           string   `json:"kind"`
	ChatID         string   `json:"chat_id"`
	DepartmentID   string   `json:"department_id"`
	MessageID      string   `json:"message_id"`
	From           string   `json:"from"`
	To             []string `json:"to"`
	CC             []string `json:"cc"`
	Subject        string   `json:"subject"`
	AttachmentName string   `json:"attachment_name"`
	Status         string   `json:"status"`
	Attempts       int      `json:"attempts"`
	NextAttemptAt  string   `json:"next_attempt_at"`
	LastError      string   `json:"last_error"`
	CreatedAt      string   `json:"created_at"`
	SentAt         *string  `json:"sent_at"`
}

// TestChatEmail: POST /api/chats/{id}/email queues the visitor's email with
// the department's from-address and CC, audits it, follows the detail
// view's access rules and names the field of every refusal.
func TestChatEmail(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := t.Context()
		e.admin.do("PATCH", "/api/departments/"+e.dept.ID, map[string]any{"email": map[string]any{
			"from_address": "desk@example.com",
			"cc":           map[string]any{"enabled": true, "to": "archive@example.com, boss@example.com"},
		}}, 200, nil)
		var other switchboard.Department
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Support", "visibility": "public", "enabled": true}, 201, &other)
		op, opc := e.newOperator("Olga", switchboard.RoleOperator)
		e.admin.do("PUT", "/api/departments/"+e.dept.ID+"/operators/"+op.ID, nil, 204, nil)

		v := switchboard.Visitor{ID: switchboard.NewID(), Name: "Kenji", Email: "kenji@example.jp"}
		done := e.endedChat(e.dept, v, op.ID)
		ongoing := e.newChat(e.dept, "Ann", "ann@example.com")
		noEmail := e.newChat(e.dept, "Nobody", "")
		otherChat := e.newChat(other, "Bea", "bea@example.com")

		// Reply by email from a completed chat, transcript attached.
		var m mailOut
		opc.do("POST", "/api/chats/"+done.ID+"/email", map[string]any{"subject": "Your order", "body": "Hello Kenji,\nhere it is.", "include_transcript": true}, 202, &m)
		if m.ID == "" || m.Kind != "visitor" || m.Status != "pending" || m.ChatID != done.ID || m.From != "desk@example.com" ||
			!slices.Equal(m.To, []string{"kenji@example.jp"}) || !slices.Equal(m.CC, []string{"archive@example.com", "boss@example.com"}) ||
			m.Subject != "Your order" || m.AttachmentName != "transcript-"+done.ID+".txt" {
			t.Fatalf("queued = %+v", m)
		}
		mails, err := st.ChatMails(ctx, done.ID)
		if err != nil || len(mails) != 1 {
			t.Fatalf("outbox of the chat = %+v, %v", mails, err)
		}
		if !strings.Contains(string(mails[0].AttachmentDoc), "hi <b>") || !strings.Contains(mails[0].TextBody, "Hello Kenji,\nhere it is.") ||
			!strings.Contains(mails[0].TextBody, "Olga") || mails[0].HTMLBody == "" {
			t.Fatalf("stored mail = %+v", mails[0])
		}
		log, _, err := st.AuditLog(ctx, store.Page{})
		if err != nil || len(log) == 0 || log[0].Action != "chat.email" || log[0].ObjectID != done.ID || log[0].ActorID != op.ID {
			t.Fatalf("audit log = %+v, %v", log, err)
		}

		// Send email from an ongoing chat, transcript inline; CC off.
		e.admin.do("PATCH", "/api/departments/"+e.dept.ID, map[string]any{"email": map[string]any{"cc": map[string]any{"enabled": false}}}, 200, nil)
		opc.do("POST", "/api/chats/"+ongoing.ID+"/email", map[string]any{"subject": "Re: <b>", "body": "<i>see</i>", "include_transcript": "inline"}, 202, &m)
		if len(m.CC) != 0 || m.AttachmentName != "" || m.To[0] != "ann@example.com" {
			t.Fatalf("queued = %+v", m)
		}
		mails, _ = st.ChatMails(ctx, ongoing.ID)
		if len(mails) != 1 || !strings.Contains(mails[0].HTMLBody, "&lt;i&gt;see&lt;/i&gt;") || strings.Contains(mails[0].HTMLBody, "<i>") {
			t.Fatalf("stored mail = %+v", mails)
		}

		// Refusals name the field; nothing is queued.
		path := "/api/chats/" + done.ID + "/email"
		ok := map[string]any{"subject": "s", "body": "b"}
		with := func(k string, v any) map[string]any {
			out := map[string]any{}
			for kk, vv := range ok {
				out[kk] = vv
			}
			out[k] = v
			return out
		}
		opc.fails("POST", path, with("subject", "hi\r\nBcc: evil@example.com"), 422, "bad_request", "subject")
		opc.fails("POST", path, with("subject", "hi\nthere"), 422, "bad_request", "subject")
		opc.fails("POST", path, with("subject", " "), 422, "bad_request", "subject")
		opc.fails("POST", path, with("subject", strings.Repeat("x", 201)), 422, "bad_request", "subject")
		opc.fails("POST", path, map[string]any{"body": "b"}, 422, "bad_request", "subject")
		opc.fails("POST", path, with("body", ""), 422, "bad_request", "body")
		opc.fails("POST", path, with("body", strings.Repeat("x", 20001)), 422, "bad_request", "body")
		opc.fails("POST", path, with("include_transcript", "fax"), 422, "bad_request", "include_transcript")
		opc.fails("POST", path, with("include_transcript", 1), 422, "bad_request", "include_transcript")
		opc.fails("POST", path, with("subject", 5), 400, "bad_request", "subject")
		opc.fails("POST", path, with("bcc", "x@example.com"), 400, "bad_request", "bcc")
		opc.fails("POST", "/api/chats/"+noEmail.ID+"/email", ok, 409, "conflict", "visitor.email")
		opc.fails("POST", "/api/chats/"+otherChat.ID+"/email", ok, 404, "not_found", "")
		opc.fails("POST", "/api/chats/no-such-chat/email", ok, 404, "not_found", "")
		e.anon().fails("POST", path, ok, 401, "unauthorized", "")
		mails, _ = st.ChatMails(ctx, done.ID)
		if len(mails) != 1 {
			t.Fatalf("refused requests queued mail: %d mails", len(mails))
		}
		// Supervisors and admins reach every chat.
		e.admin.do("POST", "/api/chats/"+otherChat.ID+"/email", ok, 202, &m)
		if m.From != "" || m.To[0] != "bea@example.com" {
			t.Fatalf("mail of a department without from-address = %+v", m)
		}
	})
}
