package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w.Result()
}

// TestFiles: every embedded file is served with the CSP, its type, an
// ETag that a revalidation matches, and gzip that decodes to the file.
func TestFiles(t *testing.T) {
	if len(Files()) < 5 {
		t.Fatalf("only %d files embedded", len(Files()))
	}
	for name := range Files() {
		path := "/ui/" + name
		if name == "index.html" {
			path = "/"
		}
		plain := get(t, path)
		body, _ := io.ReadAll(plain.Body)
		if plain.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: %d, %d bytes", path, plain.StatusCode, len(body))
		}
		if plain.Header.Get("Content-Security-Policy") != CSP || plain.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, plain.Header)
		}
		ct := plain.Header.Get("Content-Type")
		for ext, want := range map[string]string{".js": "javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"} {
			if strings.HasSuffix(name, ext) && !strings.Contains(ct, want) {
				t.Errorf("%s: Content-Type %q, want %s", path, ct, want)
			}
		}
		etag := plain.Header.Get("ETag")
		if r := get(t, path, "If-None-Match", etag); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation with its ETag answered %d", path, r.StatusCode)
		}
		if r := get(t, path, "If-None-Match", `"other"`); r.StatusCode != 200 {
			t.Errorf("%s: revalidation with another ETag answered %d", path, r.StatusCode)
		}
		gz := get(t, path, "Accept-Encoding", "br, gzip;q=0.8")
		if gz.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(gz.Body)
			if err != nil {
				t.Fatal(err)
			}
			unz, _ := io.ReadAll(zr)
			if !bytes.Equal(unz, body) {
				t.Errorf("%s: gzip decodes to other bytes", path)
			}
		} else if Files()[name][1] != 0 {
			t.Errorf("%s: not gzipped for a client that accepts it", path)
		}
		if r := get(t, path, "Accept-Encoding", "gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: gzipped for a client that refuses it", path)
		}
	}
	for _, p := range []string{"/ui/", "/ui/missing.js", "/ui/index.html", "/ui/../ui.go"} {
		if r := get(t, p); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, r.StatusCode)
		}
	}
}

// TestNoInlineScript: the page loads its scripts and styles only from
// files, as the CSP demands, and writes no HTML from strings.
func TestNoInlineScript(t *testing.T) {
	html, _ := static.ReadFile("static/index.html")
	for _, bad := range []string{"<script>", "style=", "onclick", "onload", "javascript:"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("index.html holds %q", bad)
		}
	}
	for name := range Files() {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		src, _ := static.ReadFile("static/" + name)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if bytes.Contains(src, []byte(bad)) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}
