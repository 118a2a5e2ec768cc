package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

// maxBodyBytes caps every request body.
const maxBodyBytes = 1 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// list is the shape of every list response.
type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Items: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

// readBody reads a JSON object body of at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, errorf(http.StatusUnsupportedMediaType, "bad_request", "", "send JSON (Content-Type: application/json)")
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "too_large", "", fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
		}
		return nil, errorf(http.StatusBadRequest, "bad_request", "", "could not read the body")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errorf(http.StatusBadRequest, "bad_request", "", "the body must be a JSON object")
	}
	if dec.More() {
		return nil, errorf(http.StatusBadRequest, "bad_request", "", "the body must be one JSON object")
	}
	return m, nil
}

// decodeBody reads a JSON object body (readBody) into dst (decodeInto).
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	m, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeInto(m, dst)
}

// decodeInto decodes a JSON object (as read by readBody, maybe merged onto
// a current object) into dst, refusing unknown fields and naming the field
// of a type mismatch.
func decodeInto(m map[string]any, dst any) error {
	if f := unknownField(m, reflect.TypeOf(dst), ""); f != "" {
		return errorf(http.StatusBadRequest, "bad_request", f, fmt.Sprintf("%s: unknown field", f))
	}
	data, err := json.Marshal(m)
	if err != nil {
		return errorf(http.StatusBadRequest, "bad_request", "", "the body is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errorf(http.StatusBadRequest, "bad_request", te.Field, fmt.Sprintf("%s: must be %s", te.Field, jsonKind(te.Type.Kind().String())))
		}
		return errorf(http.StatusBadRequest, "bad_request", "", "the body is not valid: "+err.Error())
	}
	return nil
}

// unknownField returns the dotted path of the first key of m that the
// struct type t (or a struct it nests) has no JSON field for, or "".
// encoding/json names only the key, not where it was.
func unknownField(m map[string]any, t reflect.Type, prefix string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same body always names the same field
	for _, k := range keys {
		ft, ok := fields[k]
		if !ok {
			return prefix + k
		}
		if sub, ok := m[k].(map[string]any); ok {
			if f := unknownField(sub, ft, prefix+k+"."); f != "" {
				return f
			}
		}
	}
	return ""
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return "of another type"
}

// mergePatch applies a JSON merge at every depth: objects merge key by key,
// every other value (lists included) replaces. null resets a field to its
// zero value.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		if pv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergePatch(dv, pv)
				continue
			}
		}
		if v == nil {
			delete(dst, k)
			continue
		}
		dst[k] = v
	}
}

// toMap turns a value into its JSON object form, to merge a patch onto.
func toMap(v any) map[string]any {
	data, _ := json.Marshal(v)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_ = dec.Decode(&m)
	return m
}

// refuseFields fails when the body sets any of the read-only fields.
func refuseFields(m map[string]any, fields ...string) error {
	for _, f := range fields {
		if _, ok := m[f]; ok {
			return errorf(http.StatusBadRequest, "bad_request", f, f+": is read-only")
		}
	}
	return nil
}

// pageFromQuery reads cursor and limit; a limit outside 1–200 is a 400
// naming "limit".
func pageFromQuery(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Cursor: q.Get("cursor"), Limit: store.DefaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			return p, errorf(http.StatusBadRequest, "bad_request", "limit", fmt.Sprintf("limit: must be a whole number from 1 to %d", store.MaxLimit))
		}
		p.Limit = n
	}
	return p, nil
}

// badRequest turns a *switchboard.ValidationError from a store list call
// (a malformed cursor) into a 400 rather than a 422: it came from the query.
func badQuery(err error) error {
	var ve *switchboard.ValidationError
	if errors.As(err, &ve) {
		return errorf(http.StatusBadRequest, "bad_request", ve.Field, ve.Error())
	}
	return err
}
