package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// text returns a message of the visitor of ch.
func text(ch switchboard.Chat, clientMsgID, body string) store.NewMessage {
	return store.NewMessage{ChatID: ch.ID, ClientMsgID: clientMsgID, FromKind: switchboard.FromVisitor,
		FromID: ch.VisitorID, FromName: "Vera", Body: body}
}

// appendOK appends m and fails the test on an error or a duplicate.
func appendOK(t testing.TB, s store.Store, m store.NewMessage) switchboard.Message {
	t.Helper()
	got, dup, err := s.AppendMessage(t.Context(), m)
	if err != nil {
		t.Fatalf("AppendMessage(%s, %q): %v", m.ChatID, m.ClientMsgID, err)
	}
	if dup {
		t.Fatalf("AppendMessage(%s, %q): duplicate of seq %d", m.ChatID, m.ClientMsgID, got.Seq)
	}
	return got
}

// allMessages reads every message of a chat, page by page.
func allMessages(t *testing.T, s store.Store, chatID string) []switchboard.Message {
	t.Helper()
	var all []switchboard.Message
	for after := int64(0); ; {
		page, err := s.Messages(t.Context(), chatID, after, 100)
		noErr(t, err, "Messages")
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

// wantContiguous checks that msgs have seqs 1..len(msgs) and that the
// chat's last_seq is the last of them.
func wantContiguous(t *testing.T, s store.Store, chatID string, msgs []switchboard.Message) {
	t.Helper()
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("chat %s: message %d has seq %d; want 1, 2, 3 … without gaps", chatID, i, m.Seq)
		}
	}
	if got := chat(t, s, chatID).LastSeq; got != int64(len(msgs)) {
		t.Errorf("chat %s: last_seq %d, but it has %d messages", chatID, got, len(msgs))
	}
}

