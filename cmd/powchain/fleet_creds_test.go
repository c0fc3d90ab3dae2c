package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// TestWorkerCreds runs a NATS server in operator mode (decentralized JWT
// authentication), trusting an operator the test makes, with a memory
// resolver that knows the operator's accounts. A coordinator
// (`mine --nats --nats-creds --workers 0`) and a worker (`worker --nats
// --nats-creds`), each with a credentials file of its own user of the
// miners account, mine the block `mine` prints on its own, byte for
// byte. Workers with the credentials of a user of another operator's
// account, of an account the server does not know, or with none at all,
// exit 2 saying authorization failed.
func TestWorkerCreds(t *testing.T) {
	bin := buildPowchain(t)
	dir := t.TempDir()

	opKey, opClaims := newOperator(t, "powchain test")
	sysKey, sysJWT := newAccount(t, opKey, "SYS")
	minersKey, minersJWT := newAccount(t, opKey, "miners")
	strangerOpKey, _ := newOperator(t, "stranger")
	foreignKey, foreignJWT := newAccount(t, strangerOpKey, "miners")
	unknownKey, _ := newAccount(t, opKey, "unknown") // the server never hears of it

	opClaims.SystemAccount = publicKey(t, sysKey)
	opJWT, err := opClaims.Encode(opKey)
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := jwt.DecodeOperatorClaims(opJWT) // as the server reads an operator JWT file
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	// The foreign account's JWT is in the resolver too: what keeps its
	// users out is that no trusted operator signed it.
	for _, acc := range []struct {
		key   nkeys.KeyPair
		token string
	}{{sysKey, sysJWT}, {minersKey, minersJWT}, {foreignKey, foreignJWT}} {
		if err := resolver.Store(publicKey(t, acc.key), acc.token); err != nil {
			t.Fatal(err)
		}
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		TrustedOperators: []*jwt.OperatorClaims{trusted},
		AccountResolver:  resolver,
		SystemAccount:    publicKey(t, sysKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server in operator mode did not start")
	}
	t.Cleanup(s.Shutdown)
	url := "nats://" + s.Addr().String()

	bad := map[string]*child{}
	seeds := map[string]string{}
	for _, c := range []struct {
		name    string
		account nkeys.KeyPair
	}{
		{"another operator's account", foreignKey},
		{"an account the server does not know", unknownKey},
		{"no credentials", nil},
	} {
		args := []string{"worker", "--nats", url, "--workers", "1", "--progress", "never"}
		if c.account != nil {
			file, seed := writeCreds(t, dir, c.account)
			args = append(args, "--nats-creds", file)
			seeds[c.name] = seed
		}
		bad[c.name] = startChild(t, "worker with "+c.name, bin, args...)
	}
	for name, w := range bad {
		if code := w.wait(t, 30*time.Second); code != 2 {
			t.Errorf("worker with %s exited %d, want 2\n%s", name, code, w.stderr.String())
		}
		msg := w.stderr.String()
		if !strings.Contains(msg, "authorization failed") {
			t.Errorf("worker with %s said %q, want it to say authorization failed", name, msg)
		}
		if seed := seeds[name]; seed != "" && strings.Contains(msg, seed) {
			t.Errorf("worker with %s shows its NKey seed: %q", name, msg)
		}
	}

	block := filepath.Join(dir, "block.json")
	if err := os.WriteFile(block, []byte(`{"index": 7, "transactions": [{"author": "fleet", "content": "mined with a credentials file", "timestamp": 1700000000.5}], "timestamp": 1700000002.75, "previous_hash": "`+strings.Repeat("ab", 32)+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	alone, err := exec.Command(bin, "mine", "--bits", "20", "--workers", "2", block).Output()
	if err != nil {
		t.Fatalf("mine on its own: %v", err)
	}

	workerCreds, _ := writeCreds(t, dir, minersKey)
	startChild(t, "worker with creds", bin, "worker", "--nats", url, "--nats-creds", workerCreds,
		"--workers", "1", "--name", "creds", "--progress", "never")
	coordCreds, _ := writeCreds(t, dir, minersKey)
	mine := startChild(t, "mine with creds", bin, "mine", "--nats", url, "--nats-creds", coordCreds,
		"--workers", "0", "--bits", "20", "--progress", "never", block)
	if code := mine.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("mine --nats --nats-creds exited %d\n%s", code, mine.stderr.String())
	}
	if got := mine.stdout.String(); got != string(alone) {
		t.Fatalf("the fleet printed\n%s\nmine on its own printed\n%s", got, alone)
	}
	if !strings.Contains(mine.stderr.String(), "worker creds (") {
		t.Errorf("the worker with credentials is not in the coordinator's totals:\n%s", mine.stderr.String())
	}
}

// newOperator makes an operator: its key pair (which signs accounts) and
// its claims, not yet signed.
func newOperator(t *testing.T, name string) (nkeys.KeyPair, *jwt.OperatorClaims) {
	t.Helper()
	kp, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	oc := jwt.NewOperatorClaims(publicKey(t, kp))
	oc.Name = name
	return kp, oc
}

// newAccount makes an account signed by the operator: its key pair (which
// signs users) and its JWT.
func newAccount(t *testing.T, operator nkeys.KeyPair, name string) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	ac := jwt.NewAccountClaims(publicKey(t, kp))
	ac.Name = name
	token, err := ac.Encode(operator)
	if err != nil {
		t.Fatal(err)
	}
	return kp, token
}

// writeCreds makes a user of the account and writes its credentials file
// (the user's JWT and NKey seed, as nsc writes them) into dir; it returns
// the file and the seed.
func writeCreds(t *testing.T, dir string, account nkeys.KeyPair) (string, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub := publicKey(t, kp)
	token, err := jwt.NewUserClaims(pub).Encode(account)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, pub+".creds")
	if err := os.WriteFile(file, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, string(seed)
}

func publicKey(t *testing.T, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
