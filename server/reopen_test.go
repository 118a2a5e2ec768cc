package server_test

import (
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

// TestReopenRoutes: POST /api/chats/{id}/reopen queues an ended chat again
// and the router offers it to an online operator of its department, like
// a new chat.
func TestReopenRoutes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, st store.Store) {
		n := newNode(t, st, nodeOptions{})
		_, aTok := n.staff("ann", switchboard.RoleOperator, n.dept.ID)
		ann := n.online("ann", aTok)
		_, chatID := answered(t, n, n.dept, ann)
		ann.ok(frame{"type": "chat.end", "chat_id": chatID})
		drain(ann)

		var row struct {
			Status   string `json:"status"`
			Reopened bool   `json:"reopened"`
		}
		n.api(aTok, "POST", "/api/chats/"+chatID+"/reopen", nil, 200, &row)
		if row.Status != "queued" || !row.Reopened {
			t.Fatalf("reopen = %+v", row)
		}
		ann.wait(wait, "offer of the reopened chat", isType("chat.offer", chatID))
	})
}
