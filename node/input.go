package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"golang.org/x/sync/semaphore"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// MaxTxDepth is the deepest nesting of arrays and objects a transaction may
// have, the transaction object itself being level 1. The node refuses
// deeper transactions at the door (400), so that whatever it accepts can
// be mined, stored, served and decoded by every peer: a block holding the
// transaction is 2 levels deeper, a chain dump holding the block 2 more,
// all far below the decoders' own limit (pyjson.MaxDepth, 1000; CPython's
// recursion limit, about the same).
const MaxTxDepth = 64

// MaxBlockDepth is the deepest nesting a block may have: a block object,
// its transactions array, and transactions of at most MaxTxDepth levels.
const MaxBlockDepth = MaxTxDepth + 2

// maxDumpDepth is the deepest nesting of a chain dump: the dump object and
// its chain array around blocks of at most MaxBlockDepth levels.
const maxDumpDepth = MaxBlockDepth + 2

// jsonDepth returns the deepest nesting of arrays and objects in JSON
// text, counting brackets outside strings; it stops counting once the
// depth passes limit and returns limit+1. It does not check the syntax.
func jsonDepth(data []byte, limit int) int {
	depth, deepest := 0, 0
	inStr, esc := false, false
	for _, c := range data {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// valueDepth returns the nesting depth of a decoded value (a scalar is 0,
// an empty object 1), counting no further than limit+1.
func valueDepth(v pyjson.Value, limit int) int {
	if limit < 0 {
		return 0
	}
	deepest := 0
	switch x := v.(type) {
	case []pyjson.Value:
		for _, e := range x {
			deepest = max(deepest, valueDepth(e, limit-1))
			if deepest >= limit {
				break
			}
		}
	case pyjson.Object:
		for _, e := range x {
			deepest = max(deepest, valueDepth(e, limit-1))
			if deepest >= limit {
				break
			}
		}
	default:
		return 0
	}
	return deepest + 1
}

// checkBlockDepth refuses a block holding a transaction nested deeper than
// MaxTxDepth: it could be stored but not served to every peer.
func checkBlockDepth(b *engine.Block) error {
	for i, tx := range b.Transactions {
		if valueDepth(tx, MaxTxDepth) > MaxTxDepth {
			return &InputError{Field: fmt.Sprintf("transactions[%d]", i), Msg: fmt.Sprintf("nested deeper than %d levels", MaxTxDepth)}
		}
	}
	return nil
}

// smallBody is the body size up to which a request decodes without taking
// a share of the decode budget: small bodies cost little however many
// arrive at once.
const smallBody = 64 << 10

// body describes what an endpoint reads.
type body struct {
	limit    int64  // bytes; more is refused with 413
	prefix   string // of every error message
	depth    int    // deepest nesting allowed
	needJSON bool   // Content-Type must say application/json (415 otherwise)
}

// refuse answers an error before the request body was read. The
// connection is closed after the answer, so the server does not wait for
// a body nobody will read.
func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Connection", "close")
	writeText(w, code, msg)
}

// checkContentType answers 415 and returns false when a request's
// Content-Type or Content-Encoding is not what an endpoint reads. A missing
// Content-Type passes unless needJSON.
func checkContentType(w http.ResponseWriter, r *http.Request, b body) bool {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		refuse(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%sContent-Encoding %q is not supported: send the JSON uncompressed", b.prefix, ce))
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && !b.needJSON {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		refuse(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%sContent-Type must be application/json, got %q", b.prefix, ct))
		return false
	}
	return true
}

// readJSON reads a request body as an endpoint describes it and decodes it
// as CPython's json.loads would. Before decoding it checks the Content-Type
// (415), the declared length (413 at once), the length read (413), that
// the body is a JSON object (400, without decoding) and its nesting (400).
// Bodies over smallBody decode within the node's decode budget, so that
// concurrent large bodies cannot multiply the memory a decode takes. On
// failure it has answered.
func (n *Node) readJSON(w http.ResponseWriter, r *http.Request, b body) (pyjson.Value, bool) {
	if !checkContentType(w, r, b) {
		return nil, false
	}
	if r.ContentLength > b.limit {
		refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%sthe request body of %d bytes is over the limit of %d bytes", b.prefix, r.ContentLength, b.limit))
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			refuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%sthe request body is over the limit of %d bytes", b.prefix, b.limit))
		} else {
			refuse(w, http.StatusBadRequest, fmt.Sprintf("%sreading the request body: %v", b.prefix, err))
		}
		return nil, false
	}
	text := data
	if len(text) >= 3 && string(text[:3]) == "\xef\xbb\xbf" {
		text = text[3:]
	}
	i := 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
		i++
	}
	if i == len(text) {
		writeText(w, http.StatusBadRequest, b.prefix+"the request body is empty, want a JSON object")
		return nil, false
	}
	if text[i] != '{' {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("%swant a JSON object, got %s", b.prefix, startName(text[i:])))
		return nil, false
	}
	if d := jsonDepth(text[i:], b.depth); d > b.depth {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("%sthe JSON is nested deeper than %d levels", b.prefix, b.depth))
		return nil, false
	}
	if len(data) > smallBody {
		if err := n.decodeBudget.acquire(r.Context(), int64(len(data))); err != nil {
			w.Header().Set("Retry-After", "1")
			writeText(w, http.StatusServiceUnavailable, b.prefix+"the node is busy decoding other large bodies; retry")
			return nil, false
		}
		defer n.decodeBudget.release(int64(len(data)))
	}
	v, err := pyjson.Decode(data)
	if err != nil {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("%sthe request body is not valid JSON: %s", b.prefix, userText(err)))
		return nil, false
	}
	return v, true
}

// packagePrefix matches the package names errors start with ("node: ",
// "engine: ", "pyjson: "), at the start of a message or of a wrapped one.
var packagePrefix = regexp.MustCompile(`(^|: )(node|engine|pyjson): `)

// userText is an error as a client reads it: what was wrong, without the
// names of the packages that noticed it.
func userText(err error) string {
	return packagePrefix.ReplaceAllString(err.Error(), "$1")
}

// startName names the JSON value text starts with, for "want a JSON
// object, got ...".
func startName(text []byte) string {
	has := func(p string) bool { return len(text) >= len(p) && string(text[:len(p)]) == p }
	c := text[0]
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || (c >= '0' && c <= '9') || has("NaN") || has("Infinity"):
		return "a number"
	case has("true") || has("false"):
		return "a boolean"
	case has("null"):
		return "null"
	}
	return "text that is not valid JSON"
}

// budget bounds the bytes being decoded at once: a decode amplifies its
// input many times in memory, so the node lets at most its budget of
// large input bytes decode together. Acquiring more than the whole budget
// waits for the whole budget.
type budget struct {
	sem   *semaphore.Weighted
	total int64
}

func newBudget(total int64) *budget {
	return &budget{sem: semaphore.NewWeighted(total), total: total}
}

func (b *budget) acquire(ctx context.Context, n int64) error {
	return b.sem.Acquire(ctx, min(n, b.total))
}

func (b *budget) release(n int64) { b.sem.Release(min(n, b.total)) }
