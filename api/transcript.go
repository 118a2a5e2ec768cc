package api

import (
	"bytes"
	"net/http"

	"github.com/switchboard-chat/switchboard/history"
)

var transcriptTypes = map[string]string{
	"text": "text/plain; charset=utf-8",
	"html": "text/html; charset=utf-8",
	"json": "application/json",
}

// handleTranscript serves GET /api/chats/{id}/transcript?format=text|html|json
// (default text) as a download, with the detail view's access rules.
func (s *Server) handleTranscript(w http.ResponseWriter, r *http.Request, c *caller) {
	ctx := r.Context()
	ch, err := s.visibleChat(r, c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "text"
	}
	ext, ok := history.Formats[format]
	if !ok {
		s.fail(w, r, errorf(http.StatusBadRequest, "bad_request", "format", "format: must be one of text, html, json"))
		return
	}
	v, err := s.store.Visitor(ctx, ch.VisitorID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msgs, err := s.allMessages(ctx, ch.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t := history.Transcript{Chat: ch, VisitorName: v.Name, VisitorEmail: v.Email, Messages: msgs}
	if ch.OperatorID != "" {
		if o, err := s.store.Operator(ctx, ch.OperatorID); err == nil {
			t.OperatorName = o.Name
		}
	}
	var b bytes.Buffer
	if err := history.Render(&b, format, t); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", transcriptTypes[format])
	h.Set("Content-Disposition", `attachment; filename="chat-`+ch.ID+`.`+ext+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}
