// Package history renders chat transcripts for download: plain text, a
// self-contained HTML document and JSON, labelled in the chat's locale.
package history

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// Transcript is a chat with the names a reader needs and its messages in
// seq order.
type Transcript struct {
	Chat         switchboard.Chat
	VisitorName  string
	VisitorEmail string
	OperatorName string
	Messages     []switchboard.Message
}

// Formats are the formats Render accepts, with their file extensions.
var Formats = map[string]string{"text": "txt", "html": "html", "json": "json"}

type labels struct {
	Title, Visitor, Email, Operator, Department, Started, Ended, Status string
	notices                                                             map[string]string // key → format with one %s for the name
}

var en = labels{
	Title: "Chat transcript", Visitor: "Visitor", Email: "Email", Operator: "Operator", Department: "Department",
	Started: "Started", Ended: "Ended", Status: "Status",
	notices: map[string]string{
		"joined":      "%s joined the chat",
		"ended":       "%s ended the chat",
		"requeued":    "The chat was returned to the queue",
		"transferred": "The chat was transferred",
		"blocked":     "The visitor was blocked",
	},
}

var ja = labels{
	Title: "チャット履歴", Visitor: "訪問者", Email: "メールアドレス", Operator: "オペレーター", Department: "部署",
	Started: "開始", Ended: "終了", Status: "状態",
	notices: map[string]string{
		"joined":      "%sさんがチャットに参加しました",
		"ended":       "%sさんがチャットを終了しました",
		"requeued":    "チャットが待機列に戻されました",
		"transferred": "チャットが転送されました",
		"blocked":     "訪問者がブロックされました",
	},
}

func labelsFor(locale string) labels {
	if locale == "ja" || strings.HasPrefix(locale, "ja-") {
		return ja
	}
	return en
}

