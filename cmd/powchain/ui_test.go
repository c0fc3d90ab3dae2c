package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/powchain/powchain/internal/testvectors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// The dashboard's tests drive a real Chromium (Debian's chromium, which
// .ci/run installs) against a real `powchain serve` process on loopback.

// chromiumPath finds the browser, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Skip("chromium is not installed: the browser tests need it (CI installs it with apt)")
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns the
// context of its first tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Skipf("chromium does not start here: %v", err)
	}
	return ctx
}

// consoleErrors records the page's console errors, uncaught exceptions
// and the browser's error log (failed loads, CSP violations).
type consoleErrors struct {
	mu   sync.Mutex
	errs []string
}

func (c *consoleErrors) listen(ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			// The page asks for /workers to learn whether the node has
			// remote workers; a node without them answers 404, which the
			// browser logs. That one is expected.
			if m.Source == "network" && strings.HasSuffix(m.URL, "/workers") && strings.Contains(m.Text, "404") {
				continue
			}
			c.mu.Lock()
			c.errs = append(c.errs, m.String())
			c.mu.Unlock()
		}
	}()
}

func (c *consoleErrors) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.errs
	c.errs = nil
	return out
}

// openPage opens the dashboard in the tab of ctx and waits until the live
// stream is up.
func openPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	drive(t, ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`#live[data-state="live"], #live[data-state="shared"]`)),
	)
}

