package console_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/browsertest"
	"github.com/switchboard-chat/switchboard/store"
)

// TestConsoleHistoryPagingFiltersEmailReopenDelete: 55 missed chats page
// with "more"; the visitor and text filters narrow the list; from one
// chat's detail the admin emails the visitor, reopens it, and deletes
// another after confirming.
func TestConsoleHistoryPagingFiltersEmailReopenDelete(t *testing.T) {
	e := newEnv(t)
	ids := map[string]string{} // visitor name -> chat id
	for i := range 55 {
		name, question := fmt.Sprintf("Visitor %02d", i), fmt.Sprintf("question %d", i)
		if i == 7 {
			name, question = "Special Person", "the needle in the haystack"
		}
		c, err := e.st.CreateChat(t.Context(), store.NewChat{DepartmentID: e.dept.ID, Status: switchboard.ChatMissed, Question: question,
			Visitor: switchboard.Visitor{ID: switchboard.NewID(), Name: name, Email: fmt.Sprintf("v%d@example.com", i), IP: "192.0.2.1"}})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = c.ID
	}
	ctx := browsertest.New(t)
	login(t, ctx, e.url, "admin@example.com", "admin-password")
	browsertest.Click(t, ctx, sb("nav-history"))
	waitHistory(t, ctx, "all")
	browsertest.Click(t, ctx, sb("category", `[data-value="missed"]`))
	waitHistory(t, ctx, "missed")
	rows := `document.querySelectorAll('[data-sb="history-row"]').length`
	browsertest.WaitJS(t, ctx, rows+` === 50 && `+sb("more")+`.hidden === false`, 10*time.Second, "the first page")
	browsertest.Click(t, ctx, sb("more"))
	waitHistory(t, ctx, "missed")
	browsertest.WaitJS(t, ctx, rows+` === 55 && `+sb("more")+`.hidden === true`, 10*time.Second, "the second page")
	var distinct int
	browsertest.Eval(t, ctx, `new Set([...document.querySelectorAll('[data-sb="history-row"]')].map(r => r.dataset.chatId)).size`, &distinct)
	if distinct != 55 {
		t.Errorf("%d distinct rows over two pages, want 55", distinct)
	}

	// Filters: visitor, then text in messages.
	browsertest.Eval(t, ctx, `document.querySelector('.filter-box').open = true`, nil)
	browsertest.SetValue(t, ctx, sb("filter-visitor"), "special")
	browsertest.Click(t, ctx, sb("apply-filters"))
	waitHistory(t, ctx, "missed")
	special := sb("history-row", `[data-chat-id="`+ids["Special Person"]+`"]`)
	browsertest.WaitJS(t, ctx, rows+` === 1 && `+special+` != null`, 10*time.Second, "the visitor filter")
	browsertest.SetValue(t, ctx, sb("filter-visitor"), "")
	browsertest.SetValue(t, ctx, sb("filter-q"), "needle")
	browsertest.Click(t, ctx, sb("apply-filters"))
	waitHistory(t, ctx, "missed")
	browsertest.WaitJS(t, ctx, rows+` === 1 && `+special+` != null`, 10*time.Second, "the text filter")

	// Email the visitor.
	browsertest.Click(t, ctx, special)
	browsertest.WaitJS(t, ctx, sb("email-visitor")+`?.disabled === false`, 10*time.Second, "the detail")
	browsertest.Click(t, ctx, sb("email-visitor"))
	browsertest.SetValue(t, ctx, sb("email-subject"), "Your question")
	browsertest.SetValue(t, ctx, sb("email-body"), "Sorry we missed you. Here is the answer.")
	browsertest.Screenshot(t, ctx, "console-email-dialog")
	browsertest.Click(t, ctx, sb("email-send"))
	browsertest.WaitJS(t, ctx, sb("email-dialog")+` == null`, 10*time.Second, "the dialog closed")
	var outbox struct {
		Items []struct {
			ChatID  string `json:"chat_id"`
			Subject string
			To      []string
		}
	}
	e.api(e.adminToken, "GET", "/api/outbox", nil, 200, &outbox)
	found := false
	for _, m := range outbox.Items {
		if m.ChatID == ids["Special Person"] && len(m.To) == 1 && m.To[0] == "v7@example.com" {
			found = true
		}
	}
	if !found {
		t.Errorf("no mail to the visitor in the outbox: %+v", outbox.Items)
	}

	// Reopen it.
	browsertest.Click(t, ctx, sb("reopen"))
	browsertest.WaitJS(t, ctx, sb("toast", `[data-kind="info"]`)+`?.textContent.includes('Reopened')`, 10*time.Second, "reopened")
	var chat struct{ Reopened bool }
	e.api(e.adminToken, "GET", "/api/chats/"+ids["Special Person"], nil, 200, &chat)
	if !chat.Reopened {
		t.Error("the chat is not reopened")
	}
	browsertest.Click(t, ctx, sb("reset-filters"))
	browsertest.WaitJS(t, ctx, sb("filter-q")+`.value === '' && `+rows+` === 50`, 10*time.Second, "the filters reset")
	browsertest.Click(t, ctx, sb("category", `[data-value="reopened"]`))
	waitHistory(t, ctx, "reopened")
	browsertest.WaitJS(t, ctx, rows+` === 1 && `+special+` != null`, 10*time.Second, "the reopened category")

	// Delete another chat, after confirming.
	browsertest.Click(t, ctx, sb("category", `[data-value="missed"]`))
	waitHistory(t, ctx, "missed")
	victim := sb("history-row", `[data-chat-id="`+ids["Visitor 50"]+`"]`)
	browsertest.WaitJS(t, ctx, victim+` != null`, 10*time.Second, "the chat to delete")
	browsertest.Click(t, ctx, victim)
	browsertest.Click(t, ctx, sb("delete-chat"))
	browsertest.Click(t, ctx, sb("confirm-cancel"))
	e.api(e.adminToken, "GET", "/api/chats/"+ids["Visitor 50"], nil, 200, nil)
	browsertest.Click(t, ctx, sb("delete-chat"))
	browsertest.Click(t, ctx, sb("confirm-ok"))
	browsertest.WaitJS(t, ctx, victim+` == null`, 10*time.Second, "the row gone")
	e.api(e.adminToken, "GET", "/api/chats/"+ids["Visitor 50"], nil, 404, nil)
}

// TestConsoleChatLink: the link in a notification email
// (<public-url>/#/chats/<id>) opens that chat's detail in the history view.
func TestConsoleChatLink(t *testing.T) {
	e := newEnv(t)
	c, err := e.st.CreateChat(t.Context(), store.NewChat{DepartmentID: e.dept.ID, Status: switchboard.ChatMissed, Question: "call me back",
		Visitor: switchboard.Visitor{ID: switchboard.NewID(), Name: "Linked Visitor", IP: "192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)
	login(t, ctx, e.url, "admin@example.com", "admin-password")
	browsertest.Run(t, ctx, navigate(e.url+"/#/chats/"+c.ID))
	browsertest.WaitJS(t, ctx, `document.querySelector('.detail-head[data-chat-id="`+c.ID+`"]') != null && `+
		sb("detail-title")+`.textContent === 'Linked Visitor'`, 10*time.Second, "the linked chat's detail")
}
