package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/internal/testvectors"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// httpDo sends a request and returns the status and body.
func httpDo(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// chainVectors returns the chains.jsonl rows as (name, dump, difficulty,
// valid, bad_index).
type chainVector struct {
	name, dump, difficulty string
	valid                  bool
	bad                    string
}

func chainVectors(t *testing.T) []chainVector {
	var out []chainVector
	for _, r := range testvectors.Rows(t, "chains.jsonl") {
		v := chainVector{
			name:       testvectors.String(t, r["name"]),
			dump:       testvectors.String(t, r["dump"]),
			difficulty: string(r["difficulty"]),
			bad:        string(r["bad_index"]),
		}
		if err := json.Unmarshal(r["valid"], &v.valid); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestServeInProcess(t *testing.T) {
	data := t.TempDir()
	var valid chainVector
	for _, v := range chainVectors(t) {
		if v.valid {
			valid = v
			break
		}
	}
	dumpFile := filepath.Join(t.TempDir(), "dump.json")
	os.WriteFile(dumpFile, []byte(valid.dump), 0o644)

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	o := &serveOptions{}
	o.register(fs)
	if err := fs.Parse([]string{"--addr", "127.0.0.1:0", "--data", data, "--difficulty", valid.difficulty,
		"--workers", "1", "--import", dumpFile, "--debug-addr", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	o.onListen = func(a string) { addr <- a }
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}, o, nil)
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a + "/"
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}

	want, _ := engine.DecodeDump([]byte(valid.dump))
	if code, body := httpDo(t, "GET", base+"chain", ""); code != 200 || !strings.HasPrefix(body, fmt.Sprintf(`{"length": %d,`, len(want.Blocks))) {
		t.Fatalf("/chain after --import: %d %.80s", code, body)
	}
	if code, body := httpDo(t, "POST", base+"new_transaction", `{"author": "a", "content": "c"}`); code != 201 {
		t.Fatalf("/new_transaction: %d %s", code, body)
	}
	if code, body := httpDo(t, "GET", base+"mine", ""); code != 200 || body != fmt.Sprintf("Block #%d is mined.", len(want.Blocks)) {
		t.Fatalf("/mine: %d %s", code, body)
	}
	// pprof is on the debug address only.
	if code, _ := httpDo(t, "GET", base+"debug/pprof/", ""); code != 404 {
		t.Fatalf("pprof on the public address: %d", code)
	}
	m := regexp.MustCompile(`msg="debug server \(pprof\) listening" addr=(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no debug server line in the log:\n%s", stderr.String())
	}
	if code, body := httpDo(t, "GET", "http://"+m[1]+"/debug/pprof/", ""); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof on the debug address: %d", code)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	log := stderr.String()
	for _, s := range []string{"msg=listening", `msg="block mined" height=` + fmt.Sprint(len(want.Blocks)), "nonce=", "hashes=", "hash_rate=", `msg="shutting down"`} {
		if !strings.Contains(log, s) {
			t.Errorf("the log lacks %q:\n%s", s, log)
		}
	}
	if !strings.Contains(stdout.String(), "imported: ") {
		t.Errorf("stdout: %q", stdout.String())
	}
	// The store is closed: export can read it.
	out, errs, code := powchain(t, "", "export", "--data", data)
	if code != 0 || !strings.HasPrefix(out, fmt.Sprintf(`{"length": %d,`, len(want.Blocks)+1)) {
		t.Fatalf("export: %d %s %.80s", code, errs, out)
	}
}

func TestServeBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--peers", "ftp://x"}, "--peers"},
		{[]string{"--max-conns", "-1"}, "--max-conns"},
		{[]string{"--trusted-proxy", "10.0.0.0/8,proxy.lan"}, `--trusted-proxy: "proxy.lan" is neither`},
		{[]string{"--proxy-header", "X-Real-IP"}, "--proxy-header must be X-Forwarded-For or Forwarded"},
		{[]string{"--advertise", "nope"}, "--advertise"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--workers", "0"}, "--workers"},
		{[]string{"--difficulty", "65"}, "out of range"},
		{[]string{"--import", "/nonexistent/dump.json"}, "no such file"},
		{[]string{"extra"}, "no arguments"},
	} {
		_, errs, code := powchain(t, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)...)
		if code != exitUsage || !strings.Contains(errs, c.msg) {
			t.Errorf("serve %v: exit %d %q, want exit 2 with %q", c.args, code, errs, c.msg)
		}
	}
	// A data dir made at another difficulty is refused at start.
	dir := t.TempDir()
	if _, errs, code := powchain(t, "[]", "import", "--data", dir, "--difficulty", "2", "-"); code != exitUsage {
		t.Fatalf("import of an empty chain: exit %d %s", code, errs)
	}
	var valid chainVector
	for _, v := range chainVectors(t) {
		if v.valid {
			valid = v
			break
		}
	}
	if _, errs, code := powchain(t, valid.dump, "import", "--data", dir, "--difficulty", "2"); code != 0 {
		t.Fatalf("import: exit %d %s", code, errs)
	}
	_, errs, code := powchain(t, "", "serve", "--addr", "127.0.0.1:0", "--data", dir, "--difficulty", "3")
	if code != exitUsage || !strings.Contains(errs, "2 hex zeros") || !strings.Contains(errs, "3 hex zeros") {
		t.Fatalf("serve at another difficulty: exit %d %q", code, errs)
	}
}

// TestImportVectors imports every reference chain dump with the CLI: the
// valid ones are stored and export gives them back, the invalid ones are
// refused (exit 1) naming their bad block and leave no store behind.
func TestImportVectors(t *testing.T) {
	for _, v := range chainVectors(t) {
		dir := t.TempDir()
		file := filepath.Join(t.TempDir(), "dump.json")
		os.WriteFile(file, []byte(v.dump), 0o644)
		out, errs, code := powchain(t, "", "import", "--data", dir, "--difficulty", v.difficulty, file)
		if v.valid {
			if code != 0 || !strings.HasPrefix(out, "imported: ") {
				t.Fatalf("%s: exit %d %q %q", v.name, code, out, errs)
			}
			exported := filepath.Join(t.TempDir(), "out.json")
			if _, errs, code := powchain(t, "", "export", "--data", dir, exported); code != 0 {
				t.Fatalf("%s: export: exit %d %s", v.name, code, errs)
			}
			data, _ := os.ReadFile(exported)
			got, err := engine.DecodeDump(data)
			want, _ := engine.DecodeDump([]byte(v.dump))
			if err != nil || len(got.Blocks) != len(want.Blocks) {
				t.Fatalf("%s: export gives %v, %v", v.name, got, err)
			}
			for i := range got.Blocks {
				if got.Blocks[i].Hash != want.Blocks[i].Hash || got.Blocks[i].ComputeHash() != want.Blocks[i].Hash {
					t.Fatalf("%s: exported block %d differs", v.name, i)
				}
			}
			// Importing it again changes nothing.
			if out, _, code := powchain(t, "", "import", "--data", dir, "--difficulty", v.difficulty, file); code != 0 || !strings.Contains(out, "already held") {
				t.Fatalf("%s: import again: exit %d %q", v.name, code, out)
			}
			continue
		}
		if code != exitInvalid || !strings.Contains(out, "invalid: block "+v.bad+" ") {
			t.Fatalf("%s: exit %d %q %q, want exit 1 naming block %s", v.name, code, out, errs, v.bad)
		}
		if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
			t.Fatalf("%s: a refused import left %v in the data dir (%v)", v.name, ents, err)
		}
	}
}

func TestImportRefusesAShorterOtherChain(t *testing.T) {
	var a, b string
	for _, v := range chainVectors(t) {
		if v.valid && a == "" {
			a = v.dump
		} else if v.valid {
			b = v.dump
		}
	}
	da, _ := engine.DecodeDump([]byte(a))
	db, _ := engine.DecodeDump([]byte(b))
	if len(da.Blocks) <= len(db.Blocks) {
		a, b = b, a
	}
	dir := t.TempDir()
	if _, errs, code := powchain(t, a, "import", "--data", dir); code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	_, errs, code := powchain(t, b, "import", "--data", dir)
	if code != exitUsage || !strings.Contains(errs, "not longer") {
		t.Fatalf("import of a shorter, different chain: exit %d %q", code, errs)
	}
	if _, errs, code := powchain(t, "", "export", "--data", t.TempDir()); code != exitUsage || !strings.Contains(errs, "no powchain store") {
		t.Fatalf("export of an empty dir: exit %d %q", code, errs)
	}
}
