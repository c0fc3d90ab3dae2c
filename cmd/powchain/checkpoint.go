package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// checkpointVersion is the version of the checkpoint file format.
const checkpointVersion = 1

// maxCheckpointSize bounds what is read of a checkpoint file: a real one
// is under 300 bytes.
const maxCheckpointSize = 4096

// checkpoint is the file `mine --checkpoint FILE` keeps while it mines: a
// job's key and how far it has come. Every nonce from Start below Frontier
// was tried and none meets the target. In header mode that is at nTime
// Time; when Time is past the header's own nTime (--roll-time), the
// header's nTime was searched from Start to the end, each later one
// before Time whole, and Time from 0 below Frontier. Best is a verified
// solution a fleet found above Frontier, with the ranges below it not all
// answered yet.
//
// The fields are pointers so that a missing one is told from a zero one.
type checkpoint struct {
	Version  *int    `json:"version"`
	Mode     *string `json:"mode"` // "block" or "header"
	Key      *string `json:"key"`
	Start    *uint64 `json:"start"`
	Frontier *uint64 `json:"frontier"`
	Best     *uint64 `json:"best,omitempty"` // block mode only
	Time     *uint32 `json:"time,omitempty"` // header mode only: the nTime reached
}

// checkpointJob is what a checkpoint must match: the job's mode and key,
// and for a block a way to re-hash a claimed best solution.
type checkpointJob struct {
	mode string // "block" or "header"
	key  string
	// limit is the end of the nonce space: 2^64-1 (never searched) for a
	// block, 2^32 for a header.
	limit uint64
	// verify re-hashes a best solution (block mode).
	verify func(uint64) bool
	// time is the header's own nTime (header mode).
	time uint32
}

// blockJob is the checkpoint identity of a JSON block job: a hash of its
// serialized template and its target, what decides the answer (the kernel
// and worker count do not).
func blockJob(t *hasher.Template, target hasher.Target) checkpointJob {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte("powchain mine block\n"))
	binary.BigEndian.PutUint64(n[:], uint64(len(t.Prefix())))
	h.Write(n[:])
	h.Write(t.Prefix())
	binary.BigEndian.PutUint64(n[:], uint64(len(t.Suffix())))
	h.Write(n[:])
	h.Write(t.Suffix())
	fmt.Fprintf(h, "\nbits %d\n", target.Bits())
	return checkpointJob{
		mode:  "block",
		key:   hex.EncodeToString(h.Sum(nil)),
		limit: math.MaxUint64,
		verify: func(nonce uint64) bool {
			if nonce == math.MaxUint64 {
				return false
			}
			msg := strconv.AppendUint(append([]byte(nil), t.Prefix()...), nonce, 10)
			d := sha256.Sum256(append(msg, t.Suffix()...))
			return target.MeetsDigest(&d)
		},
	}
}

// headerJob is the checkpoint identity of a Bitcoin header job: a hash of
// the header as given, nonce zeroed, and the target.
func headerJob(hdr hasher.Header, target hasher.HeaderTarget) checkpointJob {
	hdr.SetNonce(0)
	h := sha256.New()
	h.Write([]byte("powchain mine header\n"))
	h.Write(hdr[:])
	fmt.Fprintf(h, "\ntarget %s\n", target.Hex())
	return checkpointJob{mode: "header", key: hex.EncodeToString(h.Sum(nil)), limit: engine.HeaderNonces, time: hdr.Time()}
}

