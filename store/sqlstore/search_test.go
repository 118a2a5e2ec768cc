package sqlstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlstore"
)

// TestSearchStages: with small bounds, a common text is found by the walk,
// a rare one through the index, one with too many index hits by walking
// on — each with the same rows, pages and cursors as the others, also
// under another filter. (SQLite has no search index and always walks.)
func TestSearchStages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db, _ := b.open(t, sqlstore.GroupCommit{})
		db.SetSearchBounds(3, 4)
		ctx := t.Context()
		chats := fixture(t, db, 14) // chats[13] is the newest
		// started_at has millisecond precision: make the order known.
		for i, c := range chats {
			body := "hello there"
			switch {
			case i == 2:
				body = "do you sell kumquat jam? 蜜柑はありますか"
			case i >= 4 && i <= 9:
				body = "an invoice please"
			}
			if _, _, err := db.AppendMessage(ctx, msg(c.ID, fmt.Sprint("m", i), body)); err != nil {
				t.Fatal(err)
			}
		}
		newest := func(idx ...int) []string {
			var all []switchboard.Chat
			for _, i := range idx {
				all = append(all, chats[i])
			}
			slices.SortFunc(all, func(a, b switchboard.Chat) int {
				if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
					return -c
				}
				if a.ID > b.ID {
					return -1
				}
				return 1
			})
			out := []string{}
			for _, c := range all {
				out = append(out, c.ID)
			}
			return out
		}
		list := func(f store.ChatFilter, limit int) []string {
			out := []string{}
			p := store.Page{Limit: limit}
			for range 50 {
				rows, next, err := db.ListChats(ctx, f, p)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					out = append(out, r.ID)
				}
				if next == "" {
					return out
				}
				p.Cursor = next
			}
			t.Fatal("the cursor does not advance")
			return nil
		}
		var hello []int
		for i := range chats {
			if i != 2 && (i < 4 || i > 9) {
				hello = append(hello, i)
			}
		}
		for _, tc := range []struct {
			name string
			f    store.ChatFilter
			want []string
		}{
			{"common: the walk fills the page", store.ChatFilter{Query: "HELLO"}, newest(hello...)},
			{"rare: the index", store.ChatFilter{Query: "kumquat"}, newest(2)},
			{"rare japanese pair: the index", store.ChatFilter{Query: "蜜柑"}, newest(2)},
			{"rare japanese char: the index", store.ChatFilter{Query: "蜜"}, newest(2)},
			{"many index hits: walk on", store.ChatFilter{Query: "invoice"}, newest(4, 5, 6, 7, 8, 9)},
			{"absent", store.ChatFilter{Query: "zebra"}, []string{}},
			{"rare, other filter", store.ChatFilter{Query: "kumquat", Category: switchboard.CategoryMissed}, []string{}},
			{"rare, date range", store.ChatFilter{Query: "kumquat", From: chats[0].StartedAt, To: time.Now().Add(time.Hour)}, newest(2)},
		} {
			for _, limit := range []int{1, 2, 100} {
				if got := list(tc.f, limit); !slices.Equal(got, tc.want) {
					t.Errorf("%s, pages of %d: %v, want %v", tc.name, limit, got, tc.want)
				}
			}
		}
	})
}
