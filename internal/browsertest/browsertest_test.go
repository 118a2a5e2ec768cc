package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-chat/switchboard/internal/browsertest"
)

const page = `<!doctype html><html><body><p id="light">light</p><script>
const host = document.createElement('div');
host.id = 'switchboard-widget';
document.body.appendChild(host);
const root = host.attachShadow({mode: 'open'});
root.innerHTML = '<button data-sb="b">go</button><input data-sb="i"><span data-sb="out"></span>';
root.querySelector('[data-sb=b]').addEventListener('click', () => {
  setTimeout(() => { root.querySelector('[data-sb=out]').textContent = 'clicked:' + root.querySelector('[data-sb=i]').value; }, 200);
});
console.log('page ready');
</script></body></html>`

func TestShadowHelpers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	defer srv.Close()
	t.Setenv("SWITCHBOARD_ARTIFACTS", t.TempDir())

	ctx := browsertest.New(t)
	browsertest.Run(t, ctx, chromedp.Navigate(srv.URL))
	browsertest.WaitJS(t, ctx, browsertest.Shadow(`[data-sb="b"]`)+" != null", 10*time.Second, "button")

	// The light DOM query must not see into the shadow root, Shadow must.
	var n int
	browsertest.Eval(t, ctx, `document.querySelectorAll('[data-sb]').length`, &n)
	if n != 0 {
		t.Fatalf("light DOM sees %d shadow elements", n)
	}
	if got := len(browsertest.ShadowAll("[data-sb]")); got == 0 {
		t.Fatal("ShadowAll empty expression")
	}
	browsertest.Type(t, ctx, browsertest.Shadow(`[data-sb="i"]`), "ab")
	browsertest.SetValue(t, ctx, browsertest.Shadow(`[data-sb="i"]`), "xyz")
	browsertest.Click(t, ctx, browsertest.Shadow(`[data-sb="b"]`))
	browsertest.WaitJS(t, ctx, browsertest.Shadow(`[data-sb="out"]`)+`.textContent == "clicked:xyz"`, 5*time.Second)
	if got := browsertest.Text(t, ctx, browsertest.Shadow(`[data-sb="out"]`)); got != "clicked:xyz" {
		t.Fatalf("text = %q", got)
	}
	if got := browsertest.Attr(t, ctx, browsertest.Shadow(`[data-sb="b"]`), "data-sb"); got != "b" {
		t.Fatalf("attr = %q", got)
	}

	browsertest.Screenshot(t, ctx, "browsertest-self")
	if _, err := os.Stat(filepath.Join(os.Getenv("SWITCHBOARD_ARTIFACTS"), "browsertest-self.png")); err != nil {
		t.Fatalf("screenshot not saved: %v", err)
	}

	// A second context shares no localStorage with the first.
	browsertest.Eval(t, ctx, `localStorage.setItem('k', 'v'), true`, nil)
	ctx2 := browsertest.NewContext(t, ctx)
	browsertest.Run(t, ctx2, chromedp.Navigate(srv.URL))
	var v *string
	browsertest.Eval(t, ctx2, `localStorage.getItem('k')`, &v)
	if v != nil {
		t.Fatalf("second context sees localStorage k=%q", *v)
	}
	browsertest.Eval(t, ctx, `localStorage.getItem('k')`, &v)
	if v == nil || *v != "v" {
		t.Fatalf("first context lost localStorage: %v", v)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// A missing browser fails the test and says how to install it: never a skip.
func TestMissingBrowserFails(t *testing.T) {
	t.Setenv("SWITCHBOARD_CHROMIUM", filepath.Join(t.TempDir(), "no-chromium"))
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		browsertest.New(rec)
	}()
	<-done
	if !strings.Contains(rec.msg, "apt-get install -y chromium") {
		t.Fatalf("New without a browser: %q", rec.msg)
	}
}
