package api_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/api"
	"github.com/switchboard-chat/switchboard/store"
)

type chatDetailOut struct {
	chatRowOut
	Messages []struct {
		Seq  int64  `json:"seq"`
		Body string `json:"body"`
		At   string `json:"at"`
	} `json:"messages"`
	Transfers []struct {
		ID string `json:"id"`
	} `json:"transfers"`
	Notes []struct {
		ID         string `json:"id"`
		Body       string `json:"body"`
		OperatorID string `json:"operator_id"`
	} `json:"notes"`
	Visitor struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		Email         string `json:"email"`
		IP            string `json:"ip"`
		PageURL       string `json:"page_url"`
		UserAgent     string `json:"user_agent"`
		PreviousChats []struct {
			ID        string `json:"id"`
			Status    string `json:"status"`
			StartedAt string `json:"started_at"`
		} `json:"previous_chats"`
	} `json:"visitor"`
	Feedback *struct {
		Rating  int     `json:"rating"`
		Comment *string `json:"comment"`
	} `json:"feedback"`
}

// endedChat creates a completed chat of visitor v in d, answered by opID,
// with two messages.
func (e *env) endedChat(d switchboard.Department, v switchboard.Visitor, opID string) switchboard.Chat {
	e.t.Helper()
	ctx := e.t.Context()
	ch, err := e.st.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: v, Question: "hello?", PageURL: "https://shop.example/cart"})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.AssignChat(ctx, ch.ID, opID, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.st.AppendMessage(ctx, store.NewMessage{ChatID: ch.ID, ClientMsgID: "a", FromKind: switchboard.FromOperator, FromID: opID, Body: "hi <b>"}); err != nil {
		e.t.Fatal(err)
	}
	if ch, err = e.st.EndChat(ctx, ch.ID, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	return ch
}

func TestChatDetail(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := t.Context()
		var other switchboard.Department
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Support", "visibility": "public", "enabled": true}, 201, &other)
		op, opc := e.newOperator("Olga", switchboard.RoleOperator)
		e.admin.do("PUT", "/api/departments/"+e.dept.ID+"/operators/"+op.ID, nil, 204, nil)
		_, supc := e.newOperator("Sam Super", switchboard.RoleSupervisor)
		_, outsider := e.newOperator("Otto Outside", switchboard.RoleOperator)

		v := switchboard.Visitor{ID: switchboard.NewID(), Name: "Kenji", Email: "kenji@example.jp", IP: "203.0.113.9", UserAgent: "UA/1"}
		first := e.endedChat(e.dept, v, op.ID)
		ch := e.endedChat(e.dept, v, op.ID)
		if err := st.SaveFeedback(ctx, switchboard.Feedback{ChatID: ch.ID, Rating: 5, Comment: "great"}); err != nil {
			t.Fatal(err)
		}
		otherChat := e.newChat(other, "Ann", "ann@example.com")

		var note struct {
			ID, Body, OperatorID, CreatedAt string
		}
		opc.do("POST", "/api/chats/"+ch.ID+"/notes", map[string]string{"body": "  called back  "}, 201, &note)
		if note.Body != "called back" || note.ID == "" {
			t.Fatalf("note = %+v", note)
		}
		// Notes are listed by their time, in milliseconds (ties in no set
		// order): the second one is written in a later millisecond.
		time.Sleep(2 * time.Millisecond)
		supc.do("POST", "/api/chats/"+ch.ID+"/notes", map[string]string{"body": "ok"}, 201, nil)

		for _, c := range []client{opc, supc, e.admin} {
			var d chatDetailOut
			c.do("GET", "/api/chats/"+ch.ID, nil, 200, &d)
			if d.ID != ch.ID || d.Status != "completed" || d.Operator == nil || d.Operator.Name != "Olga" {
				t.Fatalf("detail row = %+v", d.chatRowOut)
			}
			if len(d.Messages) != 2 || d.Messages[0].Seq != 1 || d.Messages[0].Body != "hello?" || d.Messages[1].Body != "hi <b>" {
				t.Fatalf("messages = %+v", d.Messages)
			}
			if _, err := time.Parse(switchboard.TimeFormat, d.Messages[0].At); err != nil || !strings.HasSuffix(d.Messages[0].At, "Z") {
				t.Fatalf("message time %q is not in wire format", d.Messages[0].At)
			}
			if len(d.Notes) != 2 || d.Notes[0].Body != "called back" || d.Notes[0].OperatorID != op.ID {
				t.Fatalf("notes = %+v", d.Notes)
			}
			if d.Transfers == nil || len(d.Transfers) != 0 {
				t.Fatalf("transfers = %+v, want []", d.Transfers)
			}
			vd := d.Visitor
			if vd.ID != v.ID || vd.Name != "Kenji" || vd.Email != "kenji@example.jp" || vd.IP != "203.0.113.9" ||
				vd.UserAgent != "UA/1" || vd.PageURL != "https://shop.example/cart" {
				t.Fatalf("visitor = %+v", vd)
			}
			if len(vd.PreviousChats) != 1 || vd.PreviousChats[0].ID != first.ID || vd.PreviousChats[0].Status != "completed" {
				t.Fatalf("previous chats = %+v", vd.PreviousChats)
			}
			if d.Feedback == nil || d.Feedback.Rating != 5 || d.Feedback.Comment == nil || *d.Feedback.Comment != "great" {
				t.Fatalf("feedback = %+v", d.Feedback)
			}
		}
		var d chatDetailOut
		e.admin.do("GET", "/api/chats/"+first.ID, nil, 200, &d)
		if d.Feedback != nil {
			t.Fatalf("feedback of a chat without = %+v, want null", d.Feedback)
		}

		// Another department's chat is 404 to an operator, for every action.
		opc.fails("GET", "/api/chats/"+otherChat.ID, nil, 404, "not_found", "")
		opc.fails("POST", "/api/chats/"+otherChat.ID+"/notes", map[string]string{"body": "x"}, 404, "not_found", "")
		opc.fails("POST", "/api/chats/"+otherChat.ID+"/reopen", nil, 404, "not_found", "")
		outsider.fails("GET", "/api/chats/"+ch.ID, nil, 404, "not_found", "")
		e.admin.fails("GET", "/api/chats/nope", nil, 404, "not_found", "")
		e.anon().fails("GET", "/api/chats/"+ch.ID, nil, 401, "unauthorized", "")

		// Bad note bodies.
		for _, body := range []any{map[string]string{"body": ""}, map[string]string{"body": "   "}, map[string]any{},
			map[string]string{"body": strings.Repeat("x", 4001)}} {
			opc.fails("POST", "/api/chats/"+ch.ID+"/notes", body, 422, "bad_request", "body")
		}
		opc.fails("POST", "/api/chats/"+ch.ID+"/notes", map[string]string{"body": "x", "extra": "y"}, 400, "bad_request", "extra")
		opc.do("POST", "/api/chats/"+ch.ID+"/notes", map[string]string{"body": strings.Repeat("あ", 4000)}, 201, nil)
	})
}