var messageCases = []testCase{
	{"Append", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		op := newOperator(t, s, "op@example.com", switchboard.RoleOperator)
		ch := newChat(t, s, d, "")

		in := text(ch, "c-1", "Hello <script>alert(1)</script> 日本語 🙂\n'; DROP TABLE messages; --")
		m := appendOK(t, s, in)
		wantStoredTime(t, m.At, "At")
		want := switchboard.Message{ChatID: ch.ID, Seq: 1, ClientMsgID: "c-1", FromKind: switchboard.FromVisitor,
			FromID: ch.VisitorID, FromName: "Vera", Body: in.Body, At: m.At}
		equal(t, m, want, "appended message")
		m2 := appendOK(t, s, store.NewMessage{ChatID: ch.ID, ClientMsgID: "o-1", FromKind: switchboard.FromOperator,
			FromID: op.ID, FromName: "Olga", Body: ""})
		equal(t, m2.Seq, int64(2), "seq of the second message")
		m3 := appendOK(t, s, store.NewMessage{ChatID: ch.ID, ClientMsgID: "system-1", FromKind: switchboard.FromSystem,
			FromID: "joined", Body: "Olga joined"})
		equal(t, allMessages(t, s, ch.ID), []switchboard.Message{m, m2, m3}, "Messages")
		equal(t, chat(t, s, ch.ID).LastSeq, int64(3), "LastSeq")

		// The chat's status does not matter: "X ended the chat" follows EndChat.
		_, err := s.EndChat(ctx, ch.ID, time.Now())
		noErr(t, err, "EndChat")
		equal(t, appendOK(t, s, text(ch, "c-after-end", "bye")).Seq, int64(4), "seq of a message after EndChat")

		_, _, err = s.AppendMessage(ctx, text(switchboard.Chat{ID: "no-such-chat"}, "c-1", "hi"))
		wantNotFound(t, err, "AppendMessage to an unknown chat")

		for _, c := range []struct {
			field string
			mod   func(*store.NewMessage)
		}{
			{"chat_id", func(m *store.NewMessage) { m.ChatID = "" }},
			{"client_msg_id", func(m *store.NewMessage) { m.ClientMsgID = "" }},
			{"from_kind", func(m *store.NewMessage) { m.FromKind = "robot" }},
			{"body", func(m *store.NewMessage) { m.Body = "bad \xff\xfe" }},
			{"body", func(m *store.NewMessage) { m.Body = "nul \x00 byte" }},
			{"from_name", func(m *store.NewMessage) { m.FromName = "\xff" }},
			{"client_msg_id", func(m *store.NewMessage) { m.ClientMsgID = "a\x00" }},
		} {
			m := text(ch, "c-bad", "hi")
			c.mod(&m)
			_, _, err := s.AppendMessage(ctx, m)
			wantInvalid(t, err, c.field, fmt.Sprintf("AppendMessage with a bad %s", c.field))
		}
		equal(t, chat(t, s, ch.ID).LastSeq, int64(4), "LastSeq after refused appends")
	}},

	{"Retry", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "hi")
		first := appendOK(t, s, text(ch, "c-1", "hello"))
		appendOK(t, s, text(ch, "c-2", "second"))

		again, dup, err := s.AppendMessage(ctx, text(ch, "c-1", "hello"))
		noErr(t, err, "AppendMessage again")
		if !dup {
			t.Errorf("AppendMessage again: duplicate = false")
		}
		equal(t, again, first, "the retried message")

		renamed := text(ch, "c-1", "hello")
		renamed.FromName = "Vera B." // a rename in between is still the same sender
		if _, dup, err := s.AppendMessage(ctx, renamed); err != nil || !dup {
			t.Errorf("AppendMessage again after a rename: duplicate %v, %v; want a duplicate", dup, err)
		}

		_, _, err = s.AppendMessage(ctx, text(ch, "c-1", "hello, edited"))
		wantConflict(t, err, "client_msg_id", "the same client_msg_id with another body")
		other := text(ch, "c-1", "hello")
		other.FromKind, other.FromID = switchboard.FromOperator, "some-operator"
		_, _, err = s.AppendMessage(ctx, other)
		wantConflict(t, err, "client_msg_id", "the same client_msg_id from another sender")

		// Ids are per chat.
		ch2 := newChat(t, s, d, "")
		equal(t, appendOK(t, s, text(ch2, "c-1", "hello")).Seq, int64(1), "seq of c-1 in another chat")

		wantContiguous(t, s, ch.ID, allMessages(t, s, ch.ID))
		equal(t, len(allMessages(t, s, ch.ID)), 3, "messages after retries")
	}},

	{"RetryTogether", func(t *testing.T, s store.Store) {
		// Both copies of a message sent at once, most likely in one batch.
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "")
		const n = 40
		type result struct {
			m   switchboard.Message
			dup bool
			err error
		}
		res := make([][3]result, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			for j := range 3 {
				wg.Go(func() {
					<-start
					body := "same"
					if j == 2 {
						body = "different"
					}
					m, dup, err := s.AppendMessage(ctx, text(ch, fmt.Sprintf("c-%d", i), body))
					res[i][j] = result{m, dup, err}
				})
			}
		}
		close(start)
		wg.Wait()
		seqs := map[int64]bool{}
		conflicts := 0
		for i, r := range res {
			var stored []result
			for _, x := range r {
				switch {
				case x.err == nil:
					stored = append(stored, x)
				case errors.Is(x.err, switchboard.ErrConflict):
					conflicts++
				default:
					t.Fatalf("append c-%d: %v", i, x.err)
				}
			}
			// Whichever came first is stored; a copy of it is a duplicate,
			// the other body a conflict (or the other way round).
			switch len(stored) {
			case 1:
				if stored[0].dup {
					t.Errorf("c-%d: the only stored copy is a duplicate", i)
				}
			case 2:
				if stored[0].m != stored[1].m || stored[0].dup == stored[1].dup {
					t.Errorf("c-%d: copies %+v and %+v; want the same message, one of them a duplicate", i, stored[0], stored[1])
				}
			default:
				t.Fatalf("c-%d: %d copies succeeded", i, len(stored))
			}
			if seqs[stored[0].m.Seq] {
				t.Errorf("c-%d: seq %d given twice", i, stored[0].m.Seq)
			}
			seqs[stored[0].m.Seq] = true
		}
		if conflicts < n {
			t.Errorf("%d conflicts; want at least %d", conflicts, n)
		}
		msgs := allMessages(t, s, ch.ID)
		equal(t, len(msgs), n, "messages stored")
		wantContiguous(t, s, ch.ID, msgs)
	}},

	{"ConcurrentSeqs", func(t *testing.T, s store.Store) {
		// 64 writers on 8 chats: every chat's seqs are 1..N without gaps,
		// and each writer's messages are in the order it sent them.
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		const chats, writers, each = 8, 64, 15
		cs := make([]switchboard.Chat, chats)
		for i := range cs {
			cs[i] = newChat(t, s, d, "")
		}
		acks := make([][]switchboard.Message, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for k := range each {
					m, dup, err := s.AppendMessage(ctx, text(cs[w%chats], fmt.Sprintf("w%d-%d", w, k), fmt.Sprintf("message %d of writer %d", k, w)))
					if err != nil || dup {
						t.Errorf("writer %d, message %d: %v (duplicate %v)", w, k, err, dup)
						return
					}
					acks[w] = append(acks[w], m)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for w, l := range acks {
			for k := 1; k < len(l); k++ {
				if l[k].Seq <= l[k-1].Seq {
					t.Errorf("writer %d: message %d has seq %d after %d", w, k, l[k].Seq, l[k-1].Seq)
				}
			}
		}
		for i, c := range cs {
			msgs := allMessages(t, s, c.ID)
			equal(t, len(msgs), writers/chats*each, fmt.Sprintf("messages of chat %d", i))
			wantContiguous(t, s, c.ID, msgs)
			stored := map[string]switchboard.Message{}
			for _, m := range msgs {
				stored[m.ClientMsgID] = m
			}
			for w := i; w < writers; w += chats {
				for _, a := range acks[w] {
					if stored[a.ClientMsgID] != a {
						t.Errorf("acked %+v; stored %+v", a, stored[a.ClientMsgID])
					}
				}
			}
		}
	}},

	{"Messages", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "first")
		other := newChat(t, s, d, "elsewhere")
		for i := 2; i <= 25; i++ {
			appendOK(t, s, text(ch, fmt.Sprintf("c-%d", i), fmt.Sprintf("message %d", i)))
		}
		appendOK(t, s, text(other, "c-2", "not in ch"))
		seqs := func(ms []switchboard.Message) []int64 {
			out := []int64{}
			for _, m := range ms {
				if m.ChatID != ch.ID {
					t.Errorf("message of chat %s in the page of %s", m.ChatID, ch.ID)
				}
				out = append(out, m.Seq)
			}
			return out
		}
		span := func(lo, hi int64) []int64 {
			out := []int64{}
			for i := lo; i <= hi; i++ {
				out = append(out, i)
			}
			return out
		}
		for _, c := range []struct {
			after int64
			limit int
			want  []int64
		}{
			{0, 10, span(1, 10)},
			{10, 10, span(11, 20)},
			{20, 10, span(21, 25)},
			{24, 1, span(25, 25)},
			{25, 10, span(1, 0)},
			{100, 10, span(1, 0)},
			{-5, 3, span(1, 3)},
			{0, store.MaxMessages + 1, span(1, 25)},
		} {
			got, err := s.Messages(ctx, ch.ID, c.after, c.limit)
			noErr(t, err, "Messages")
			equal(t, seqs(got), c.want, fmt.Sprintf("Messages(after %d, limit %d)", c.after, c.limit))
		}
		_, err := s.Messages(ctx, ch.ID, 0, 0)
		wantInvalid(t, err, "limit", "Messages with limit 0")
		_, err = s.Messages(ctx, "no-such-chat", 0, 10)
		wantNotFound(t, err, "Messages of an unknown chat")
	}},

	{"CanceledAppend", func(t *testing.T, s store.Store) {
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := s.AppendMessage(ctx, text(ch, "c-1", "never mind"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("AppendMessage with a canceled context: %v; want context.Canceled", err)
		}
		// Stored or not, a retry settles it.
		m, _, err := s.AppendMessage(t.Context(), text(ch, "c-1", "never mind"))
		noErr(t, err, "AppendMessage again")
		equal(t, m.Seq, int64(1), "seq of the retried message")
		wantContiguous(t, s, ch.ID, allMessages(t, s, ch.ID))
	}},

	{"Close", func(t *testing.T, s store.Store) {
		// Appends racing Close either commit or fail with ErrUnavailable;
		// nothing hangs or panics, and later appends fail cleanly.
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "")
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, _, errs[i] = s.AppendMessage(t.Context(), text(ch, fmt.Sprintf("c-%d", i), "hi")) })
		}
		noErr(t, s.Close(), "Close")
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, switchboard.ErrUnavailable) {
				t.Errorf("append %d racing Close: %v; want success or ErrUnavailable", i, err)
			}
		}
		_, _, err := s.AppendMessage(t.Context(), text(ch, "c-late", "hi"))
		if !errors.Is(err, switchboard.ErrUnavailable) {
			t.Errorf("AppendMessage after Close: %v; want ErrUnavailable", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close again: %v", err)
		}
		if _, err := s.Chat(t.Context(), ch.ID); err == nil {
			t.Errorf("Chat after Close succeeded")
		}
	}},
}
