package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// headerFlags are the flags of Bitcoin header mode: mine --header and
// hash --header.
type headerFlags struct {
	header   string
	target   string
	start    uint64
	rollTime bool
}

func (h *headerFlags) registerHeader(fs *flag.FlagSet) {
	fs.StringVar(&h.header, "header", "", "Bitcoin header mode: an 80-byte block header as 160 hex characters, or a FILE holding them (or the 80 raw bytes)")
}

func (h *headerFlags) registerMine(fs *flag.FlagSet) {
	h.registerHeader(fs)
	fs.StringVar(&h.target, "target", "", "with --header: the target as up to 64 hex digits, most significant first; overrides nBits and --bits")
	fs.Uint64Var(&h.start, "start", 0, "the first nonce to try: the block is the lowest valid nonce from `N` (with --header: 0 to 4294967295)")
	fs.BoolVar(&h.rollTime, "roll-time", false, "with --header: when the nonces run out, add 1 to nTime and go on from nonce 0 (otherwise exit 1)")
}

// readHeader reads --header: hex text, or a file holding hex text or the
// 80 raw bytes.
func readHeader(arg string) (hasher.Header, error) {
	h, err := hasher.ParseHeader(arg)
	if err == nil {
		return h, nil
	}
	if len(strings.TrimSpace(arg)) == 2*hasher.HeaderLen {
		return h, usagef("--header: %v", err)
	}
	data, ferr := os.ReadFile(arg)
	if ferr != nil {
		if errors.Is(ferr, os.ErrNotExist) {
			return h, usagef("--header: %q is neither 160 hex characters nor a file", arg)
		}
		return h, usagef("--header: %v", ferr)
	}
	if len(data) == hasher.HeaderLen && hex.DecodedLen(len(strings.TrimSpace(string(data)))) != hasher.HeaderLen {
		copy(h[:], data)
		return h, nil
	}
	h, err = hasher.ParseHeader(string(data))
	if err != nil {
		return h, usagef("--header %s: %v", arg, err)
	}
	return h, nil
}

// headerTarget is the target of header mode: --target, else --bits as the
// compact form, else the header's own nBits.
func (h *headerFlags) headerTarget(bits *textFlag, hdr *hasher.Header) (hasher.HeaderTarget, error) {
	if h.target != "" {
		t, err := hasher.ParseHeaderTarget(h.target)
		if err != nil {
			return t, usagef("--target: %v", err)
		}
		return t, nil
	}
	nBits := hdr.Bits()
	from := "the header's nBits"
	if bits.set {
		v, err := strconv.ParseUint(strings.TrimPrefix(bits.text, "0x"), 16, 32)
		if err != nil {
			return hasher.HeaderTarget{}, usagef("--bits: %q is not a compact target (8 hex digits, e.g. 1d00ffff)", bits.text)
		}
		nBits, from = uint32(v), "--bits"
	}
	t, err := hasher.CompactTarget(nBits)
	if err != nil {
		return t, usagef("%s: %v", from, err)
	}
	return t, nil
}

// headerOutput is what mine --header prints: keys sorted, as mine prints
// blocks.
type headerOutput struct {
	Hash   string `json:"hash"`   // sha256d, reversed hex
	Header string `json:"header"` // the solved header, 160 hex characters
	Nonce  uint32 `json:"nonce"`
	Time   uint32 `json:"time"` // nTime, which --roll-time may have moved
}

// errNonceSpace is the error of a header whose nonces all fail.
var errNonceSpace = errors.New("nonce space exhausted")

