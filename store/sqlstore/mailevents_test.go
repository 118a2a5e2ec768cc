package sqlstore_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
)

// TestTranscriptDraftGoesStale: EndChat composes the transcript mail
// before its transaction (so that SQLite's one writer is not held while a
// long chat is read and rendered); a message, a transfer or a settings
// change in between makes the transaction compose it again.
func TestTranscriptDraftGoesStale(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db, _ := b.open(t, sqlstore.GroupCommit{})
		ctx := t.Context()
		d := switchboard.Department{Name: "Sales", Email: switchboard.EmailSettings{
			Transcript: switchboard.EmailSetting{Enabled: true, To: []string{"old@example.com"}}}}
		if err := db.CreateDepartment(ctx, &d); err != nil {
			t.Fatal(err)
		}
		newChat := func() switchboard.Chat {
			ch, err := db.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Question: "q",
				Visitor: switchboard.Visitor{ID: switchboard.NewID(), Name: "Vera"}})
			if err != nil {
				t.Fatal(err)
			}
			return ch
		}
		transcript := func(chatID string) *switchboard.Mail {
			ms, err := db.ChatMails(ctx, chatID)
			if err != nil || len(ms) > 1 {
				t.Fatalf("mails of %s: %+v, %v", chatID, ms, err)
			}
			if len(ms) == 0 {
				return nil
			}
			return &ms[0]
		}

		// Nothing changes: the draft goes out as it is.
		same := newChat()
		if _, err := db.EndChatBetween(ctx, same.ID, time.Now(), func() {}); err != nil {
			t.Fatal(err)
		}
		if m := transcript(same.ID); m == nil || !slices.Equal(m.To, []string{"old@example.com"}) {
			t.Fatalf("transcript = %+v", m)
		}

		// A message arrives after the draft: it is in the transcript.
		late := newChat()
		_, err := db.EndChatBetween(ctx, late.ID, time.Now(), func() {
			_, _, err := db.AppendMessage(ctx, store.NewMessage{ChatID: late.ID, ClientMsgID: "x",
				FromKind: switchboard.FromVisitor, FromID: "v", FromName: "Vera", Body: "one more thing"})
			if err != nil {
				t.Fatal(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if m := transcript(late.ID); m == nil || !strings.Contains(m.TextBody, "one more thing") {
			t.Fatalf("transcript without the late message: %+v", m)
		}

		// The addresses change after the draft: the new ones get it.
		moved := newChat()
		_, err = db.EndChatBetween(ctx, moved.ID, time.Now(), func() {
			time.Sleep(2 * time.Millisecond) // a distinct updated_at
			_, err := db.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error {
				d.Email.Transcript.To = []string{"new@example.com"}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if m := transcript(moved.ID); m == nil || !slices.Equal(m.To, []string{"new@example.com"}) {
			t.Fatalf("transcript after the addresses changed = %+v", m)
		}

		// The setting is switched off after the draft: no mail.
		off := newChat()
		_, err = db.EndChatBetween(ctx, off.ID, time.Now(), func() {
			_, err := db.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error {
				d.Email.Transcript.Enabled = false
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if m := transcript(off.ID); m != nil {
			t.Fatalf("transcript with the setting off: %+v", m)
		}

		// Ending a chat twice: the second is a conflict and mails nothing.
		if _, err := db.EndChat(ctx, same.ID, time.Now()); err == nil {
			t.Fatal("ended a completed chat again")
		}
		if ms, _ := db.ChatMails(ctx, same.ID); len(ms) != 1 {
			t.Fatalf("%d mails after a refused second end", len(ms))
		}
	})
}

// TestUnsendableEventMailDoesNotBlockTheEvent: a mail the outbox refuses
// (here an address that slipped past the settings' validation, written
// straight into the database) is dropped with a log line; the chat still
// ends.
func TestUnsendableEventMailDoesNotBlockTheEvent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db, raw := b.open(t, sqlstore.GroupCommit{})
		ctx := t.Context()
		d := switchboard.Department{Name: "Sales", Email: switchboard.EmailSettings{
			Transcript: switchboard.EmailSetting{Enabled: true, To: []string{"ok@example.com"}}}}
		if err := db.CreateDepartment(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, `UPDATE departments SET email_transcript_to = '["not an address\r\nBcc: x@evil.test"]'`); err != nil {
			t.Fatal(err)
		}
		ch, err := db.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Question: "q", Visitor: switchboard.Visitor{ID: switchboard.NewID()}})
		if err != nil {
			t.Fatal(err)
		}
		if ch, err = db.EndChat(ctx, ch.ID, time.Now()); err != nil || ch.Status != switchboard.ChatCompleted {
			t.Fatalf("EndChat = %+v, %v", ch, err)
		}
		if ms, err := db.ChatMails(ctx, ch.ID); err != nil || len(ms) != 0 {
			t.Fatalf("mails = %+v, %v; want none", ms, err)
		}
	})
}