// drive runs chromedp actions with a deadline.
func drive(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates JavaScript (awaiting a promise) into a T.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true or timeout passes.
func waitJS(t *testing.T, ctx context.Context, timeout time.Duration, what, cond string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if eval[bool](t, ctx, "!!("+cond+")") {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not true after %v: %s", what, timeout, cond)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// setValue sets a form field's value, as pasting would.
func setValue(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(e => (e.value = `+jsString(value)+`, true))(document.getElementById(`+jsString(id)+`))`)(ctx, t)
		return err
	})
}

// uiPost posts a transaction body to the node and returns status and body.
func uiPost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url+"new_transaction", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// length returns the node's chain length.
func length(t *testing.T, url string) int {
	var h struct{ Length int }
	if err := json.Unmarshal([]byte(getBody(t, url+"health")), &h); err != nil {
		t.Fatal(err)
	}
	return h.Length
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves a PNG of the viewport at a width.
func screenshot(t *testing.T, ctx context.Context, dir, name string, width, height int64, mobile bool) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	drive(t, ctx, chromedp.EmulateViewport(width, height, opts...), chromedp.Sleep(400*time.Millisecond))
	ctx2, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx2, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	drive(t, ctx, chromedp.ResetViewport())
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", p, len(png))
}

// screenshotDir is where the screenshots go: $POWCHAIN_SCREENSHOTS, or
// the test's artifact directory (kept with go test -artifacts).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("POWCHAIN_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// TestDashboard drives the page in Chromium against a real serve process:
// it loads with no console errors, a posted transaction shows in the
// pool, Mine shows the new block through the event stream within 2 s,
// hostile content is shown as text and runs nothing, a refused
// transaction shows the node's message, the hash recomputed in the
// browser equals the stored one (and the page's JSON serializer passes
// CPython's vectors), and the status view is captured at desktop and
// phone width.
func TestDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and drives a browser")
	}
	ctx := browser(t)
	bin := buildPowchain(t)
	const maxStreams = 4
	const token = "dashboard-test-token"
	p := startServe(t, bin, "--data", t.TempDir(), "--difficulty", "2", "--workers", "1", "--sync-interval", "0",
		"--events-max", fmt.Sprint(maxStreams), "--admin-token", token)
	var cons consoleErrors
	cons.listen(ctx)
	openPage(t, ctx, p.url)

	t.Run("load", func(t *testing.T) {
		var csp string
		resp, err := http.Get(p.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp = resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "connect-src 'self'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
			}
		}
		waitJS(t, ctx, 5*time.Second, "height shown", `document.getElementById('s-height').textContent === '0'`)
		waitJS(t, ctx, 5*time.Second, "genesis listed", `document.querySelector('#block-rows tr[data-index="0"]')`)
		kernel := eval[string](t, ctx, `document.getElementById('s-kernel').textContent`)
		if !strings.Contains(kernel, "1 worker") {
			t.Errorf("kernel shows %q, want the hasher and 1 worker", kernel)
		}
		time.Sleep(1200 * time.Millisecond) // a status event or two
		if errs := cons.take(); len(errs) > 0 {
			t.Fatalf("console errors on load:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("post", func(t *testing.T) {
		content := fmt.Sprintf("posted from the form at %d", time.Now().UnixNano())
		drive(t, ctx,
			setValue("tx-author", ""),
			chromedp.SendKeys(chromedp.ID("tx-author"), "alice"),
			chromedp.SendKeys(chromedp.ID("tx-content"), content),
			chromedp.Click(chromedp.ID("tx-post")),
		)
		waitJS(t, ctx, 3*time.Second, "the posted transaction in the pool list",
			`[...document.querySelectorAll('#pending .content')].some(e => e.textContent === `+jsString(content)+`)`)
		if !strings.Contains(getBody(t, p.url+"pending_tx"), content) {
			t.Fatal("the node's pool does not hold the transaction the form posted")
		}
	})

	t.Run("refused", func(t *testing.T) {
		// The node's own message for the same input, to compare with.
		code, want := uiPost(t, p.url, `{"author": "", "content": "no author"}`)
		if code/100 != 4 {
			t.Fatalf("the node answered %d %q to an empty author, want 4xx", code, want)
		}
		drive(t, ctx,
			setValue("tx-author", ""),
			setValue("tx-content", "no author"),
			chromedp.Click(chromedp.ID("tx-post")),
		)
		waitJS(t, ctx, 3*time.Second, "the node's message", `document.getElementById('tx-msg').textContent.includes(`+jsString(want)+`)`)
		role := eval[string](t, ctx, `document.getElementById('tx-msg').getAttribute('role')`)
		if role != "alert" {
			t.Errorf("the refusal's role is %q, want alert for screen readers", role)
		}
		drive(t, ctx, setValue("tx-author", "alice"))
		// The browser logs the refused request; nothing else may be there.
		for _, e := range cons.take() {
			if !strings.Contains(e, "status of "+fmt.Sprint(code)) {
				t.Errorf("console error: %s", e)
			}
		}
	})

	t.Run("mine", func(t *testing.T) {
		if code, body := uiPost(t, p.url, `{"author": "bob", "content": "to be mined"}`); code != http.StatusCreated {
			t.Fatalf("posting: %d %s", code, body)
		}
		n := length(t, p.url)
		eval[bool](t, ctx, `performance.clearResourceTimings(), true`)
		start := time.Now()
		drive(t, ctx, chromedp.Click(chromedp.ID("mine")))
		sel := fmt.Sprintf(`document.querySelector('#block-rows tr[data-index="%d"]')`, n)
		waitJS(t, ctx, 10*time.Second, "the new block in the list", sel)
		took := time.Since(start)
		t.Logf("the mined block showed in the list %v after the click", took)
		if took > 2*time.Second {
			t.Errorf("the mined block showed after %v, want within 2 s", took)
		}
		fetched := eval[[]string](t, ctx, `performance.getEntriesByType('resource').map(e => e.name).filter(u => u.includes('/blocks') || u.includes('/chain'))`)
		if len(fetched) > 0 {
			t.Errorf("the page fetched %v after Mine; the new block must come through the event stream", fetched)
		}
		first := eval[string](t, ctx, `document.querySelector('#block-rows tr').dataset.index`)
		if first != fmt.Sprint(n) {
			t.Errorf("the first row is block %s, want the new block %d first", first, n)
		}
		waitJS(t, ctx, 5*time.Second, "the Mine result", `/Block #\d+ is mined/.test(document.getElementById('mine-msg').textContent)`)
	})

	t.Run("xss", func(t *testing.T) {
		payloads := []string{
			`<img src=x onerror="window.__xss = 'img'">`,
			`<script>window.__xss = 'script'</script>`,
			`<svg onload="window.__xss = 'svg'"></svg>`,
		}
		for i, pl := range payloads {
			body, _ := json.Marshal(map[string]string{"author": pl, "content": pl + fmt.Sprint(i)})
			if code, msg := uiPost(t, p.url, string(body)); code != http.StatusCreated {
				t.Fatalf("posting: %d %s", code, msg)
			}
		}
		for i, pl := range payloads {
			waitJS(t, ctx, 3*time.Second, "the payload in the pool list, as text",
				`[...document.querySelectorAll('#pending .content')].some(e => e.textContent === `+jsString(pl+fmt.Sprint(i))+`)`)
		}
		n := length(t, p.url)
		getBody(t, p.url+"mine")
		drive(t, ctx, chromedp.Navigate(p.url+fmt.Sprintf("#/block/%d", n)))
		waitJS(t, ctx, 5*time.Second, "the block view", `document.getElementById('b-check').textContent.startsWith('✓')`)
		for i, pl := range payloads {
			waitJS(t, ctx, time.Second, "the payload in the block view, as text",
				`[...document.querySelectorAll('#b-txs .content')].some(e => e.textContent === `+jsString(pl+fmt.Sprint(i))+`)`)
		}
		time.Sleep(300 * time.Millisecond) // an onerror would fire by now
		flag := eval[string](t, ctx, `window.__xss === undefined ? '' : String(window.__xss)`)
		if flag != "" {
			t.Fatalf("a payload ran: window.__xss = %v", flag)
		}
		injected := eval[int](t, ctx, `document.querySelectorAll('main img, main script, main svg:not(#spark)').length`)
		if injected != 0 {
			t.Fatalf("%d elements from the payloads are in the page", injected)
		}
		if errs := cons.take(); len(errs) > 0 {
			t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("hash", func(t *testing.T) {
		// Non-ASCII text (accents, CJK, an emoji beyond U+FFFF, DEL),
		// floats in every notation CPython's repr uses, a big integer and
		// nested keys in an order that sorting changes.
		tx := `{"author": "Zoë Ångström", "content": "日本語 😀 naïve \u007f tab\t end",
			"price": 0.1, "big": 1e22, "small": 1.5e-7, "third": 0.3333333333333333, "neg": -0.0,
			"whole": 100.0, "huge": 123456789012345678901234567890, "nested": {"b": [1.0, 2.5e300], "a": "\u00e9", "\ud83d\ude00": 1, "\uffff": 2}}`
		if code, msg := uiPost(t, p.url, tx); code != http.StatusCreated {
			t.Fatalf("posting: %d %s", code, msg)
		}
		n := length(t, p.url)
		getBody(t, p.url+"mine")
		blk := blockAt(t, p.url, n)
		stored := blk.Hash
		drive(t, ctx, chromedp.Navigate(p.url+fmt.Sprintf("#/block/%d", n)))
		waitJS(t, ctx, 5*time.Second, "the recomputed hash", `document.getElementById('b-rehash').textContent.length === 64`)
		got := eval[string](t, ctx, `document.getElementById('b-rehash').textContent`)
		check := eval[string](t, ctx, `document.getElementById('b-check').textContent`)
		nonce := eval[string](t, ctx, `document.getElementById('b-nonce').textContent`)
		mark := eval[string](t, ctx, `document.querySelector('#b-pre mark').textContent`)
		if got != stored {
			t.Fatalf("the browser recomputed %s, the node stored %s", got, stored)
		}
		if !strings.HasPrefix(check, "✓") || !strings.Contains(check, "Web Crypto") {
			t.Errorf("the check says %q, want a match by Web Crypto", check)
		}
		if nonce != fmt.Sprint(blk.Nonce) || mark != nonce {
			t.Errorf("nonce shown %q, highlighted %q, want %d", nonce, mark, blk.Nonce)
		}
	})

	t.Run("vectors", func(t *testing.T) {
		// The page's serializer against CPython's own output.
		canon, err := os.ReadFile(testvectors.Path(t, "canonical_json.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := os.ReadFile(testvectors.Path(t, "blocks.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		js := `(async () => {
			const pj = await import('/ui/js/pyjson.js');
			const sh = await import('/ui/js/sha256.js');
			const bad = [];
			let n = 0;
			for (const line of ` + jsString(string(canon)) + `.split('\n').filter(Boolean)) {
				const c = JSON.parse(line);
				let got;
				try { got = pj.dumps(pj.parse(c.input)); } catch (e) { if (!c.edge) bad.push(c.name + ': ' + e.message); continue; }
				n++;
				if (got !== c.canonical) bad.push(c.name + ': got ' + got + ' want ' + c.canonical);
				const h = await sh.sha256Hex(got);
				const f = sh.sha256Bytes(new TextEncoder().encode(got));
				if (got === c.canonical && (h.hex !== c.sha256 || f !== c.sha256)) bad.push(c.name + ': sha256 ' + h.hex + ' / ' + f);
			}
			for (const line of ` + jsString(string(blocks)) + `.split('\n').filter(Boolean)) {
				const c = JSON.parse(line);
				const pre = pj.blockPreimage(pj.parse(c.wire));
				n++;
				if (pre.text !== c.serialized) bad.push(c.name + ': serialized ' + pre.text);
				const h = await sh.sha256Hex(pre.text);
				if (h.hex !== c.hash) bad.push(c.name + ': hash ' + h.hex);
				if (sh.sha256Bytes(new TextEncoder().encode(pre.text)) !== c.hash) bad.push(c.name + ': fallback hash');
			}
			return {n, bad};
		})()`
		res := eval[struct {
			N   int
			Bad []string
		}](t, ctx, js)
		if len(res.Bad) > 0 {
			t.Fatalf("%d of the vectors fail:\n%s", len(res.Bad), strings.Join(res.Bad, "\n"))
		}
		if res.N < 60 {
			t.Fatalf("only %d vectors ran", res.N)
		}
		t.Logf("%d vectors match CPython", res.N)
	})

	t.Run("screenshots", func(t *testing.T) {
		// Some history for the sparkline and the lists.
		for i := range 3 {
			uiPost(t, p.url, fmt.Sprintf(`{"author": "carol", "content": "screenshot transaction %d"}`, i))
		}
		drive(t, ctx, chromedp.Navigate(p.url+"#"))
		waitJS(t, ctx, 5*time.Second, "the page", `document.querySelectorAll('#block-rows tr').length > 3`)
		dir := screenshotDir(t)
		screenshot(t, ctx, dir, "dashboard-desktop.png", 1280, 900, false)
		screenshot(t, ctx, dir, "dashboard-phone.png", 390, 844, true)
		if errs := cons.take(); len(errs) > 0 {
			t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("peers", func(t *testing.T) {
		peer := startServe(t, bin, "--data", t.TempDir(), "--difficulty", "2", "--workers", "1", "--sync-interval", "0")
		drive(t, ctx, chromedp.Navigate(p.url+"#"), setValue("peer-url", peer.url), setValue("peer-token", ""), chromedp.Click(chromedp.CSS("#peer-form button")))
		// Without the token: the node's refusal, word for word.
		req, _ := http.NewRequest("POST", p.url+"register_with", strings.NewReader(`{"node_address": "`+peer.url+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		refusal, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 {
			t.Fatalf("register_with without the token: %d %s", resp.StatusCode, refusal)
		}
		waitJS(t, ctx, 5*time.Second, "the node's refusal", `document.getElementById('peer-msg').textContent.includes(`+jsString(string(refusal))+`)`)
		// With it: registered, and the peer list grows through the stream.
		drive(t, ctx, setValue("peer-token", token), chromedp.Click(chromedp.CSS("#peer-form button")))
		waitJS(t, ctx, 10*time.Second, "the registration", `document.getElementById('peer-msg').textContent.includes('Registration successful')`)
		waitJS(t, ctx, 5*time.Second, "the peer in the list", `[...document.querySelectorAll('#peer-list code')].some(e => e.textContent === `+jsString(peer.url)+`)`)
		for _, e := range cons.take() {
			if !strings.Contains(e, fmt.Sprint(resp.StatusCode)) {
				t.Errorf("console error: %s", e)
			}
		}
	})

	t.Run("full", func(t *testing.T) {
		// Every stream taken: the page says so and polls /health.
		drive(t, ctx, chromedp.Navigate("about:blank"))
		waitFor(t, 5*time.Second, "the page's stream to close", func() bool { return metric(t, p.url, "powchain_event_subscribers") == "0" })
		for range maxStreams {
			resp, err := http.Get(p.url + "events")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /events: %v %v", resp, err)
			}
			defer resp.Body.Close()
		}
		drive(t, ctx, chromedp.Navigate(p.url))
		waitJS(t, ctx, 10*time.Second, "the full state", `document.getElementById('live').dataset.state === 'full'`)
		uiPost(t, p.url, `{"author": "erin", "content": "seen by polling"}`)
		n := length(t, p.url)
		getBody(t, p.url+"mine")
		waitJS(t, ctx, 10*time.Second, "the block through polling", fmt.Sprintf(`document.querySelector('#block-rows tr[data-index="%d"]')`, n))
		for _, e := range cons.take() {
			if !strings.Contains(e, "events") && !strings.Contains(e, "503") && !strings.Contains(e, "text/event-stream") {
				t.Errorf("console error: %s", e)
			}
		}
	})
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not after %v", what, timeout)
		}
	}
}

// TestDashboardTabs opens 20 tabs of the dashboard in one browser: they
// share one event stream (a browser allows only 6 connections to a
// host), all of them show a new block, and the node counts one
// subscriber.
func TestDashboardTabs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and drives a browser with 20 tabs")
	}
	ctx := browser(t)
	bin := buildPowchain(t)
	p := startServe(t, bin, "--data", t.TempDir(), "--difficulty", "2", "--workers", "1", "--sync-interval", "0")
	tabs := 20
	if v := os.Getenv("POWCHAIN_TABS"); v != "" {
		fmt.Sscan(v, &tabs)
	}
	var ctxs []context.Context
	var closers []context.CancelFunc
	start := time.Now()
	for range tabs {
		tctx, cancel := chromedp.NewContext(ctx)
		t.Cleanup(cancel)
		// The first run on a tab's context, without a deadline, makes the
		// tab live as long as the context.
		if err := chromedp.Do(tctx); err != nil {
			t.Fatal(err)
		}
		openPage(t, tctx, p.url)
		ctxs = append(ctxs, tctx)
		closers = append(closers, cancel)
	}
	t.Logf("%d tabs open and live in %v", tabs, time.Since(start))
	if subs := metric(t, p.url, "powchain_event_subscribers"); subs != "1" {
		t.Errorf("the node has %s event subscribers for %d tabs, want 1", subs, tabs)
	}
	uiPost(t, p.url, `{"author": "dave", "content": "seen by every tab"}`)
	n := length(t, p.url)
	start = time.Now()
	getBody(t, p.url+"mine")
	for i, c := range ctxs {
		waitJS(t, c, 5*time.Second, fmt.Sprintf("tab %d shows the block", i), fmt.Sprintf(`document.querySelector('#block-rows tr[data-index="%d"]')`, n))
	}
	t.Logf("all %d tabs showed the new block %v after /mine", tabs, time.Since(start))

	// Closing the leading tab hands the stream to another tab.
	closers[0]() // the first tab opened leads
	ctxs = ctxs[1:]
	uiPost(t, p.url, `{"author": "dave", "content": "after the leader left"}`)
	getBody(t, p.url+"mine")
	for i, c := range ctxs {
		waitJS(t, c, 10*time.Second, fmt.Sprintf("tab %d shows the next block", i+1), fmt.Sprintf(`document.querySelector('#block-rows tr[data-index="%d"]')`, n+1))
	}
	if subs := metric(t, p.url, "powchain_event_subscribers"); subs != "1" {
		t.Errorf("after the leader closed, the node has %s event subscribers, want 1", subs)
	}
}

// blockAt reads block h through GET /blocks.
func blockAt(t *testing.T, url string, h int) *engine.Block {
	t.Helper()
	v, err := pyjson.Decode([]byte(getBody(t, url+fmt.Sprintf("blocks?from=%d&limit=1", h))))
	if err != nil {
		t.Fatal(err)
	}
	list, _ := v.(pyjson.Object)["blocks"].([]pyjson.Value)
	if len(list) != 1 {
		t.Fatalf("GET /blocks?from=%d&limit=1 holds %d blocks", h, len(list))
	}
	b, err := engine.BlockFromValue(list[0], engine.BlockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metric reads one unlabelled metric's value from /metrics.
func metric(t *testing.T, url, name string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(getBody(t, url+"metrics")))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return ""
}
