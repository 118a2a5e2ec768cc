package widget_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/widget"
)

// budget is the most the widget may weigh, gzipped, all in (code, styles,
// settings): the aim.
const budget = 30 * 1024

func get(t *testing.T, url string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	// A Transport of our own: the default one would ask for gzip and
	// decompress behind our back.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestLoader(t *testing.T) {
	e := newEnv(t)
	var embed struct {
		ScriptURL string `json:"script_url"`
		Snippet   string
	}
	e.api(e.adminToken, "GET", "/api/departments/"+e.dept.ID+"/embed", nil, 200, &embed)
	if !strings.Contains(embed.Snippet, `<script src="`+embed.ScriptURL+`" async></script>`) {
		t.Fatalf("snippet %q does not load %s", embed.Snippet, embed.ScriptURL)
	}
	// The snippet's URL (the public URL) serves the loader.
	resp, js := get(t, embed.ScriptURL, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET %s: %d %s", embed.ScriptURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`"key":"` + e.dept.WidgetKey + `"`, `"name":"Acme"`, `"prechat":{"name":"optional","email":"optional","question":"required"}`, "attachShadow"} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("loader lacks %s", want)
		}
	}

	// Gzipped, and within the budget: measured here, as served.
	resp, gz := get(t, embed.ScriptURL, http.Header{"Accept-Encoding": {"gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, js) {
		t.Fatal("gzipped loader differs from the plain one")
	}
	var best bytes.Buffer
	w, _ := gzip.NewWriterLevel(&best, gzip.BestCompression)
	w.Write(js)
	w.Close()
	t.Logf("widget loader: %d bytes, %d gzipped as served, %d at best compression (budget %d)", len(js), len(gz), best.Len(), budget)
	if len(gz) > budget {
		t.Errorf("widget is %d bytes gzipped; the budget is %d", len(gz), budget)
	}

	// Revalidation is free.
	resp, _ = get(t, embed.ScriptURL, http.Header{"If-None-Match": {resp.Header.Get("ETag")}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}

	// Unknown, private and disabled departments look alike: 404.
	resp, unknown := get(t, e.proxy.URL()+"/widget/nosuchkey.js", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown key: %d", resp.StatusCode)
	}
	if resp, _ := get(t, e.proxy.URL()+"/widget/"+e.dept.WidgetKey, nil); resp.StatusCode != 404 {
		t.Errorf("loader without .js: %d, want 404", resp.StatusCode)
	}
	dis, err := e.st.UpdateDepartment(t.Context(), e.dept.ID, func(d *switchboard.Department) error { d.Enabled = false; return nil })
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, embed.ScriptURL, nil)
	if resp.StatusCode != 404 || !bytes.Equal(body, unknown) {
		t.Errorf("disabled department: %d %s", resp.StatusCode, body)
	}
	// The demo page has no public, enabled department to show now.
	if resp, _ := get(t, e.proxy.URL()+"/demo", nil); resp.StatusCode != 404 {
		t.Errorf("demo without a public department: %d, want 404", resp.StatusCode)
	}
	e.api(e.adminToken, "PATCH", "/api/departments/"+dis.ID, map[string]any{"enabled": true, "visibility": "private"}, 200, nil)
	if resp, body := get(t, embed.ScriptURL, nil); resp.StatusCode != 404 || !bytes.Equal(body, unknown) {
		t.Errorf("private department: %d %s", resp.StatusCode, body)
	}
}

func TestDemoPage(t *testing.T) {
	e := newEnv(t)
	var second struct {
		ID        string
		WidgetKey string `json:"widget_key"`
	}
	e.api(e.adminToken, "POST", "/api/departments", map[string]any{"name": "Sales <EU>", "visibility": "public"}, 201, &second)

	resp, page := get(t, e.proxy.URL()+"/demo", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("demo: %d %v", resp.StatusCode, resp.Header)
	}
	// The first public department (the default one), same-origin.
	if !bytes.Contains(page, []byte(`<script src="/widget/`+e.dept.WidgetKey+`.js" async></script>`)) {
		t.Fatalf("demo page does not embed the default department:\n%s", page)
	}
	_, page = get(t, e.proxy.URL()+"/demo?key="+second.WidgetKey+"&locale=ja", nil)
	if !bytes.Contains(page, []byte(`/widget/`+second.WidgetKey+`.js" data-locale="ja"`)) || !bytes.Contains(page, []byte("Sales &lt;EU&gt;")) ||
		!bytes.Contains(page, []byte(`<html lang="ja">`)) {
		t.Fatalf("demo ?key=&locale=ja:\n%s", page)
	}
	if resp, _ := get(t, e.proxy.URL()+"/demo?key=nope", nil); resp.StatusCode != 404 {
		t.Fatalf("demo with an unknown key: %d", resp.StatusCode)
	}
}

// TestScriptIsTextOnly guards the rule that user data never goes through
// innerHTML or friends: the widget's code has no such call at all.
func TestScriptIsTextOnly(t *testing.T) {
	h, err := widget.New(widget.Config{Store: nil})
	if err == nil || h != nil {
		t.Fatal("New without a store must fail")
	}
	js := readAsset(t, "assets/widget.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, bad) {
			t.Errorf("widget.js uses %s", bad)
		}
	}
}

func readAsset(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVisitorOrigin: the visitor endpoint takes the department's allowed
// origins and the server's own (the demo page), and refuses others.
func TestVisitorOrigin(t *testing.T) {
	e := newEnv(t)
	if _, err := e.st.UpdateDepartment(t.Context(), e.dept.ID, func(d *switchboard.Department) error {
		d.AllowedOrigins = []string{"https://shop.example.com"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	status := func(origin string) int {
		ws, resp, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(e.proxy.URL(), "http")+"/ws/visitor?widget="+e.dept.WidgetKey,
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err == nil {
			ws.CloseNow()
			return 101
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	for origin, want := range map[string]int{
		"https://shop.example.com": 101,
		e.proxy.URL():              101, // the public URL: the server's own pages
		"https://evil.example.com": 403,
		"http://127.0.0.1:1":       403,
	} {
		if got := status(origin); got != want {
			t.Errorf("Origin %s: %d, want %d", origin, got, want)
		}
	}
}
