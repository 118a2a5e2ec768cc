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

// TestReopenedCategory: nothing in the store reopens chats yet, so the
// flag is set directly; a reopened chat is listed under reopened and still
// under its status's category.
func TestReopenedCategory(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db, raw := b.open(t, sqlstore.GroupCommit{})
		chats := fixture(t, db, 3)
		if _, err := db.EndChat(t.Context(), chats[1].ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		// The id is ours (base32), so it can go into the statement as a
		// literal; the two drivers number placeholders differently.
		if _, err := raw.ExecContext(t.Context(), fmt.Sprintf(`UPDATE chats SET reopened = TRUE, reopened_at = %d WHERE id = '%s'`,
			time.Now().UnixMilli(), chats[1].ID)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			cat  switchboard.Category
			want []string
		}{
			{switchboard.CategoryReopened, []string{chats[1].ID}},
			{switchboard.CategoryCompleted, []string{chats[1].ID}},
		} {
			rows, _, err := db.ListChats(t.Context(), store.ChatFilter{Category: tc.cat}, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.ID)
				if !r.Reopened {
					t.Errorf("%s: row %+v not reopened", tc.cat, r)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s = %v, want %v", tc.cat, got, tc.want)
			}
		}
	})
}
