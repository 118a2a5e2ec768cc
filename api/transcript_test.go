package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

const xssPayload = "<script>alert(1)</script>"

// transcriptChat creates a chat of a visitor named with an XSS payload in
// locale, answered by opID, with a join notice and a message from each side.
func (e *env) transcriptChat(d switchboard.Department, locale, opID, opName string) switchboard.Chat {
	e.t.Helper()
	ctx := e.t.Context()
	v := switchboard.Visitor{ID: switchboard.NewID(), Name: "Eve " + xssPayload, Email: "eve@example.com", Locale: locale}
	ch, err := e.st.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: v, Question: "question " + xssPayload})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.AssignChat(ctx, ch.ID, opID, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	for _, m := range []store.NewMessage{
		{ClientMsgID: "j", FromKind: switchboard.FromSystem, FromID: "joined", FromName: opName, Body: opName + " joined the chat"},
		{ClientMsgID: "v", FromKind: switchboard.FromVisitor, FromID: v.ID, FromName: v.Name, Body: "hi " + xssPayload},
		{ClientMsgID: "o", FromKind: switchboard.FromOperator, FromID: opID, FromName: opName, Body: "hello & welcome"},
	} {
		m.ChatID = ch.ID
		if _, _, err := e.st.AppendMessage(ctx, m); err != nil {
			e.t.Fatal(err)
		}
	}
	if ch, err = e.st.EndChat(ctx, ch.ID, time.Now()); err != nil {
		e.t.Fatal(err)
	}
	return ch
}

func TestTranscript(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		var other switchboard.Department
		e.admin.do("POST", "/api/departments", map[string]any{"name": "Support", "visibility": "public", "enabled": true}, 201, &other)
		op, opc := e.newOperator("Olga", switchboard.RoleOperator)
		e.admin.do("PUT", "/api/departments/"+e.dept.ID+"/operators/"+op.ID, nil, 204, nil)
		_, supc := e.newOperator("Sam Super", switchboard.RoleSupervisor)
		otto, outsider := e.newOperator("Otto Outside", switchboard.RoleOperator)
		ch := e.transcriptChat(e.dept, "en", op.ID, "Olga")
		jaChat := e.transcriptChat(e.dept, "ja", op.ID, "Olga")
		base := "/api/chats/" + ch.ID + "/transcript"

		for _, c := range []client{opc, supc, e.admin} {
			for _, tc := range []struct{ query, ctype, ext string }{
				{"", "text/plain; charset=utf-8", "txt"},
				{"?format=text", "text/plain; charset=utf-8", "txt"},
				{"?format=html", "text/html; charset=utf-8", "html"},
				{"?format=json", "application/json", "json"},
			} {
				resp, body := c.raw("GET", base+tc.query, nil, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("GET %s: %d %s", base+tc.query, resp.StatusCode, body)
				}
				if got := resp.Header.Get("Content-Type"); got != tc.ctype {
					t.Errorf("%s: Content-Type %q, want %q", tc.query, got, tc.ctype)
				}
				if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="chat-`+ch.ID+`.`+tc.ext+`"`; got != want {
					t.Errorf("%s: Content-Disposition %q, want %q", tc.query, got, want)
				}
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options %q", tc.query, got)
				}
				s := string(body)
				switch tc.ext {
				case "txt":
					for _, want := range []string{"Chat transcript", "Department: Acme", "Visitor: Eve " + xssPayload, "Operator: Olga",
						"* Olga joined the chat", "] Eve " + xssPayload + ": hi " + xssPayload + "\n", "] Olga: hello & welcome\n"} {
						if !strings.Contains(s, want) {
							t.Errorf("text lacks %q:\n%s", want, s)
						}
					}
				case "html":
					if strings.Contains(s, "<script>") {
						t.Fatalf("html has an unescaped script:\n%s", s)
					}
					for _, want := range []string{"<!DOCTYPE html>", "&lt;script&gt;alert(1)&lt;/script&gt;", "Olga joined the chat", "hello &amp; welcome"} {
						if !strings.Contains(s, want) {
							t.Errorf("html lacks %q:\n%s", want, s)
						}
					}
				case "json":
					var out struct {
						Chat struct {
							ID, VisitorName, OperatorName string
						}
						Messages []switchboard.Message `json:"messages"`
					}
					if err := json.Unmarshal(body, &out); err != nil {
						t.Fatalf("json: %v: %s", err, s)
					}
					if out.Chat.ID != ch.ID || len(out.Messages) != 4 || out.Messages[2].Body != "hi "+xssPayload ||
						out.Messages[1].FromID != "joined" || out.Messages[0].Seq != 1 {
						t.Fatalf("json transcript = %+v", out)
					}
				}
			}
		}

		// Japanese labels follow the chat's locale.
		_, body := opc.raw("GET", "/api/chats/"+jaChat.ID+"/transcript", nil, nil)
		for _, want := range []string{"チャット履歴", "訪問者", "オペレーター: Olga", "Olgaさんがチャットに参加しました"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("ja text lacks %q:\n%s", want, body)
			}
		}

		// Bad format, another department's chat, unknown chat, no login.
		opc.fails("GET", base+"?format=pdf", nil, 400, "bad_request", "format")
		otherChat := e.transcriptChat(other, "en", otto.ID, "Otto")
		opc.fails("GET", "/api/chats/"+otherChat.ID+"/transcript", nil, 404, "not_found", "")
		// A chat she answered in a department not hers is hers to read.
		answeredElsewhere := e.transcriptChat(other, "en", op.ID, "Olga")
		opc.do("GET", "/api/chats/"+answeredElsewhere.ID+"/transcript?format=json", nil, 200, nil)
		supc.do("GET", "/api/chats/"+otherChat.ID+"/transcript?format=json", nil, 200, nil)
		outsider.fails("GET", base, nil, 404, "not_found", "")
		outsider.fails("GET", base+"?format=pdf", nil, 404, "not_found", "")
		opc.fails("GET", "/api/chats/"+switchboard.NewID()+"/transcript", nil, 404, "not_found", "")
		e.anon().fails("GET", base, nil, 401, "unauthorized", "")
	})
}