// text returns what a message says: for a system notice the localized label
// of its key (FromID), with the stored body as the fallback for unknown keys.
func (l labels) text(m switchboard.Message) string {
	if m.FromKind != switchboard.FromSystem {
		return m.Body
	}
	f, ok := l.notices[m.FromID]
	if !ok {
		return m.Body
	}
	if strings.Contains(f, "%s") {
		return fmt.Sprintf(f, m.FromName)
	}
	return f
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// Render writes t to w in format: "text", "html" or "json". An unknown
// format is a switchboard validation error naming "format".
func Render(w io.Writer, format string, t Transcript) error {
	switch format {
	case "text":
		return renderText(w, t)
	case "html":
		return renderHTML(w, t)
	case "json":
		return renderJSON(w, t)
	}
	return switchboard.Invalid("format", "must be one of text, html, json")
}

type line struct {
	At, Kind, Name, Text string
}

type header struct{ Label, Value string }

func prepare(t Transcript) (labels, []header, []line) {
	l := labelsFor(t.Chat.Locale)
	visitor := t.VisitorName
	if t.VisitorEmail != "" {
		visitor += " <" + t.VisitorEmail + ">"
	}
	hs := []header{
		{l.Department, t.Chat.DepartmentName},
		{l.Visitor, strings.TrimSpace(visitor)},
		{l.Operator, t.OperatorName},
		{l.Started, stamp(t.Chat.StartedAt) + " UTC"},
	}
	if t.Chat.EndedAt != nil {
		hs = append(hs, header{l.Ended, stamp(*t.Chat.EndedAt) + " UTC"})
	}
	hs = append(hs, header{l.Status, string(t.Chat.Status)})
	lines := make([]line, 0, len(t.Messages))
	for _, m := range t.Messages {
		lines = append(lines, line{At: stamp(m.At), Kind: string(m.FromKind), Name: m.FromName, Text: l.text(m)})
	}
	return l, hs, lines
}

func renderText(w io.Writer, t Transcript) error {
	l, hs, lines := prepare(t)
	var b strings.Builder
	b.WriteString(l.Title + "\n")
	for _, h := range hs {
		fmt.Fprintf(&b, "%s: %s\n", h.Label, h.Value)
	}
	b.WriteString("\n")
	for _, ln := range lines {
		if ln.Kind == string(switchboard.FromSystem) {
			fmt.Fprintf(&b, "[%s] * %s\n", ln.At, ln.Text)
			continue
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", ln.At, ln.Name, ln.Text)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var page = template.Must(template.New("transcript").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}
table.meta td{padding:2px 8px}
ol{list-style:none;padding:0}
li{margin:4px 0}
.at{color:#888;font-size:.85em}
.name{font-weight:bold}
.system{color:#666;font-style:italic}
.operator .name{color:#1a5fb4}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{template "fragment" .}}</body>
</html>
{{define "fragment"}}<table class="meta">
{{range .Headers}}<tr><td>{{.Label}}</td><td>{{.Value}}</td></tr>
{{end}}</table>
<ol>
{{range .Lines}}<li class="{{.Kind}}"><span class="at">[{{.At}}]</span> {{if eq .Kind "system"}}<span class="text">{{.Text}}</span>{{else}}<span class="name">{{.Name}}</span>: <span class="text">{{.Text}}</span>{{end}}</li>
{{end}}</ol>
{{end}}`))

func renderHTML(w io.Writer, t Transcript) error {
	l, hs, lines := prepare(t)
	lang := "en"
	if l.Title == ja.Title {
		lang = "ja"
	}
	return page.Execute(w, map[string]any{"Lang": lang, "Title": l.Title, "Headers": hs, "Lines": lines})
}

// RenderHTMLFragment writes t as HTML to embed in another document (an
// email): the header table and the message list, escaped like the page
// of Render, without the page's html, head and title.
func RenderHTMLFragment(w io.Writer, t Transcript) error {
	_, hs, lines := prepare(t)
	return page.ExecuteTemplate(w, "fragment", map[string]any{"Headers": hs, "Lines": lines})
}

type jsonMessage struct {
	Seq      int64                  `json:"seq"`
	FromKind switchboard.SenderKind `json:"from_kind"`
	FromID   string                 `json:"from_id"`
	FromName string                 `json:"from_name"`
	Body     string                 `json:"body"`
	Text     string                 `json:"text"`
	At       string                 `json:"at"`
}

type jsonChat struct {
	ID           string                 `json:"id"`
	Status       switchboard.ChatStatus `json:"status"`
	Locale       string                 `json:"locale"`
	Department   string                 `json:"department"`
	VisitorName  string                 `json:"visitor_name"`
	VisitorEmail string                 `json:"visitor_email"`
	OperatorName string                 `json:"operator_name"`
	StartedAt    string                 `json:"started_at"`
	EndedAt      *string                `json:"ended_at"`
}

// jsonTranscript is the shape of the json format.
type jsonTranscript struct {
	Chat     jsonChat      `json:"chat"`
	Messages []jsonMessage `json:"messages"`
}

func renderJSON(w io.Writer, t Transcript) error {
	l := labelsFor(t.Chat.Locale)
	out := jsonTranscript{Chat: jsonChat{ID: t.Chat.ID, Status: t.Chat.Status, Locale: t.Chat.Locale,
		Department: t.Chat.DepartmentName, VisitorName: t.VisitorName, VisitorEmail: t.VisitorEmail,
		OperatorName: t.OperatorName, StartedAt: t.Chat.StartedAt.UTC().Format(switchboard.TimeFormat)},
		Messages: make([]jsonMessage, 0, len(t.Messages))}
	if t.Chat.EndedAt != nil {
		s := t.Chat.EndedAt.UTC().Format(switchboard.TimeFormat)
		out.Chat.EndedAt = &s
	}
	for _, m := range t.Messages {
		out.Messages = append(out.Messages, jsonMessage{Seq: m.Seq, FromKind: m.FromKind, FromID: m.FromID,
			FromName: m.FromName, Body: m.Body, Text: l.text(m), At: m.At.UTC().Format(switchboard.TimeFormat)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
