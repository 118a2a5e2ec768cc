package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// newChat creates a queued chat in department d for a new visitor; mod
// (optional) changes the NewChat first.
func newChat(t testing.TB, s store.Store, d switchboard.Department, question string, mod ...func(*store.NewChat)) switchboard.Chat {
	t.Helper()
	nc := store.NewChat{
		DepartmentID: d.ID,
		Visitor:      switchboard.Visitor{ID: switchboard.NewID(), Name: "Vera", IP: "192.0.2.7", Locale: "en"},
		Question:     question,
		PageURL:      "https://example.com/pricing",
		Status:       switchboard.ChatQueued,
	}
	for _, m := range mod {
		m(&nc)
	}
	ch, err := s.CreateChat(t.Context(), nc)
	if err != nil {
		t.Fatalf("CreateChat: %v", err)
	}
	return ch
}

// chat reads a chat back.
func chat(t *testing.T, s store.Store, id string) switchboard.Chat {
	t.Helper()
	ch, err := s.Chat(t.Context(), id)
	noErr(t, err, "Chat")
	return ch
}

// oldestFirst returns the ids of chats in started_at, id order.
func oldestFirst(chats ...switchboard.Chat) []string {
	chats = slices.Clone(chats)
	slices.SortFunc(chats, func(a, b switchboard.Chat) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return ids(chats)
}

func wantErrIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// msTime is a time the store keeps as it is: UTC, milliseconds.
func msTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

var chatCases = []testCase{
	{"Visitor", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.Visitor(ctx, "no-such-visitor")
		wantNotFound(t, err, "Visitor of an unknown id")

		seen := msTime(time.Now().Add(-time.Minute))
		in := switchboard.Visitor{ID: switchboard.NewID(), Name: "Vera", Email: "vera@example.com", IP: "192.0.2.1",
			UserAgent: "Firefox", PageURL: "https://example.com/", Locale: "de", LastSeen: seen,
			CreatedAt: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)} // the store sets CreatedAt
		v, err := s.UpsertVisitor(ctx, in)
		noErr(t, err, "UpsertVisitor (create)")
		wantStoredTime(t, v.CreatedAt, "CreatedAt")
		want := in
		want.CreatedAt = v.CreatedAt
		equal(t, v, want, "created visitor")
		got, err := s.Visitor(ctx, in.ID)
		noErr(t, err, "Visitor")
		equal(t, got, want, "Visitor")

		// Empty name and email keep the stored ones; the rest is replaced.
		upd := switchboard.Visitor{ID: in.ID, IP: "192.0.2.2", UserAgent: "Chrome", PageURL: "", Locale: "fr"}
		v, err = s.UpsertVisitor(ctx, upd)
		noErr(t, err, "UpsertVisitor (update)")
		want = switchboard.Visitor{ID: in.ID, Name: "Vera", Email: "vera@example.com", IP: "192.0.2.2",
			UserAgent: "Chrome", PageURL: "", Locale: "fr", CreatedAt: want.CreatedAt, LastSeen: v.LastSeen}
		equal(t, v, want, "updated visitor")
		wantStoredTime(t, v.LastSeen, "LastSeen (zero means now)")
		got, err = s.Visitor(ctx, in.ID)
		noErr(t, err, "Visitor")
		equal(t, got, want, "Visitor after update")

		v, err = s.UpsertVisitor(ctx, switchboard.Visitor{ID: in.ID, Name: "Vera B.", Email: "vb@example.com"})
		noErr(t, err, "UpsertVisitor (rename)")
		if v.Name != "Vera B." || v.Email != "vb@example.com" {
			t.Errorf("renamed visitor = %+v", v)
		}

		_, err = s.UpsertVisitor(ctx, switchboard.Visitor{Name: "No ID"})
		wantInvalid(t, err, "id", "UpsertVisitor without an id")
		_, err = s.UpsertVisitor(ctx, switchboard.Visitor{ID: in.ID, Name: "bad \xff"})
		wantInvalid(t, err, "name", "UpsertVisitor with invalid UTF-8")
		_, err = s.UpsertVisitor(ctx, switchboard.Visitor{ID: in.ID, UserAgent: "nul\x00"})
		wantInvalid(t, err, "user_agent", "UpsertVisitor with a NUL byte")
	}},

	{"ChatLocaleFollowsDepartment", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Support")
		v := switchboard.Visitor{ID: switchboard.NewID(), Name: "Vera", Locale: "ja"}
		ch, err := s.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: v})
		noErr(t, err, "CreateChat")
		if ch.Locale != "ja" {
			t.Errorf("chat locale with a department that follows the visitor = %q, want ja", ch.Locale)
		}
		_, err = s.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error { d.Locale = "en"; return nil })
		noErr(t, err, "UpdateDepartment")
		ch, err = s.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: v})
		noErr(t, err, "CreateChat")
		if ch.Locale != "en" || chat(t, s, ch.ID).Locale != "en" {
			t.Errorf("chat locale in an English department = %q, want en", ch.Locale)
		}
	}},

	{"CreateWithQuestion", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		v := switchboard.Visitor{ID: switchboard.NewID(), Name: "Vera", Email: "vera@example.com", IP: "192.0.2.7",
			UserAgent: "Firefox", PageURL: "https://example.com/a", Locale: "ja"}
		ch, err := s.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: v, Question: "Hello? <b>price</b>",
			PageURL: "https://example.com/pricing", Status: switchboard.ChatQueued})
		noErr(t, err, "CreateChat")
		if ch.ID == "" {
			t.Fatalf("CreateChat returned no ID")
		}
		wantStoredTime(t, ch.StartedAt, "StartedAt")
		want := switchboard.Chat{ID: ch.ID, DepartmentID: d.ID, DepartmentName: "Sales", VisitorID: v.ID,
			Status: switchboard.ChatQueued, Question: "Hello? <b>price</b>", PageURL: "https://example.com/pricing",
			VisitorIP: "192.0.2.7", Locale: "ja", StartedAt: ch.StartedAt, LastSeq: 1}
		equal(t, ch, want, "created chat")
		equal(t, chat(t, s, ch.ID), want, "Chat")

		msgs, err := s.Messages(ctx, ch.ID, 0, 10)
		noErr(t, err, "Messages")
		equal(t, msgs, []switchboard.Message{{ChatID: ch.ID, Seq: 1, ClientMsgID: "question",
			FromKind: switchboard.FromVisitor, FromID: v.ID, FromName: "Vera", Body: "Hello? <b>price</b>",
			At: ch.StartedAt}}, "the question as message 1")

		got, err := s.Visitor(ctx, v.ID)
		noErr(t, err, "Visitor")
		if got.Name != "Vera" || got.Email != "vera@example.com" || got.UserAgent != "Firefox" {
			t.Errorf("visitor stored with the chat = %+v", got)
		}

		// The next message is 2; a retried question is the question.
		m, dup, err := s.AppendMessage(ctx, store.NewMessage{ChatID: ch.ID, ClientMsgID: "c1",
			FromKind: switchboard.FromVisitor, FromID: v.ID, Body: "anyone?"})
		noErr(t, err, "AppendMessage")
		if m.Seq != 2 || dup {
			t.Errorf("first append after the question: seq %d, duplicate %v; want 2, false", m.Seq, dup)
		}
		m, dup, err = s.AppendMessage(ctx, store.NewMessage{ChatID: ch.ID, ClientMsgID: "question",
			FromKind: switchboard.FromVisitor, FromID: v.ID, Body: "Hello? <b>price</b>"})
		noErr(t, err, "AppendMessage of the question again")
		if m.Seq != 1 || !dup {
			t.Errorf("the question again: seq %d, duplicate %v; want 1, true", m.Seq, dup)
		}
	}},

	{"CreateWithoutQuestion", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "")
		if ch.LastSeq != 0 || ch.Question != "" {
			t.Errorf("chat without a question: LastSeq %d, Question %q", ch.LastSeq, ch.Question)
		}
		msgs, err := s.Messages(ctx, ch.ID, 0, 10)
		noErr(t, err, "Messages")
		equal(t, msgs, []switchboard.Message{}, "messages of a chat without a question")

		missed := newChat(t, s, d, "anyone?", func(c *store.NewChat) { c.Status = switchboard.ChatMissed })
		if missed.Status != switchboard.ChatMissed || missed.EndedAt != nil || missed.AnsweredAt != nil || missed.LastSeq != 1 {
			t.Errorf("chat created missed = %+v; want missed, no ended_at, no answered_at, last_seq 1", missed)
		}
		dflt := newChat(t, s, d, "", func(c *store.NewChat) { c.Status = "" })
		equal(t, dflt.Status, switchboard.ChatQueued, "status of a chat created with status \"\"")

		// The same visitor may start several chats; its details follow the latest.
		v := dflt.VisitorID
		again := newChat(t, s, d, "", func(c *store.NewChat) {
			c.Visitor = switchboard.Visitor{ID: v, IP: "198.51.100.1"}
		})
		equal(t, again.VisitorID, v, "VisitorID of a second chat")
		equal(t, again.VisitorIP, "198.51.100.1", "VisitorIP of a second chat")
		got, err := s.Visitor(ctx, v)
		noErr(t, err, "Visitor")
		if got.Name != "Vera" || got.IP != "198.51.100.1" {
			t.Errorf("visitor after a second chat = %+v; want the name kept and the new ip", got)
		}
	}},

	{"CreateErrors", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		gone := newDepartment(t, s, "Gone")
		noErr(t, s.DeleteDepartment(ctx, gone.ID, ""), "DeleteDepartment")
		visitor := switchboard.Visitor{ID: switchboard.NewID(), Name: "Vera"}

		for _, dep := range []string{"no-such-department", gone.ID} {
			_, err := s.CreateChat(ctx, store.NewChat{DepartmentID: dep, Visitor: visitor, Question: "hi"})
			wantNotFound(t, err, "CreateChat in department "+dep)
		}
		// One transaction: the visitor was not stored either.
		_, err := s.Visitor(ctx, visitor.ID)
		wantNotFound(t, err, "Visitor after a failed CreateChat")

		_, err = s.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: visitor, Status: switchboard.ChatOngoing})
		wantInvalid(t, err, "status", "CreateChat ongoing")
		_, err = s.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: switchboard.Visitor{}})
		wantInvalid(t, err, "visitor.id", "CreateChat without a visitor id")
		_, err = s.CreateChat(ctx, store.NewChat{DepartmentID: d.ID, Visitor: visitor, Question: "\xc3"})
		wantInvalid(t, err, "question", "CreateChat with an invalid UTF-8 question")

		queued, err := s.QueuedChats(ctx)
		noErr(t, err, "QueuedChats")
		equal(t, queued, []switchboard.Chat{}, "chats after failed creates")
	}},

	{"KeepsDepartmentName", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		newDepartment(t, s, "Other") // the last department cannot be deleted
		ch := newChat(t, s, d, "hi")
		_, err := s.UpdateDepartment(ctx, d.ID, func(d *switchboard.Department) error { d.Name = "Revenue"; return nil })
		noErr(t, err, "UpdateDepartment")
		equal(t, chat(t, s, ch.ID).DepartmentName, "Sales", "department name after a rename")
		noErr(t, s.DeleteDepartment(ctx, d.ID, ""), "DeleteDepartment")
		got := chat(t, s, ch.ID)
		if got.DepartmentName != "Sales" || got.DepartmentID != d.ID {
			t.Errorf("chat of a deleted department = %+v", got)
		}
	}},

	{"OpenChatLists", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		op := newOperator(t, s, "op@example.com", switchboard.RoleOperator)
		other := newOperator(t, s, "other@example.com", switchboard.RoleOperator)
		vid := switchboard.NewID()
		mine := func(c *store.NewChat) { c.Visitor.ID = vid }

		queued := newChat(t, s, d, "one", mine)
		ongoing := newChat(t, s, d, "two", mine)
		ended := newChat(t, s, d, "three", mine)
		missed := newChat(t, s, d, "four", mine, func(c *store.NewChat) { c.Status = switchboard.ChatMissed })
		strangers := newChat(t, s, d, "five")
		_, err := s.AssignChat(ctx, ongoing.ID, op.ID, time.Now())
		noErr(t, err, "AssignChat")
		ongoing = chat(t, s, ongoing.ID)
		_, err = s.AssignChat(ctx, ended.ID, op.ID, time.Now())
		noErr(t, err, "AssignChat")
		_, err = s.EndChat(ctx, ended.ID, time.Now())
		noErr(t, err, "EndChat")
		_ = missed

		got, err := s.VisitorOpenChats(ctx, vid)
		noErr(t, err, "VisitorOpenChats")
		equal(t, ids(got), oldestFirst(queued, ongoing), "VisitorOpenChats")
		for _, c := range got {
			if c.ID == ongoing.ID {
				equal(t, c, ongoing, "an ongoing chat in VisitorOpenChats")
			}
		}
		got, err = s.VisitorOpenChats(ctx, "no-such-visitor")
		noErr(t, err, "VisitorOpenChats of an unknown visitor")
		equal(t, got, []switchboard.Chat{}, "VisitorOpenChats of an unknown visitor")

		got, err = s.OperatorOpenChats(ctx, op.ID)
		noErr(t, err, "OperatorOpenChats")
		equal(t, got, []switchboard.Chat{ongoing}, "OperatorOpenChats")
		got, err = s.OperatorOpenChats(ctx, other.ID)
		noErr(t, err, "OperatorOpenChats of an operator without chats")
		equal(t, got, []switchboard.Chat{}, "OperatorOpenChats of an operator without chats")
		got, err = s.OperatorOpenChats(ctx, "")
		noErr(t, err, `OperatorOpenChats("")`)
		equal(t, got, []switchboard.Chat{}, `OperatorOpenChats("")`)

		got, err = s.QueuedChats(ctx)
		noErr(t, err, "QueuedChats")
		equal(t, ids(got), oldestFirst(queued, strangers), "QueuedChats")
	}},

	{"Assign", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		op1 := newOperator(t, s, "one@example.com", switchboard.RoleOperator)
		op2 := newOperator(t, s, "two@example.com", switchboard.RoleOperator)
		ch := newChat(t, s, d, "hi")
		at := msTime(time.Now().Add(-time.Minute))

		got, err := s.AssignChat(ctx, ch.ID, op1.ID, at)
		noErr(t, err, "AssignChat")
		want := ch
		want.Status, want.OperatorID, want.AnsweredAt = switchboard.ChatOngoing, op1.ID, &at
		equal(t, got, want, "assigned chat")
		equal(t, chat(t, s, ch.ID), want, "Chat after AssignChat")

		_, err = s.AssignChat(ctx, ch.ID, op2.ID, time.Now())
		wantErrIs(t, err, switchboard.ErrAlreadyTaken, "AssignChat of an ongoing chat")
		_, err = s.AssignChat(ctx, ch.ID, op1.ID, time.Now())
		wantErrIs(t, err, switchboard.ErrAlreadyTaken, "AssignChat of a chat the operator has")
		_, err = s.AssignChat(ctx, "no-such-chat", op1.ID, time.Now())
		wantNotFound(t, err, "AssignChat of an unknown chat")
		_, err = s.AssignChat(ctx, ch.ID, "", time.Now())
		wantInvalid(t, err, "operator_id", "AssignChat without an operator")

		// Requeued and taken again: answered_at stays the first answer.
		_, err = s.RequeueChat(ctx, ch.ID, op1.ID)
		noErr(t, err, "RequeueChat")
		got, err = s.AssignChat(ctx, ch.ID, op2.ID, time.Now())
		noErr(t, err, "AssignChat after RequeueChat")
		if got.OperatorID != op2.ID || got.AnsweredAt == nil || !got.AnsweredAt.Equal(at) {
			t.Errorf("chat assigned again = %+v; want operator %s, answered_at %v", got, op2.ID, at)
		}

		for _, c := range []struct {
			name string
			mod  func(ch switchboard.Chat)
		}{
			{"missed", func(ch switchboard.Chat) { _, err := s.MissChat(ctx, ch.ID, time.Now()); noErr(t, err, "MissChat") }},
			{"completed", func(ch switchboard.Chat) { _, err := s.EndChat(ctx, ch.ID, time.Now()); noErr(t, err, "EndChat") }},
		} {
			ch := newChat(t, s, d, "")
			c.mod(ch)
			_, err := s.AssignChat(ctx, ch.ID, op1.ID, time.Now())
			wantErrIs(t, err, switchboard.ErrAlreadyTaken, "AssignChat of a "+c.name+" chat")
		}
	}},

	{"AssignRace", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "who takes me?")
		const n = 16
		ops := make([]switchboard.Operator, n)
		for i := range ops {
			ops[i] = newOperator(t, s, fmt.Sprintf("op%d@example.com", i), switchboard.RoleOperator)
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = s.AssignChat(ctx, ch.ID, ops[i].ID, time.Now())
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("operators %d and %d both won the chat", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, switchboard.ErrAlreadyTaken):
				t.Errorf("AssignChat %d: %v; want ErrAlreadyTaken", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("nobody won the chat")
		}
		got := chat(t, s, ch.ID)
		if got.Status != switchboard.ChatOngoing || got.OperatorID != ops[winner].ID {
			t.Errorf("chat after the race = %+v; want ongoing with operator %s", got, ops[winner].ID)
		}
	}},

	{"Requeue", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		op1 := newOperator(t, s, "one@example.com", switchboard.RoleOperator)
		op2 := newOperator(t, s, "two@example.com", switchboard.RoleOperator)
		ch := newChat(t, s, d, "hi")

		_, err := s.RequeueChat(ctx, ch.ID, op1.ID)
		wantErrIs(t, err, switchboard.ErrConflict, "RequeueChat of a queued chat")
		assigned, err := s.AssignChat(ctx, ch.ID, op1.ID, time.Now())
		noErr(t, err, "AssignChat")
		_, err = s.RequeueChat(ctx, ch.ID, op2.ID)
		wantErrIs(t, err, switchboard.ErrConflict, "RequeueChat by another operator")
		_, err = s.RequeueChat(ctx, "no-such-chat", op1.ID)
		wantNotFound(t, err, "RequeueChat of an unknown chat")

		got, err := s.RequeueChat(ctx, ch.ID, op1.ID)
		noErr(t, err, "RequeueChat")
		want := assigned
		want.Status, want.OperatorID = switchboard.ChatQueued, ""
		equal(t, got, want, "requeued chat (answered_at kept)")
		equal(t, chat(t, s, ch.ID), want, "Chat after RequeueChat")
		open, err := s.OperatorOpenChats(ctx, op1.ID)
		noErr(t, err, "OperatorOpenChats")
		equal(t, open, []switchboard.Chat{}, "OperatorOpenChats after RequeueChat")
		queued, err := s.QueuedChats(ctx)
		noErr(t, err, "QueuedChats")
		equal(t, ids(queued), []string{ch.ID}, "QueuedChats after RequeueChat")
		_, err = s.RequeueChat(ctx, ch.ID, op1.ID)
		wantErrIs(t, err, switchboard.ErrConflict, "RequeueChat twice")

		_, err = s.AssignChat(ctx, ch.ID, op1.ID, time.Now())
		noErr(t, err, "AssignChat")
		_, err = s.EndChat(ctx, ch.ID, time.Now())
		noErr(t, err, "EndChat")
		_, err = s.RequeueChat(ctx, ch.ID, op1.ID)
		wantErrIs(t, err, switchboard.ErrConflict, "RequeueChat of a completed chat")
	}},

	{"Miss", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		op := newOperator(t, s, "op@example.com", switchboard.RoleOperator)
		ch := newChat(t, s, d, "hi")

		got, err := s.MissChat(ctx, ch.ID, time.Now())
		noErr(t, err, "MissChat")
		want := ch
		want.Status = switchboard.ChatMissed
		equal(t, got, want, "missed chat (no ended_at)")
		equal(t, chat(t, s, ch.ID), want, "Chat after MissChat")

		_, err = s.MissChat(ctx, ch.ID, time.Now())
		wantErrIs(t, err, switchboard.ErrConflict, "MissChat twice")
		_, err = s.EndChat(ctx, ch.ID, time.Now())
		wantErrIs(t, err, switchboard.ErrConflict, "EndChat of a missed chat")
		_, err = s.MissChat(ctx, "no-such-chat", time.Now())
		wantNotFound(t, err, "MissChat of an unknown chat")

		ongoing := newChat(t, s, d, "")
		_, err = s.AssignChat(ctx, ongoing.ID, op.ID, time.Now())
		noErr(t, err, "AssignChat")
		_, err = s.MissChat(ctx, ongoing.ID, time.Now())
		wantErrIs(t, err, switchboard.ErrConflict, "MissChat of an ongoing chat")
		var ce *switchboard.ConflictError
		if errors.As(err, &ce) && ce.Field != "status" {
			t.Errorf("MissChat of an ongoing chat: ConflictError for %q; want status", ce.Field)
		}
	}},

	{"End", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		op := newOperator(t, s, "op@example.com", switchboard.RoleOperator)
		at := msTime(time.Now().Add(-time.Second))

		queued := newChat(t, s, d, "hi")
		got, err := s.EndChat(ctx, queued.ID, at)
		noErr(t, err, "EndChat of a queued chat")
		want := queued
		want.Status, want.EndedAt = switchboard.ChatCompleted, &at
		equal(t, got, want, "chat ended while queued")

		ongoing := newChat(t, s, d, "hi")
		assigned, err := s.AssignChat(ctx, ongoing.ID, op.ID, time.Now())
		noErr(t, err, "AssignChat")
		got, err = s.EndChat(ctx, ongoing.ID, at)
		noErr(t, err, "EndChat of an ongoing chat")
		want = assigned
		want.Status, want.EndedAt = switchboard.ChatCompleted, &at
		equal(t, got, want, "chat ended while ongoing (operator kept)")
		equal(t, chat(t, s, ongoing.ID), want, "Chat after EndChat")

		_, err = s.EndChat(ctx, ongoing.ID, time.Now())
		wantErrIs(t, err, switchboard.ErrConflict, "EndChat twice")
		_, err = s.EndChat(ctx, "no-such-chat", time.Now())
		wantNotFound(t, err, "EndChat of an unknown chat")
		open, err := s.OperatorOpenChats(ctx, op.ID)
		noErr(t, err, "OperatorOpenChats")
		equal(t, open, []switchboard.Chat{}, "OperatorOpenChats after EndChat")
	}},

	{"Feedback", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		ch := newChat(t, s, d, "hi")
		noErr(t, s.SaveFeedback(ctx, switchboard.Feedback{ChatID: ch.ID, Rating: 4, Comment: "nice"}), "SaveFeedback")
		equal(t, chat(t, s, ch.ID).Rating, 4, "Rating")
		noErr(t, s.SaveFeedback(ctx, switchboard.Feedback{ChatID: ch.ID, Rating: 2, Comment: "", CreatedAt: switchboard.Now()}),
			"SaveFeedback again")
		equal(t, chat(t, s, ch.ID).Rating, 2, "Rating after replacing the feedback")

		for _, r := range []int{0, 6, -1} {
			err := s.SaveFeedback(ctx, switchboard.Feedback{ChatID: ch.ID, Rating: r})
			wantInvalid(t, err, "rating", fmt.Sprintf("SaveFeedback rating %d", r))
		}
		wantInvalid(t, s.SaveFeedback(ctx, switchboard.Feedback{ChatID: ch.ID, Rating: 3, Comment: "\xff"}),
			"comment", "SaveFeedback with invalid UTF-8")
		equal(t, chat(t, s, ch.ID).Rating, 2, "Rating after refused feedback")
		wantNotFound(t, s.SaveFeedback(ctx, switchboard.Feedback{ChatID: "no-such-chat", Rating: 5}),
			"SaveFeedback of an unknown chat")
	}},

	{"LastOperator", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		d := newDepartment(t, s, "Sales")
		other := newDepartment(t, s, "Support")
		op1 := newOperator(t, s, "one@example.com", switchboard.RoleOperator)
		op2 := newOperator(t, s, "two@example.com", switchboard.RoleOperator)
		vid := switchboard.NewID()
		same := func(nc *store.NewChat) { nc.Visitor.ID = vid }
		last := func(dept string, want string, what string) {
			t.Helper()
			got, err := s.LastOperator(ctx, vid, dept)
			noErr(t, err, "LastOperator "+what)
			equal(t, got, want, "LastOperator "+what)
		}
		last(d.ID, "", "of an unknown visitor")

		first := newChat(t, s, d, "hi", same)
		last(d.ID, "", "with only a queued chat")
		_, err := s.AssignChat(ctx, first.ID, op1.ID, time.Now())
		noErr(t, err, "AssignChat")
		_, err = s.EndChat(ctx, first.ID, time.Now())
		noErr(t, err, "EndChat")
		last(d.ID, op1.ID, "after a completed chat")
		last(other.ID, "", "in another department")

		time.Sleep(2 * time.Millisecond) // a later started_at
		second := newChat(t, s, d, "again", same)
		_, err = s.MissChat(ctx, second.ID, time.Now())
		noErr(t, err, "MissChat")
		last(d.ID, op1.ID, "after a missed chat (not answered)")

		time.Sleep(2 * time.Millisecond)
		third := newChat(t, s, d, "and again", same)
		_, err = s.AssignChat(ctx, third.ID, op2.ID, time.Now())
		noErr(t, err, "AssignChat")
		last(d.ID, op2.ID, "while the newest answered chat is ongoing")

		got, err := s.LastOperator(ctx, "no-such-visitor", "no-such-department")
		noErr(t, err, "LastOperator of unknown ids")
		equal(t, got, "", "LastOperator of unknown ids")
	}},

	{"Unknown", func(t *testing.T, s store.Store) {
		_, err := s.Chat(t.Context(), "no-such-chat")
		wantNotFound(t, err, "Chat")
	}},
}
