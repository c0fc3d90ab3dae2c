package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPythonClient runs a client written with Python's standard library
// against a node: the reference node's API as its front end uses it.
func TestPythonClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	a := startNode(t, testConfig(t, ""), "")
	out, err := exec.Command(py, "testdata/api_client.py", a.url, "2").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok ") {
		t.Fatalf("api_client.py: %v\n%s", err, out)
	}
	t.Logf("api_client.py: %s", out)
}

// TestReferenceNodeInterop runs the Python reference node (its
// node_server.py, which is not part of this repository: set
// POWCHAIN_REFERENCE_NODE to its path; it needs Flask and requests) beside
// a powchain node, registers them with each other and checks that blocks
// mined on either side reach the other.
func TestReferenceNodeInterop(t *testing.T) {
	script := os.Getenv("POWCHAIN_REFERENCE_NODE")
	if script == "" {
		t.Skip("set POWCHAIN_REFERENCE_NODE to the reference node's node_server.py to run")
	}
	if err := exec.Command("python3", "-c", "import flask, requests").Run(); err != nil {
		t.Skipf("python3 with flask and requests: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ref := exec.CommandContext(ctx, "python3", "-m", "flask", "run", "--port", fmt.Sprint(port))
	ref.Dir = filepath.Dir(script)
	ref.Env = append(os.Environ(), "FLASK_APP="+filepath.Base(script))
	ref.Stdout, ref.Stderr = t.Output(), t.Output()
	if err := ref.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); ref.Wait() })
	r := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor(t, 20*time.Second, "the reference node to start", func() bool {
		resp, err := client.Get(r + "chain")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	a := startNode(t, testConfig(t, ""), "")
	want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, strings.TrimSuffix(r, "/")), 200, "Registration successful")

	// The reference node mines and announces to powchain.
	want(t, "POST", r+"new_transaction", `{"author": "python", "content": "mined by the reference node"}`, 201, "Success")
	want(t, "GET", r+"mine", "", 200, "Block #1 is mined.")
	if got := contents(a.Blocks()); len(got) != 1 || got[0] != "mined by the reference node" {
		t.Fatalf("powchain's chain after the reference mined: %v", got)
	}
	// powchain mines and announces to the reference node.
	a.postTx(t, "go", "mined by powchain")
	want(t, "GET", a.url+"mine", "", 200, "Block #2 is mined.")
	if got := contents(chainOf(t, r)); len(got) != 2 || got[1] != "mined by powchain" {
		t.Fatalf("the reference's chain after powchain mined: %v", got)
	}
	// The reference node registers with powchain and takes its chain.
	a.postTx(t, "go", "only on powchain")
	a.Mine(context.Background())
	want(t, "POST", r+"register_with", fmt.Sprintf(`{"node_address": %q}`, strings.TrimSuffix(a.url, "/")), 200, "Registration successful")
	if tip(chainOf(t, r)) != tip(a.Blocks()) {
		t.Fatal("the reference node did not take powchain's chain")
	}
}
