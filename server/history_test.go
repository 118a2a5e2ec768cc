package server_test

import (
	"slices"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// TestMonitoredCategory: a chat a supervisor watches (chat.monitor on)
// is listed under GET /api/chats?category=monitored, and no longer once
// the supervisor stops watching.
func TestMonitoredCategory(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, aTok := n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		_, sTok := n.staff("sue", switchboard.RoleSupervisor)
		ann := n.online("ann", aTok)
		_, chatID := answered(t, n, n.dept, ann)

		monitored := func() []string {
			t.Helper()
			var out struct {
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			}
			n.api(sTok, "GET", "/api/chats?category=monitored", nil, 200, &out)
			ids := []string{}
			for _, r := range out.Items {
				ids = append(ids, r.ID)
			}
			return ids
		}
		if got := monitored(); len(got) != 0 {
			t.Fatalf("monitored before watching = %v", got)
		}
		sue := n.operatorConn("sue", sTok)
		sue.waitType("hello", wait)
		sue.ok(frame{"type": "chat.monitor", "chat_id": chatID, "on": true})
		if got := monitored(); !slices.Equal(got, []string{chatID}) {
			t.Fatalf("monitored while watching = %v, want [%s]", got, chatID)
		}
		// The operator of the chat's department sees it there too.
		var out struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		n.api(aTok, "GET", "/api/chats?category=monitored", nil, 200, &out)
		if len(out.Items) != 1 || out.Items[0].ID != chatID {
			t.Fatalf("operator's monitored list = %+v", out.Items)
		}
		sue.ok(frame{"type": "chat.monitor", "chat_id": chatID, "on": false})
		if got := monitored(); len(got) != 0 {
			t.Fatalf("monitored after on=false = %v", got)
		}
	})
}
