package server_test

import (
	"net/http"
	"testing"

	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// TestChatLocale: a chat speaks the language the widget asks for in
// chat.start, else the browser's Accept-Language; a bad locale is refused
// naming the field.
func TestChatLocale(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		url := wsURL(n.http.URL, "/ws/visitor?widget="+n.dept.WidgetKey)

		byHeader := dial(t, "ja browser", url, http.Header{"Accept-Language": {"ja-JP,ja;q=0.9,en;q=0.8"}})
		byHeader.waitType("hello", wait)
		id := byHeader.ok(frame{"type": "chat.start", "question": "こんにちは"}).str("chat_id")
		if ch, err := st.Chat(t.Context(), id); err != nil || ch.Locale != "ja" {
			t.Fatalf("chat from a Japanese browser: locale %q, %v; want ja", ch.Locale, err)
		}

		byFrame := dial(t, "en widget", url, http.Header{"Accept-Language": {"ja"}})
		byFrame.waitType("hello", wait)
		byFrame.refused(frame{"type": "chat.start", "locale": "fr"}, "bad_request")
		id = byFrame.ok(frame{"type": "chat.start", "locale": "en", "question": "hi"}).str("chat_id")
		if ch, err := st.Chat(t.Context(), id); err != nil || ch.Locale != "en" {
			t.Fatalf("chat started with locale en: locale %q, %v", ch.Locale, err)
		}
	})
}