// parseCheckpoint decodes a checkpoint file strictly: one JSON object,
// no unknown fields, every required field present, version 1, a key of
// 64 hex digits.
func parseCheckpoint(data []byte) (*checkpoint, error) {
	if len(data) > maxCheckpointSize {
		return nil, fmt.Errorf("%d bytes, over the %d a checkpoint may have", len(data), maxCheckpointSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c checkpoint
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("not a checkpoint: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a checkpoint: data after the JSON object")
	}
	switch {
	case c.Version == nil:
		return nil, errors.New("version: missing")
	case *c.Version != checkpointVersion:
		return nil, fmt.Errorf("version: %d, this powchain reads version %d", *c.Version, checkpointVersion)
	case c.Mode == nil:
		return nil, errors.New("mode: missing")
	case *c.Mode != "block" && *c.Mode != "header":
		return nil, fmt.Errorf("mode: %q, want block or header", *c.Mode)
	case c.Key == nil:
		return nil, errors.New("key: missing")
	case len(*c.Key) != 64:
		return nil, fmt.Errorf("key: %d characters, want 64 hex digits", len(*c.Key))
	case c.Start == nil:
		return nil, errors.New("start: missing")
	case c.Frontier == nil:
		return nil, errors.New("frontier: missing")
	case *c.Frontier < *c.Start && *c.Mode == "block":
		// (In header mode the frontier at an nTime past the header's
		// counts from 0: resume checks it.)
		return nil, fmt.Errorf("frontier: %d is below start %d", *c.Frontier, *c.Start)
	case *c.Mode == "block" && c.Time != nil:
		return nil, errors.New("time: a block checkpoint has no nTime")
	case *c.Mode == "header" && c.Best != nil:
		return nil, errors.New("best: a header checkpoint has no best solution")
	case *c.Mode == "header" && c.Time == nil:
		return nil, errors.New("time: missing")
	case c.Best != nil && *c.Frontier > *c.Best:
		return nil, fmt.Errorf("frontier: %d is above the best solution %d", *c.Frontier, *c.Best)
	}
	if _, err := hex.DecodeString(*c.Key); err != nil {
		return nil, fmt.Errorf("key: %q is not 64 hex digits", *c.Key)
	}
	return &c, nil
}

// resumePoint is where a job starts: nonce Frontier (at nTime Time in
// header mode), with Best a verified solution above it (MaxUint64: none).
type resumePoint struct {
	Frontier, Best uint64
	Time           uint32
}

// resume checks c against job and the run's --start (and --roll-time) and
// returns where to mine from. A checkpoint of another job, or one that
// does not cover --start, is refused.
func (c *checkpoint) resume(job checkpointJob, start uint64, rollTime bool) (resumePoint, error) {
	at := resumePoint{Frontier: start, Best: math.MaxUint64, Time: job.time}
	switch {
	case *c.Mode != job.mode:
		return at, fmt.Errorf("mode: a %s checkpoint, and this is a %s job", *c.Mode, job.mode)
	case *c.Key != job.key:
		return at, fmt.Errorf("key: the checkpoint is of another job (another block, header or target): key %s, this job's %s; remove the file or give another", *c.Key, job.key)
	case *c.Frontier > job.limit:
		return at, fmt.Errorf("frontier: %d is past the last nonce", *c.Frontier)
	case *c.Start > start:
		return at, fmt.Errorf("start: the checkpoint covers the nonces from %d, and --start is %d; give --start %d or remove the file", *c.Start, start, *c.Start)
	}
	if c.Best != nil {
		if !job.verify(*c.Best) {
			return at, fmt.Errorf("best: nonce %d does not meet the target", *c.Best)
		}
		at.Best = *c.Best
	}
	if job.mode == "header" {
		switch {
		case *c.Time < job.time:
			return at, fmt.Errorf("time: nTime %d is before the header's %d", *c.Time, job.time)
		case *c.Time == job.time && *c.Frontier < *c.Start:
			return at, fmt.Errorf("frontier: %d is below start %d", *c.Frontier, *c.Start)
		case *c.Time > job.time && !rollTime:
			return at, fmt.Errorf("time: nTime %d is past the header's %d, so it was written with --roll-time; give --roll-time again", *c.Time, job.time)
		case *c.Time > job.time:
			// --start applied to the header's own nTime, all searched.
			at.Time, at.Frontier = *c.Time, *c.Frontier
			return at, nil
		}
	}
	at.Frontier = max(start, *c.Frontier)
	if at.Best < at.Frontier { // --start is past the best solution
		at.Best = math.MaxUint64
	}
	return at, nil
}

// checkpointer keeps a checkpoint file up to date while a job runs.
type checkpointer struct {
	path  string
	job   checkpointJob
	start uint64
	saved resumePoint // last written
	wrote bool
}

// openCheckpoint reads path if it exists and returns where to resume and
// a checkpointer that writes there. A bad or foreign checkpoint is a usage
// error naming the file and the field.
func openCheckpoint(path string, job checkpointJob, start uint64, rollTime bool) (*checkpointer, resumePoint, error) {
	cp := &checkpointer{path: path, job: job, start: start}
	at := resumePoint{Frontier: start, Best: math.MaxUint64, Time: job.time}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return cp, at, nil
	}
	if err != nil {
		return nil, at, usagef("--checkpoint: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCheckpointSize+1))
	f.Close()
	if err != nil {
		return nil, at, usagef("--checkpoint: %v", err)
	}
	c, err := parseCheckpoint(data)
	if err == nil {
		at, err = c.resume(job, start, rollTime)
	}
	if err != nil {
		return nil, at, usagef("--checkpoint %s: %v", path, err)
	}
	return cp, at, nil
}

// save writes the checkpoint for at, unless it is what was written last.
func (cp *checkpointer) save(at resumePoint) error {
	if cp.wrote && at == cp.saved {
		return nil
	}
	v := checkpointVersion
	c := checkpoint{Version: &v, Mode: &cp.job.mode, Key: &cp.job.key, Start: &cp.start, Frontier: &at.Frontier}
	if cp.job.mode == "header" {
		c.Time = &at.Time
	} else if at.Best != math.MaxUint64 {
		c.Best = &at.Best
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	// A crash at any moment leaves the old file or the new one whole.
	err = writeFileAtomic(cp.path, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("--checkpoint: %w", err)
	}
	cp.saved, cp.wrote = at, true
	return nil
}

// remove deletes the checkpoint once its job is done.
func (cp *checkpointer) remove() error {
	err := os.Remove(cp.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--checkpoint: %w", err)
	}
	return syncDir(filepath.Dir(cp.path))
}

// keepCheckpoint saves the progress reported by at every period until
// stop is closed; a failed write is reported on warn once per distinct
// error and mining goes on. It must be run as a goroutine; done is closed
// when it has returned.
func keepCheckpoint(cp *checkpointer, at func() resumePoint, period time.Duration, warn io.Writer, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var last string
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := cp.save(at()); err != nil && err.Error() != last {
				last = err.Error()
				fmt.Fprintf(warn, "warning: %v (mining goes on)\n", err)
			}
		}
	}
}

// interruptedError is a canceled mine that says how far it got.
type interruptedError struct {
	msg string
	err error
}

func (e interruptedError) Error() string { return e.msg }
func (e interruptedError) Unwrap() error { return e.err }

// interrupted wraps a canceled mine's error with how far it got: every
// nonce from from below to was tried (at is " at nTime N" in header mode
// after a roll of nTime, else empty), and how to resume.
func interrupted(err error, from, to uint64, at string, cp *checkpointer) error {
	how := fmt.Sprintf("resume with --start %d", to)
	if at != "" {
		how += " on the header with that nTime"
	}
	if cp != nil {
		how = fmt.Sprintf("saved in %s: run the same command again to resume", cp.path)
	}
	return interruptedError{fmt.Sprintf("interrupted: every nonce from %d below %d was tried%s without a solution; %s", from, to, at, how), err}
}