func TestDeleteChat(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := t.Context()
		op, opc := e.newOperator("Olga", switchboard.RoleOperator)
		e.admin.do("PUT", "/api/departments/"+e.dept.ID+"/operators/"+op.ID, nil, 204, nil)
		_, supc := e.newOperator("Sam Super", switchboard.RoleSupervisor)
		ch := e.endedChat(e.dept, switchboard.Visitor{ID: switchboard.NewID(), Name: "Kenji"}, op.ID)
		open := e.newChat(e.dept, "Ann", "")
		opc.do("POST", "/api/chats/"+ch.ID+"/notes", map[string]string{"body": "secret note"}, 201, nil)
		m := switchboard.Mail{Kind: switchboard.MailTranscript, ChatID: ch.ID, From: "a@example.com", To: []string{"b@example.com"}, Subject: "t", TextBody: "x"}
		if err := st.EnqueueMail(ctx, &m); err != nil {
			t.Fatal(err)
		}

		supc.fails("DELETE", "/api/chats/"+ch.ID, nil, 403, "forbidden", "")
		opc.fails("DELETE", "/api/chats/"+ch.ID, nil, 403, "forbidden", "")
		e.admin.fails("DELETE", "/api/chats/"+open.ID, nil, 409, "conflict", "status")
		e.admin.do("DELETE", "/api/chats/"+ch.ID, nil, 204, nil)
		e.admin.fails("GET", "/api/chats/"+ch.ID, nil, 404, "not_found", "")
		e.admin.fails("DELETE", "/api/chats/"+ch.ID, nil, 404, "not_found", "")
		if ids := e.admin.chatIDs("/api/chats?category=all"); slices.Contains(ids, ch.ID) || !slices.Contains(ids, open.ID) {
			t.Fatalf("list after delete = %v", ids)
		}
		mails, _, err := st.Mails(ctx, "", store.Page{})
		if err != nil || len(mails) != 1 || mails[0].Status != switchboard.MailCancelled {
			t.Fatalf("mails after delete = %+v, %v", mails, err)
		}
		var audit struct {
			Items []switchboard.AuditEntry `json:"items"`
		}
		e.admin.do("GET", "/api/audit", nil, 200, &audit)
		found := false
		for _, a := range audit.Items {
			if a.Action == "chat.delete" && a.ObjectID == ch.ID && a.ObjectType == "chat" && a.ActorID != "" {
				found = true
			}
		}
		if !found {
			t.Fatalf("no chat.delete audit entry in %+v", audit.Items)
		}
	})
}

