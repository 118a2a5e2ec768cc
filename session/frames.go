package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/router"
)

// inFrame is any client frame. One flat struct for every type keeps the
// decoder to a single pass; each handler checks the fields it needs.
type inFrame struct {
	Type        string  `json:"type"`
	Ref         string  `json:"ref"`
	ChatID      string  `json:"chat_id"`
	ClientMsgID string  `json:"client_msg_id"`
	Body        *string `json:"body"`
	On          *bool   `json:"on"`
	AfterSeq    *int64  `json:"after_seq"`
	Name        *string `json:"name"`
	Email       *string `json:"email"`
	Question    *string `json:"question"`
	PageURL     *string `json:"page_url"`
	Locale      *string `json:"locale"`
	Rating      *int    `json:"rating"`
	Comment     *string `json:"comment"`
	Status      string  `json:"status"`
	// chat.transfer
	DepartmentID string  `json:"department_id"`
	OperatorID   string  `json:"operator_id"`
	Note         string  `json:"note"`
	Reason       *string `json:"reason"`     // visitor.block
	ExpiresAt    *string `json:"expires_at"` // visitor.block
}

// protoError is an error frame's content: a protocol error code, a message
// and, where one input field is at fault, its name.
type protoError struct {
	Code         string
	Message      string
	Field        string
	RetryAfterMS int64
}

func (e *protoError) Error() string { return e.Code + ": " + e.Message }

func badRequest(field, format string, args ...any) *protoError {
	return &protoError{Code: "bad_request", Field: field, Message: fmt.Sprintf(format, args...)}
}

const maxRefLen = 64

// decodeFrame parses one text frame. A frame that is not a JSON object, has
// no type, or has a field of the wrong type is a bad_request that names the
// field; the connection lives on.
func decodeFrame(data []byte) (*inFrame, *protoError) {
	var f inFrame
	if err := json.Unmarshal(data, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &f, badRequest(te.Field, "%s: wrong type", te.Field)
		}
		return &f, badRequest("", "a frame must be one JSON object")
	}
	if len(f.Ref) > maxRefLen {
		f.Ref = ""
		return &f, badRequest("ref", "ref: at most %d characters", maxRefLen)
	}
	if f.Type == "" {
		return &f, badRequest("type", "type: is required")
	}
	return &f, nil
}

// requireChat checks the chat_id field.
func (f *inFrame) requireChat() *protoError {
	if f.ChatID == "" {
		return badRequest("chat_id", "chat_id: is required")
	}
	if len(f.ChatID) > 64 {
		return badRequest("chat_id", "chat_id: too long")
	}
	return nil
}

// optText trims an optional text field and checks its length in runes.
func optText(field string, p *string, max int, oneLine bool) (string, *protoError) {
	if p == nil {
		return "", nil
	}
	s := strings.TrimSpace(*p)
	if utf8.RuneCountInString(s) > max {
		return "", badRequest(field, "%s: at most %d characters", field, max)
	}
	if oneLine && strings.ContainsAny(s, "\r\n\x00") {
		return "", badRequest(field, "%s: must be one line", field)
	}
	return s, nil
}

// wireTime formats t as the protocol wants: RFC 3339, UTC, milliseconds.
func wireTime(t time.Time) string { return t.UTC().Format(switchboard.TimeFormat) }

// Outgoing frames. Each is encoded once and the bytes are shared by every
// connection that receives it.

type party struct {
	Kind switchboard.SenderKind `json:"kind"`
	ID   string                 `json:"id"`
	Name string                 `json:"name,omitempty"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type messageFrame struct {
	Type        string `json:"type"`
	ChatID      string `json:"chat_id"`
	Seq         int64  `json:"seq"`
	ClientMsgID string `json:"client_msg_id"`
	From        party  `json:"from"`
	Body        string `json:"body"`
	At          string `json:"at"`
}

func newMessageFrame(m switchboard.Message) messageFrame {
	return messageFrame{Type: "message", ChatID: m.ChatID, Seq: m.Seq, ClientMsgID: m.ClientMsgID,
		From: party{Kind: m.FromKind, ID: m.FromID, Name: m.FromName}, Body: m.Body, At: wireTime(m.At)}
}

type chatRef struct {
	ChatID  string                 `json:"chat_id"`
	Status  switchboard.ChatStatus `json:"status"`
	LastSeq int64                  `json:"last_seq"`
}

func chatRefs(chats []switchboard.Chat) []chatRef {
	out := make([]chatRef, len(chats))
	for i, c := range chats {
		out[i] = chatRef{ChatID: c.ID, Status: c.Status, LastSeq: c.LastSeq}
	}
	return out
}

// encode marshals a frame. Frames are plain structs and maps of strings and
// numbers, so this cannot fail.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("session: encode %T: %v", v, err))
	}
	return b
}

// ack builds an ack frame: {"type":"ack","ref":…} plus fields.
func ack(ref string, fields map[string]any) []byte {
	m := map[string]any{"type": "ack"}
	if ref != "" {
		m["ref"] = ref
	}
	for k, v := range fields {
		m[k] = v
	}
	return encode(m)
}

// errorFrame builds an error frame for ref.
func errorFrame(ref string, e *protoError) []byte {
	m := map[string]any{"type": "error", "code": e.Code, "message": e.Message}
	if ref != "" {
		m["ref"] = ref
	}
	if e.Field != "" {
		m["field"] = e.Field
	}
	if e.RetryAfterMS > 0 {
		m["retry_after_ms"] = e.RetryAfterMS
	}
	return encode(m)
}

// toProtoError is the one table from domain errors to protocol error codes.
// Unexpected errors become "internal" and are logged by the caller.
func toProtoError(err error) (pe *protoError, internal bool) {
	if errors.As(err, &pe) {
		return pe, false
	}
	var ve *switchboard.ValidationError
	if errors.As(err, &ve) {
		return &protoError{Code: "bad_request", Field: ve.Field, Message: ve.Error()}, false
	}
	var ce *switchboard.ConflictError
	if errors.As(err, &ce) {
		return &protoError{Code: "conflict", Field: ce.Field, Message: ce.Message}, false
	}
	switch {
	case errors.Is(err, switchboard.ErrNotFound):
		return &protoError{Code: "not_found", Message: "chat not found"}, false
	case errors.Is(err, switchboard.ErrAlreadyTaken):
		return &protoError{Code: "already_taken", Message: "another operator has this chat"}, false
	case errors.Is(err, switchboard.ErrForbidden):
		return &protoError{Code: "forbidden", Message: "not allowed"}, false
	case errors.Is(err, switchboard.ErrConflict):
		return &protoError{Code: "conflict", Message: err.Error()}, false
	case errors.Is(err, router.ErrNoOperators):
		return &protoError{Code: "no_operators", Message: "nobody eligible is online in the target"}, false
	case errors.Is(err, switchboard.ErrDepartmentDisabled):
		return &protoError{Code: "department_disabled", Message: "this department takes no new chats"}, false
	case errors.Is(err, switchboard.ErrUnavailable):
		return &protoError{Code: "unavailable", Message: "the server cannot store messages right now; retry with the same client_msg_id"}, false
	}
	return &protoError{Code: "internal", Message: "internal error"}, true
}
