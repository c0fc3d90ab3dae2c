package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseXML checks that data is well-formed XML with an <svg> root and
// returns its text content.
func parseXML(t *testing.T, data []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var text strings.Builder
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte(' ')
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return text.String()
}

func TestWriteSVG(t *testing.T) {
	rep := knownReport()
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	text := parseXML(t, b.Bytes())
	for _, want := range []string{"Hash rate by kernel", "Time to solution", "Work to the lowest valid nonce",
		"1 worker", "2 workers", "openssl", "Python", "expected", "difficulty"} {
		if !strings.Contains(text, want) {
			t.Errorf("SVG text lacks %q", want)
		}
	}
	if err := (&Report{}).WriteSVG(io.Discard); !errors.Is(err, ErrNoData) {
		t.Errorf("empty report: %v, want ErrNoData", err)
	}
}

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	paths, err := knownReport().WritePlots(filepath.Join(dir, "plots"))
	if err != nil {
		t.Fatal(err)
	}
	// rate (txs=1), time for 1 and 2 workers, tried: SVG and PNG each.
	if len(paths) != 8 {
		t.Fatalf("wrote %v, want 4 charts in 2 formats", paths)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".svg") {
			parseXML(t, data)
		} else if !bytes.HasPrefix(data, []byte("\x89PNG")) {
			t.Errorf("%s is not a PNG", p)
		}
	}
}

// Without throughput records the rate chart falls back to the solve
// records of the highest difficulty.
func TestRateChartFallback(t *testing.T) {
	rep := knownReport()
	rep.Records = rep.Records[2:]
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if text := parseXML(t, b.Bytes()); !strings.Contains(text, "solving difficulty 2") {
		t.Errorf("rate chart title does not say it shows solve rates")
	}
}
