package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/fleet"
)

// TestFleetAcrossNetns runs, as root only, two workers each in a network
// namespace of its own, joined to this one by a veth pair, so the fleet's
// traffic crosses a real network stack rather than loopback. The
// namespaces, links and addresses are the test's own and are removed at
// the end.
func TestFleetAcrossNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root; skipping")
	}
	if testing.Short() {
		t.Skip("the netns scenario runs without -short")
	}
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("ip (iproute2) is not installed; skipping")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	bin := buildPowchain(t)
	tag := rand.IntN(200) + 20 // 10.213.TAG.0/24, this run's
	opt := fleet.Options{InitialRange: 1024, MinRange: 256, MaxRange: 4096, RangeTime: 20 * time.Millisecond, Lease: 2 * time.Second}

	var url string
	var c *fleet.Coordinator
	for i := 0; i < 2; i++ {
		ns := fmt.Sprintf("pwc13-%d-%d", tag, i)
		hostIf, nsIf := fmt.Sprintf("pwc13h%d%d", tag, i), fmt.Sprintf("pwc13n%d%d", tag, i)
		hostAddr := fmt.Sprintf("10.213.%d.%d", tag, 4*i+1)
		nsAddr := fmt.Sprintf("10.213.%d.%d", tag, 4*i+2)
		ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command(ipBin, "netns", "del", ns).Run() })
		ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
		t.Cleanup(func() { exec.Command(ipBin, "link", "del", hostIf).Run() })
		ip("link", "set", nsIf, "netns", ns)
		ip("addr", "add", hostAddr+"/30", "dev", hostIf)
		ip("link", "set", hostIf, "up")
		ip("-n", ns, "addr", "add", nsAddr+"/30", "dev", nsIf)
		ip("-n", ns, "link", "set", nsIf, "up")
		ip("-n", ns, "link", "set", "lo", "up")
		ip("-n", ns, "route", "add", "default", "via", hostAddr)
		if i == 0 {
			// The NATS server listens on the first link's host side only;
			// the other namespace reaches it through its own link.
			srv, err := fleet.StartServer(hostAddr + ":0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Shutdown)
			url = "nats://" + srv.Addr()
			c = testCoordinator(t, url, opt)
		}
		startChild(t, "worker in "+ns, ipBin, "netns", "exec", ns, bin, "worker", "--nats", url, "--workers", "1",
			"--name", ns, "--progress", "never")
	}
	waitConnected(t, c, 2)
	rows := fleetRows(t)
	for i := 0; i < len(rows); i += 4 {
		await(t, mineAsync(c, rows[i].tpl, rows[i].target), rows[i].nonce)
	}
	for _, w := range c.Workers() {
		if w.Ranges == 0 {
			t.Errorf("worker %s answered no range", w.Name)
		}
	}
}