// runMineHeader mines a Bitcoin header: the lowest nonce from --start
// whose sha256d meets the target, through the same engine as JSON blocks.
func runMineHeader(ctx context.Context, e env, o *mineOptions, args []string, set map[string]bool) (err error) {
	if len(args) > 0 {
		return usagef("--header takes the header itself; got extra arguments %q", args)
	}
	if set["difficulty"] {
		return usagef("--difficulty is for JSON blocks; with --header use --bits (compact nBits) or --target")
	}
	if err := o.checkOptions(); err != nil {
		return err
	}
	if o.header.start > math.MaxUint32 {
		return usagef("--start: %d is above the largest nonce, 4294967295", o.header.start)
	}
	hdr, err := readHeader(o.header.header)
	if err != nil {
		return err
	}
	target, err := o.header.headerTarget(&o.difficulty.bits, &hdr)
	if err != nil {
		return err
	}
	m, err := o.miner.miner()
	if err != nil {
		return err
	}
	if _, err := hasher.HeaderKernel(m.Hasher()); err != nil {
		return usagef("--hasher: %v", err)
	}
	stop, err := o.profile.start()
	if err != nil {
		return err
	}
	defer stopProfiles(stop, &err)

	// The header's nTime and --start, or where a checkpoint got to; the
	// checkpoint records the nTime a --roll-time run reached.
	from := resumePoint{Frontier: o.header.start, Time: hdr.Time()}
	var cp *checkpointer
	if o.checkpoint != "" {
		if cp, from, err = openCheckpoint(o.checkpoint, headerJob(hdr, target), o.header.start, o.header.rollTime); err != nil {
			return err
		}
		if from.Frontier != o.header.start || from.Time != hdr.Time() {
			fmt.Fprintf(e.stderr, "resuming from %s: at nTime %d, every nonce below %d was tried\n", o.checkpoint, from.Time, from.Frontier)
		}
		if err := cp.save(from); err != nil {
			return err
		}
	}
	first, t0 := o.header.start, hdr.Time() // where the search at this nTime began
	if from.Time != t0 {
		first = 0
		hdr.SetTime(from.Time)
	}
	var (
		pMu     sync.Mutex             // guards p and cur
		p       = new(engine.Progress) // the search at nTime cur.Time
		cur     = from                 // where that search began
		hashes  uint64
		elapsed time.Duration
	)
	at := func() resumePoint {
		pMu.Lock()
		defer pMu.Unlock()
		r := cur
		if f, ok := p.Frontier(); ok {
			r.Frontier = max(r.Frontier, f)
		}
		return r
	}
	done, saved := make(chan struct{}), make(chan struct{})
	if cp != nil {
		go keepCheckpoint(cp, at, o.checkpointEvery, e.stderr, done, saved)
	} else {
		close(saved)
	}
	stopKeeping := func() { close(done); <-saved }
	for {
		job := hasher.NewHeaderJob(&hdr)
		start := uint32(min(cur.Frontier, math.MaxUint32))
		var res engine.HeaderResult
		err = nil
		if cur.Frontier < engine.HeaderNonces {
			res, err = m.MineHeaderProgress(ctx, job, start, target, p)
		} else {
			err = engine.ErrExhausted // a checkpoint at the end of this nTime
		}
		hashes += res.Hashes
		elapsed += res.Elapsed
		if errors.Is(err, engine.ErrExhausted) {
			if !o.header.rollTime {
				stopKeeping()
				saveEnd(e, cp, resumePoint{Frontier: engine.HeaderNonces, Time: hdr.Time()})
				return invalidError{fmt.Errorf("%w: no nonce from %d to 4294967295 meets target %s at nTime %d (--roll-time goes on with the next nTime)",
					errNonceSpace, first, target.Hex(), hdr.Time())}
			}
			if hdr.Time() == math.MaxUint32 {
				stopKeeping()
				saveEnd(e, cp, resumePoint{Frontier: engine.HeaderNonces, Time: hdr.Time()})
				return invalidError{fmt.Errorf("%w: nTime cannot go past 4294967295", errNonceSpace)}
			}
			hdr.SetTime(hdr.Time() + 1)
			pMu.Lock()
			p = new(engine.Progress)
			cur = resumePoint{Frontier: 0, Time: hdr.Time()}
			pMu.Unlock()
			first = 0
			continue
		}
		stopKeeping()
		if errors.Is(err, engine.ErrCanceled) {
			end := at()
			if !saveEnd(e, cp, end) {
				cp = nil
			}
			note := ""
			if end.Time != t0 {
				note = fmt.Sprintf(" at nTime %d", end.Time)
			}
			return interrupted(err, first, end.Frontier, note, cp)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "mined header at target %s: nonce %d after %d hashes in %v (%s, %s, %d workers)\n",
			target.Hex(), res.Nonce, hashes, elapsed.Round(time.Microsecond),
			rate(float64(hashes)/elapsed.Seconds()), m.Hasher().Name(), m.Workers())
		out, err := json.Marshal(headerOutput{
			Hash: hasher.ReverseHex(&res.Hash), Header: res.Header.String(),
			Nonce: res.Nonce, Time: res.Header.Time(),
		})
		if err != nil {
			return err
		}
		if _, err = fmt.Fprintf(e.stdout, "%s\n", out); err != nil {
			return err
		}
		if cp != nil {
			return cp.remove()
		}
		return nil
	}
}

// saveEnd saves a checkpoint (if any) at the end of a run; it reports on
// stderr and returns false when that fails.
func saveEnd(e env, cp *checkpointer, at resumePoint) bool {
	if cp == nil {
		return true
	}
	if err := cp.save(at); err != nil {
		fmt.Fprintf(e.stderr, "%v\n", err)
		return false
	}
	return true
}

// runHashHeader prints the sha256d of a header in the usual reversed hex.
func runHashHeader(e env, arg string, args []string) error {
	if len(args) > 0 {
		return usagef("--header takes the header itself; got extra arguments %q", args)
	}
	hdr, err := readHeader(arg)
	if err != nil {
		return err
	}
	d := hasher.Sha256d(&hdr)
	_, err = fmt.Fprintln(e.stdout, hasher.ReverseHex(&d))
	return err
}
