package session

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeFrame(t *testing.T) {
	cases := []struct {
		in    string
		code  string
		field string
		typ   string
	}{
		{`{"type":"message.send","ref":"1","chat_id":"c","client_msg_id":"m","body":"hi"}`, "", "", "message.send"},
		{`{"type":"typing","chat_id":"c","on":true,"extra":"ignored"}`, "", "", "typing"},
		{`{nope`, "bad_request", "", ""},
		{`null`, "bad_request", "type", ""},
		{`{}`, "bad_request", "type", ""},
		{`{"type":5}`, "bad_request", "type", ""},
		{`{"type":"feedback","rating":"five"}`, "bad_request", "rating", "feedback"},
		{`{"type":"chat.resume","after_seq":1.5}`, "bad_request", "after_seq", "chat.resume"},
		{`{"type":"x","ref":"` + strings.Repeat("r", 65) + `"}`, "bad_request", "ref", "x"},
	}
	for _, c := range cases {
		f, err := decodeFrame([]byte(c.in))
		if c.code == "" {
			if err != nil || f.Type != c.typ {
				t.Errorf("%s: %v %+v", c.in, err, f)
			}
			continue
		}
		if err == nil || err.Code != c.code || err.Field != c.field {
			t.Errorf("%s: got %+v, want %s/%s", c.in, err, c.code, c.field)
		}
	}
}

// FuzzDecodeFrame: whatever bytes arrive, the decoder returns a frame or a
// bad_request, never panics, and an error frame built from its result is
// valid JSON with a ref of at most 64 characters.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"message.send","ref":"1","chat_id":"c","client_msg_id":"m","body":"hi"}`,
		`{"type":"chat.start","name":"山田","email":"a@example.com","question":"?"}`,
		`{"type":"feedback","chat_id":"c","rating":5,"comment":"👍"}`,
		`{"type":"chat.resume","chat_id":"c","after_seq":-1}`,
		`{"type":"status.set","status":"online"}`, `{`, `[]`, `""`, "\xff", `{"type":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, perr := decodeFrame(data)
		if fr == nil {
			t.Fatal("nil frame")
		}
		if len(fr.Ref) > maxRefLen {
			t.Fatalf("ref of %d characters passed", len(fr.Ref))
		}
		if perr != nil {
			if perr.Code != "bad_request" || perr.Message == "" {
				t.Fatalf("error %+v", perr)
			}
			out := errorFrame(fr.Ref, perr)
			if !json.Valid(out) || !utf8.Valid(out) {
				t.Fatalf("error frame is not valid JSON: %q", out)
			}
			return
		}
		if fr.Type == "" {
			t.Fatal("frame without a type accepted")
		}
	})
}
