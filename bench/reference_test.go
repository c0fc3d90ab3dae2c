package bench

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestParseOpenSSL(t *testing.T) {
	out := "+DT:sha256:1:16384\n+R:76452:sha256:0.760000\n+H:16384\n+F:25:sha256:1648144168.42\n"
	v, err := parseOpenSSL([]byte(out))
	if err != nil || v != 1648144168.42 {
		t.Fatalf("parseOpenSSL = %g, %v", v, err)
	}
	for _, bad := range []string{"", "+F:25:sha256:nope\n", "+F:25:md5:1000\n", "+F:25:sha256:-1\n"} {
		if _, err := parseOpenSSL([]byte(bad)); err == nil {
			t.Errorf("parseOpenSSL(%q) did not fail", bad)
		}
	}
}

func TestOpenSSL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs openssl for a second")
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	ref, err := MeasureOpenSSL(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ref.CompressionsPerSec <= 1e5 || ref.CompressionsPerSec != ref.BytesPerSec/64 {
		t.Errorf("openssl: %+v", ref)
	}
}

func TestPythonBaseline(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH")
	}
	ref, err := MeasurePython(context.Background(), Block(3, 2, 0, 0), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !ref.Agrees {
		t.Error("python hashes the block differently from powchain")
	}
	if ref.Txs != 2 || ref.Hashes < 1024 || ref.HashesPerSec <= 0 || ref.Seconds < 0.1 {
		t.Errorf("python baseline: %+v", ref)
	}
}
