package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// blockView is a blocked IP on the wire.
type blockView struct {
	ID           string  `json:"id"`
	IP           string  `json:"ip"`
	Reason       string  `json:"reason"`
	DepartmentID string  `json:"department_id"`
	ChatID       string  `json:"chat_id"`
	CreatedBy    string  `json:"created_by"`
	CreatedAt    string  `json:"created_at"`
	ExpiresAt    *string `json:"expires_at"`
}

func viewBlock(b switchboard.BlockedIP) blockView {
	v := blockView{ID: b.ID, IP: b.IP, Reason: b.Reason, DepartmentID: b.DepartmentID, ChatID: b.ChatID,
		CreatedBy: b.CreatedBy, CreatedAt: b.CreatedAt.UTC().Format(switchboard.TimeFormat)}
	if b.ExpiresAt != nil {
		s := b.ExpiresAt.UTC().Format(switchboard.TimeFormat)
		v.ExpiresAt = &s
	}
	return v
}

// blockInput is the body of POST /api/blocked-ips.
type blockInput struct {
	IP           string  `json:"ip"`
	Reason       string  `json:"reason"`
	DepartmentID string  `json:"department_id"`
	ExpiresAt    *string `json:"expires_at"`
}

func (s *Server) handleListBlocks(w http.ResponseWriter, r *http.Request, c *caller) {
	p, err := pageFromQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, next, err := s.store.Blocks(r.Context(), p)
	if err != nil {
		s.fail(w, r, badQuery(err))
		return
	}
	views := make([]blockView, len(items))
	for i, b := range items {
		views[i] = viewBlock(b)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
}

func (s *Server) handleCreateBlock(w http.ResponseWriter, r *http.Request, c *caller) {
	var in blockInput
	if err := decodeBody(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.TrimSpace(in.IP) == "" {
		s.fail(w, r, switchboard.Invalid("ip", "is required (an address or a CIDR)"))
		return
	}
	b := switchboard.BlockedIP{IP: in.IP, Reason: in.Reason, DepartmentID: strings.TrimSpace(in.DepartmentID), CreatedBy: c.ID}
	if in.ExpiresAt != nil && *in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, *in.ExpiresAt)
		if err != nil {
			s.fail(w, r, switchboard.Invalid("expires_at", "must be an RFC 3339 time"))
			return
		}
		b.ExpiresAt = &t
	}
	if err := s.store.CreateBlock(r.Context(), &b); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("ip blocked", "block_id", b.ID, "ip", b.IP, "department_id", b.DepartmentID, "by", c.ID)
	writeJSON(w, http.StatusCreated, viewBlock(b))
}

func (s *Server) handleDeleteBlock(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.store.DeleteBlock(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("ip unblocked", "block_id", r.PathValue("id"), "by", c.ID)
	w.WriteHeader(http.StatusNoContent)
}
