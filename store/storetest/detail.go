package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

var detailCases = []testCase{
	{"Notes", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		f := newHistoryFixture(t, s)
		notes, err := s.Notes(ctx, f.completed.ID)
		noErr(t, err, "Notes")
		equal(t, len(notes), 0, "notes of a chat without any")
		n1, err := s.AddNote(ctx, switchboard.Note{ChatID: f.completed.ID, OperatorID: f.op.ID, Body: "  first  "})
		noErr(t, err, "AddNote")
		equal(t, n1.Body, "first", "trimmed body")
		if n1.ID == "" || n1.CreatedAt.IsZero() {
			t.Fatalf("AddNote = %+v, want an id and a time", n1)
		}
		n2, err := s.AddNote(ctx, switchboard.Note{ChatID: f.completed.ID, OperatorID: f.op.ID, Body: "second",
			CreatedAt: n1.CreatedAt.Add(time.Second)})
		noErr(t, err, "AddNote")
		notes, err = s.Notes(ctx, f.completed.ID)
		noErr(t, err, "Notes")
		equal(t, len(notes), 2, "notes")
		equal(t, []string{notes[0].ID, notes[1].ID}, []string{n1.ID, n2.ID}, "notes oldest first")
		equal(t, msTime(notes[0].CreatedAt), msTime(n1.CreatedAt), "note time")
		for _, body := range []string{"", "   ", strings.Repeat("あ", store.MaxNoteLen+1), "nul\x00"} {
			_, err = s.AddNote(ctx, switchboard.Note{ChatID: f.completed.ID, OperatorID: f.op.ID, Body: body})
			wantInvalid(t, err, "body", "note body")
		}
		_, err = s.AddNote(ctx, switchboard.Note{ChatID: f.completed.ID, Body: strings.Repeat("あ", store.MaxNoteLen)})
		noErr(t, err, "AddNote of the longest body")
		_, err = s.AddNote(ctx, switchboard.Note{ChatID: "unknown", OperatorID: f.op.ID, Body: "x"})
		wantErrIs(t, err, switchboard.ErrNotFound, "AddNote on an unknown chat")
	}},

	{"FeedbackAndVisitorChats", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		f := newHistoryFixture(t, s)
		fb, err := s.Feedback(ctx, f.completed.ID)
		noErr(t, err, "Feedback")
		if fb == nil || fb.Rating != 4 || fb.Comment != "" {
			t.Fatalf("Feedback = %+v, want rating 4", fb)
		}
		fb, err = s.Feedback(ctx, f.missed.ID)
		noErr(t, err, "Feedback")
		if fb != nil {
			t.Fatalf("Feedback of a chat without = %+v, want nil", fb)
		}
		v := switchboard.Visitor{ID: "v-returning", Name: "Ret"}
		var chats []switchboard.Chat
		for range 3 {
			chats = append(chats, newChat(t, s, f.sales, "", func(nc *store.NewChat) { nc.Visitor = v }))
		}
		got, err := s.VisitorChats(ctx, v.ID, chats[2].ID, 0)
		noErr(t, err, "VisitorChats")
		ids := make([]string, len(got))
		for i, c := range got {
			ids[i] = c.ID
		}
		equal(t, ids, newestFirst(chats[0], chats[1]), "previous chats newest first")
		got, err = s.VisitorChats(ctx, "nobody", "", 0)
		noErr(t, err, "VisitorChats")
		equal(t, len(got), 0, "chats of an unknown visitor")
	}},

	{"Delete", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		f := newHistoryFixture(t, s)
		id := f.completed.ID
		_, _, err := s.AppendMessage(ctx, store.NewMessage{ChatID: id, ClientMsgID: "m1", FromKind: switchboard.FromVisitor, Body: "secret"})
		noErr(t, err, "AppendMessage")
		_, err = s.AddNote(ctx, switchboard.Note{ChatID: id, OperatorID: f.op.ID, Body: "note"})
		noErr(t, err, "AddNote")
		pending := newMail(t, s, "transcript", func(m *switchboard.Mail) { m.ChatID = id })
		other := newMail(t, s, "other chat's", func(m *switchboard.Mail) { m.ChatID = f.missed.ID })

		for _, open := range []switchboard.Chat{f.queued, f.ongoing} {
			err = s.DeleteChat(ctx, open.ID, f.op.ID, time.Now())
			wantErrIs(t, err, switchboard.ErrConflict, "DeleteChat of an open chat")
			chat(t, s, open.ID) // still there
		}
		noErr(t, s.DeleteChat(ctx, id, f.op.ID, time.Now()), "DeleteChat")
		_, err = s.Chat(ctx, id)
		wantErrIs(t, err, switchboard.ErrNotFound, "Chat after delete")
		_, err = s.Messages(ctx, id, 0, 10)
		wantErrIs(t, err, switchboard.ErrNotFound, "Messages after delete")
		notes, err := s.Notes(ctx, id)
		noErr(t, err, "Notes")
		equal(t, len(notes), 0, "notes after delete")
		fb, err := s.Feedback(ctx, id)
		noErr(t, err, "Feedback")
		if fb != nil {
			t.Fatalf("feedback after delete = %+v", fb)
		}
		equal(t, listChats(t, s, store.ChatFilter{}, 10), newestFirst(f.queued, f.ongoing, f.missed, f.supportChat), "list after delete")

		mails, _, err := s.Mails(ctx, "", store.Page{Limit: 10})
		noErr(t, err, "Mails")
		status := map[string]switchboard.MailStatus{}
		for _, m := range mails {
			status[m.ID] = m.Status
		}
		equal(t, status[pending.ID], switchboard.MailCancelled, "mail of the deleted chat")
		equal(t, status[other.ID], switchboard.MailPending, "mail of another chat")

		entries, _, err := s.AuditLog(ctx, store.Page{Limit: 50})
		noErr(t, err, "AuditLog")
		found := false
		for _, e := range entries {
			if e.Action == "chat.delete" {
				found = true
				equal(t, [3]string{e.ActorID, e.ObjectType, e.ObjectID}, [3]string{f.op.ID, "chat", id}, "audit entry")
			}
		}
		if !found {
			t.Fatalf("no chat.delete audit entry in %+v", entries)
		}
		err = s.DeleteChat(ctx, id, f.op.ID, time.Now())
		wantErrIs(t, err, switchboard.ErrNotFound, "DeleteChat again")
	}},

	{"Reopen", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		f := newHistoryFixture(t, s)
		at := time.Now()
		ch, err := s.ReopenChat(ctx, f.completed.ID, "", at)
		noErr(t, err, "ReopenChat")
		equal(t, ch.Status, switchboard.ChatQueued, "status")
		equal(t, ch.OperatorID, "", "operator")
		if !ch.Reopened || ch.ReopenedAt == nil || !msTime(*ch.ReopenedAt).Equal(msTime(at)) || ch.EndedAt != nil {
			t.Fatalf("reopened chat = %+v", ch)
		}
		ch, err = s.ReopenChat(ctx, f.missed.ID, f.op.ID, at)
		noErr(t, err, "ReopenChat to an operator")
		equal(t, ch.Status, switchboard.ChatOngoing, "status")
		equal(t, ch.OperatorID, f.op.ID, "operator")
		if ch.AnsweredAt == nil {
			t.Fatalf("reopened-to-me chat has no answered_at: %+v", ch)
		}
		for _, open := range []string{f.queued.ID, f.ongoing.ID, f.completed.ID} {
			_, err = s.ReopenChat(ctx, open, "", at)
			var ce *switchboard.ConflictError
			if !errors.As(err, &ce) || ce.Field != "status" {
				t.Fatalf("ReopenChat of an open chat = %v, want a ConflictError for status", err)
			}
		}
		_, err = s.ReopenChat(ctx, "unknown", "", at)
		wantErrIs(t, err, switchboard.ErrNotFound, "ReopenChat of an unknown chat")
		equal(t, listChats(t, s, store.ChatFilter{Category: switchboard.CategoryReopened}, 10),
			newestFirst(f.missed, f.completed), "reopened category")
		equal(t, listChats(t, s, store.ChatFilter{Category: switchboard.CategoryCompleted}, 10), []string{}, "completed category")
	}},
}