func TestReopenChat(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		ctx := t.Context()

		// A second API on the same store, with the Reopened hook recorded.
		var (
			mu      sync.Mutex
			routed  []string
			primary = e
		)
		srv := httptest.NewUnstartedServer(nil)
		a, err := api.New(api.Config{Store: st, PublicURL: "http://" + srv.Listener.Addr().String(),
			Reopened: func(_ context.Context, ch switchboard.Chat, by switchboard.Operator) error {
				mu.Lock()
				defer mu.Unlock()
				routed = append(routed, ch.ID+":"+string(ch.Status)+":"+by.Name)
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		srv.Config.Handler = a
		srv.Start()
		t.Cleanup(srv.Close)
		e2 := *primary
		e2.srv = srv
		admin := client{e: &e2, token: e.admin.token}

		op, opc0 := e.newOperator("Olga", switchboard.RoleOperator)
		e.admin.do("PUT", "/api/departments/"+e.dept.ID+"/operators/"+op.ID, nil, 204, nil)
		opc := client{e: &e2, token: opc0.token}
		_, supc0 := e.newOperator("Sam Super", switchboard.RoleSupervisor)
		supc := client{e: &e2, token: supc0.token}

		done := e.endedChat(e.dept, switchboard.Visitor{ID: switchboard.NewID(), Name: "Kenji"}, op.ID)
		missed := e.newChat(e.dept, "Ann", "")
		if _, err := st.MissChat(ctx, missed.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		open := e.newChat(e.dept, "Bo", "")

		if ids := admin.chatIDs("/api/chats?category=reopened"); len(ids) != 0 {
			t.Fatalf("reopened before = %v", ids)
		}
		var row chatRowOut
		opc.do("POST", "/api/chats/"+done.ID+"/reopen", nil, 200, &row)
		if row.ID != done.ID || row.Status != "queued" || !row.Reopened || row.EndedAt != nil || row.Operator != nil {
			t.Fatalf("reopened row = %+v", row)
		}
		supc.do("POST", "/api/chats/"+missed.ID+"/reopen", map[string]bool{"to_me": true}, 200, &row)
		if row.Status != "ongoing" || row.Operator == nil || row.Operator.Name != "Sam Super" || !row.Reopened {
			t.Fatalf("reopened to me = %+v", row)
		}
		mu.Lock()
		got := slices.Clone(routed)
		mu.Unlock()
		if want := []string{done.ID + ":queued:Olga", missed.ID + ":ongoing:Sam Super"}; !slices.Equal(got, want) {
			t.Fatalf("routed = %v, want %v", got, want)
		}
		ch, err := st.Chat(ctx, done.ID)
		if err != nil || ch.ReopenedAt == nil || ch.EndedAt != nil {
			t.Fatalf("stored chat = %+v, %v", ch, err)
		}

		for _, id := range []string{done.ID, missed.ID, open.ID} {
			admin.fails("POST", "/api/chats/"+id+"/reopen", nil, 409, "conflict", "status")
		}
		admin.fails("POST", "/api/chats/"+done.ID+"/reopen", map[string]any{"to_me": "yes"}, 400, "bad_request", "to_me")
		admin.fails("POST", "/api/chats/nope/reopen", nil, 404, "not_found", "")

		ids := admin.chatIDs("/api/chats?category=reopened")
		if !slices.Equal(ids, []string{missed.ID, done.ID}) {
			t.Fatalf("reopened category = %v, want %v", ids, []string{missed.ID, done.ID})
		}
		if ids := admin.chatIDs("/api/chats?category=completed"); len(ids) != 0 {
			t.Fatalf("completed after reopen = %v", ids)
		}
	})
}
