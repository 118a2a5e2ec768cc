package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
)

const xss = "<script>alert(1)</script>"

func sample(locale string) Transcript {
	start := time.Date(2026, 11, 24, 18, 15, 2, 0, time.FixedZone("JST", 9*3600))
	end := start.Add(10 * time.Minute)
	return Transcript{
		Chat: switchboard.Chat{ID: "c1", DepartmentName: "Sales", Status: switchboard.ChatCompleted, Locale: locale,
			StartedAt: start, EndedAt: &end},
		VisitorName: "Eve " + xss, VisitorEmail: "eve@example.com", OperatorName: "Olga",
		Messages: []switchboard.Message{
			{Seq: 1, FromKind: switchboard.FromSystem, FromID: "joined", FromName: "Olga", Body: "Olga joined the chat", At: start},
			{Seq: 2, FromKind: switchboard.FromVisitor, FromID: "v1", FromName: "Eve " + xss, Body: "hi " + xss, At: start.Add(time.Second)},
			{Seq: 3, FromKind: switchboard.FromOperator, FromID: "o1", FromName: "Olga", Body: "hello & welcome", At: start.Add(2 * time.Second)},
			{Seq: 4, FromKind: switchboard.FromSystem, FromID: "mystery", Body: "something odd", At: start.Add(3 * time.Second)},
		},
	}
}

func render(t *testing.T, format string, tr Transcript) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, format, tr); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestText(t *testing.T) {
	out := render(t, "text", sample("en"))
	for _, want := range []string{
		"Chat transcript\n", "Department: Sales\n", "Visitor: Eve " + xss + " <eve@example.com>\n", "Operator: Olga\n",
		"Started: 2026-11-24 09:15:02 UTC\n", "Ended: 2026-11-24 09:25:02 UTC\n",
		"[2026-11-24 09:15:02] * Olga joined the chat\n",
		"[2026-11-24 09:15:03] Eve " + xss + ": hi " + xss + "\n",
		"[2026-11-24 09:15:04] Olga: hello & welcome\n",
		"[2026-11-24 09:15:05] * something odd\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func TestJapanese(t *testing.T) {
	for _, format := range []string{"text", "html", "json"} {
		out := render(t, format, sample("ja"))
		for _, want := range []string{"Olgaさんがチャットに参加しました", "something odd"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", format, want, out)
			}
		}
		if format != "json" {
			for _, want := range []string{"チャット履歴", "訪問者", "オペレーター", "部署", "開始", "終了"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s lacks %q:\n%s", format, want, out)
				}
			}
			if strings.Contains(out, "Visitor") || strings.Contains(out, "joined the chat") {
				t.Errorf("%s has English labels:\n%s", format, out)
			}
		}
	}
	if out := render(t, "text", sample("fr")); !strings.Contains(out, "Visitor:") {
		t.Errorf("other locales must be English:\n%s", out)
	}
}

func TestHTMLEscapes(t *testing.T) {
	out := render(t, "html", sample("en"))
	if strings.Contains(out, "<script>") {
		t.Fatalf("html has an unescaped script:\n%s", out)
	}
	for _, want := range []string{"<!DOCTYPE html>", "<style>", "&lt;script&gt;alert(1)&lt;/script&gt;", "hello &amp; welcome",
		"Visitor", "Department", "Started", "Ended", "Olga joined the chat", "2026-11-24 09:15:03"} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "http://") || strings.Contains(out, "https://") || strings.Contains(out, "src=") {
		t.Errorf("html refers to external resources:\n%s", out)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tr := sample("en")
	out := render(t, "json", tr)
	if !json.Valid([]byte(out)) {
		t.Fatalf("invalid JSON: %s", out)
	}
	var got struct {
		Chat struct {
			ID          string  `json:"id"`
			VisitorName string  `json:"visitor_name"`
			StartedAt   string  `json:"started_at"`
			EndedAt     *string `json:"ended_at"`
		} `json:"chat"`
		Messages []switchboard.Message `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Chat.ID != "c1" || got.Chat.VisitorName != tr.VisitorName || got.Chat.StartedAt != "2026-11-24T09:15:02.000Z" ||
		got.Chat.EndedAt == nil || *got.Chat.EndedAt != "2026-11-24T09:25:02.000Z" {
		t.Errorf("chat = %+v", got.Chat)
	}
	if len(got.Messages) != len(tr.Messages) {
		t.Fatalf("%d messages, want %d", len(got.Messages), len(tr.Messages))
	}
	for i, m := range got.Messages {
		w := tr.Messages[i]
		if m.Seq != w.Seq || m.FromKind != w.FromKind || m.FromID != w.FromID || m.FromName != w.FromName || m.Body != w.Body || !m.At.Equal(w.At) {
			t.Errorf("message %d = %+v, want %+v", i, m, w)
		}
	}
	if !strings.Contains(out, `"at": "2026-11-24T09:15:03.000Z"`) {
		t.Errorf("times not in TimeFormat UTC:\n%s", out)
	}
}

func TestUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Render(&b, "pdf", sample("en"))
	var ve *switchboard.ValidationError
	if !errors.As(err, &ve) || ve.Field != "format" {
		t.Fatalf("err = %v, want a validation error on format", err)
	}
}
