package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/mailer"
	"github.com/switchboard-chat/switchboard/store"
)

// TestBlockNoticeIsMailed: the server's mail worker sends what the outbox
// holds through real SMTP — here the blocked-IP notice of a department
// whose setting lists two addresses, from its own from-address.
func TestBlockNoticeIsMailed(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		pit := testenv.SMTP(t)
		smtp, err := mailer.NewSMTP(pit.SMTPURL, mailer.SMTPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(t, st, nodeOptions{mail: smtp})
		n.api(n.adminToken, "PATCH", "/api/departments/"+n.dept.ID, map[string]any{"email": map[string]any{
			"from_address": "support@example.com",
			"blocked_ip":   map[string]any{"enabled": true, "to": "sec@example.com, lead@example.com"},
		}}, 200, nil)
		_, tok := n.operator("opal", 5, n.dept.ID)
		op := n.operatorConn("opal", tok)
		op.waitType("hello", wait)
		op.ok(frame{"type": "status.set", "status": "online"})
		v := n.visitor("spammer", n.dept.WidgetKey, "")
		v.waitType("hello", wait)
		chatID := v.ok(frame{"type": "chat.start", "question": "buy cheap watches"}).str("chat_id")
		op.wait(wait, "offer", func(f frame) bool { return f.str("type") == "chat.offer" && f.str("chat_id") == chatID })
		op.ok(frame{"type": "chat.accept", "chat_id": chatID})
		op.ok(frame{"type": "visitor.block", "chat_id": chatID, "reason": "spam"})

		msgs := pit.WaitMessages(t, 1, 20*time.Second)
		m := msgs[0]
		var to []string
		for _, a := range m.To {
			to = append(to, a.Address)
		}
		slices.Sort(to)
		if m.From.Address != "support@example.com" || !slices.Equal(to, []string{"lead@example.com", "sec@example.com"}) {
			t.Fatalf("mail from %v to %v", m.From, to)
		}
		if !strings.Contains(m.Text, "127.0.0.1") || !strings.Contains(m.Text, "spam") {
			t.Fatalf("the notice does not say which IP and why:\n%s", m.Text)
		}
	})
}
