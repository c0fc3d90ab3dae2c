package fleet

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/powchain/powchain/hasher"
)

// DefaultSubject is the subject prefix a fleet uses when none is given.
// One coordinator serves each prefix.
const DefaultSubject = "powchain.fleet"

// The subjects under a prefix P:
//
//	P.job   the coordinator announces each new job (or "idle") to every worker
//	P.work  a worker's request: an answer for a range, or none, and a request
//	        for the next range; the reply is a Lease
func jobSubject(prefix string) string  { return prefix + ".job" }
func workSubject(prefix string) string { return prefix + ".work" }

// maxTemplate bounds the template bytes a job may carry. A block of the
// node's largest size (1 MiB of transactions) fits; NATS's default maximum
// payload is 1 MiB, so a larger template needs a server configured for it.
const maxTemplate = 4 << 20

// Job is a block to mine: the message prefix || decimal nonce || suffix
// and the target its hash must meet. An empty ID means no job: workers
// stop and wait.
type Job struct {
	ID     string `json:"id"`
	Prefix []byte `json:"prefix,omitempty"` // base64 in JSON
	Suffix []byte `json:"suffix,omitempty"`
	Bits   int    `json:"bits"`
}

// template checks a job received from the network and returns what a
// worker mines.
func (j *Job) template() (*hasher.Template, hasher.Target, error) {
	if len(j.Prefix)+len(j.Suffix) > maxTemplate {
		return nil, hasher.Target{}, fmt.Errorf("job %s: template of %d bytes is over the %d-byte limit", j.ID, len(j.Prefix)+len(j.Suffix), maxTemplate)
	}
	target, err := hasher.TargetBits(j.Bits)
	if err != nil {
		return nil, hasher.Target{}, fmt.Errorf("job %s: bits: %w", j.ID, err)
	}
	return hasher.NewTemplate(j.Prefix, j.Suffix), target, nil
}

// Request is what a worker sends on P.work: who it is, the job it works
// on, the answer for the range it just finished (if any) and the leases it
// gives back. The reply is a Lease for its next range.
type Request struct {
	Worker string  `json:"worker"`           // unique per worker process: name and a random suffix
	Name   string  `json:"name"`             // as --name gave it
	Kernel string  `json:"kernel"`           // the hashing kernel it runs
	Cores  int     `json:"cores"`            // mining goroutines
	Rate   float64 `json:"rate"`             // its measured hashes per second, 0 when unknown
	Job    string  `json:"job"`              // the job it works on; "" for none
	Answer *Answer `json:"answer,omitempty"` // the range it just finished
	// Release lists leases handed back unanswered (the worker is
	// stopping). With Release set the worker wants no new range.
	Release []uint64 `json:"release,omitempty"`
	// Stopping says the worker wants no new range even with no lease to
	// hand back: it sends the answer of its last range and stops.
	Stopping bool `json:"stopping,omitempty"`
}

// Answer is a worker's result for one leased range: Found with the lowest
// nonce in the range that meets the target, or not Found: "none in this
// range".
type Answer struct {
	Job     string  `json:"job"`
	Lease   uint64  `json:"lease"`
	Lo      uint64  `json:"lo"`
	Hi      uint64  `json:"hi"`
	Found   bool    `json:"found"`
	Nonce   uint64  `json:"nonce,omitempty"`
	Hashes  uint64  `json:"hashes"`
	Seconds float64 `json:"seconds"`
}

// Lease is the coordinator's reply: the range [Lo, Hi) of job Job to mine
// before Expires (Unix milliseconds). NewJob carries the job itself when
// the request named another one. Idle means there is no range to hand out
// now (no job, or every range below the best solution is out): ask again
// after RetryMs. Error refuses the request and says why.
type Lease struct {
	Job     string `json:"job"`
	NewJob  *Job   `json:"new_job,omitempty"`
	ID      uint64 `json:"id,omitempty"`
	Lo      uint64 `json:"lo,omitempty"`
	Hi      uint64 `json:"hi,omitempty"`
	Expires int64  `json:"expires,omitempty"`
	Idle    bool   `json:"idle,omitempty"`
	RetryMs int    `json:"retry_ms,omitempty"`
	Error   string `json:"error,omitempty"`
}

// maxRequest bounds a request's size; larger ones are garbage.
const maxRequest = 64 << 10

// errGarbage marks a message that is not a well-formed request.
var errGarbage = errors.New("malformed request")

func decodeRequest(data []byte) (*Request, error) {
	if len(data) > maxRequest {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", errGarbage, len(data), maxRequest)
	}
	var r Request
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", errGarbage, err)
	}
	switch {
	case r.Worker == "" || len(r.Worker) > 200:
		return nil, fmt.Errorf("%w: worker id missing or longer than 200 bytes", errGarbage)
	case len(r.Name) > 200 || len(r.Kernel) > 64:
		return nil, fmt.Errorf("%w: name or kernel too long", errGarbage)
	case r.Cores < 0 || r.Cores > 1<<20:
		return nil, fmt.Errorf("%w: cores %d out of range", errGarbage, r.Cores)
	case r.Rate < 0 || r.Rate > 1e15 || r.Rate != r.Rate:
		return nil, fmt.Errorf("%w: rate out of range", errGarbage)
	case len(r.Release) > 16:
		return nil, fmt.Errorf("%w: %d leases released, at most 16", errGarbage, len(r.Release))
	}
	if a := r.Answer; a != nil && (a.Hi <= a.Lo || a.Seconds < 0 || a.Seconds != a.Seconds) {
		return nil, fmt.Errorf("%w: answer range [%d, %d) or seconds %v invalid", errGarbage, a.Lo, a.Hi, a.Seconds)
	}
	return &r, nil
}
