package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/node"
)

func init() {
	register(&command{
		name:    "export",
		args:    "[FILE]",
		summary: "write a stopped node's chain and peers as a reference chain dump (the GET /chain answer)",
		examples: []string{
			"powchain export --data ./node-a chain.json",
			"powchain export --data ./node-a | powchain verify --difficulty 2 -",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			o := &exportOptions{}
			fs.StringVar(&o.data, "data", "powchain-data", "data directory `DIR` of the node's store")
			fs.BoolVar(&o.revalidate, "revalidate", false, "validate every block before writing (otherwise the chain index is checked against its checksum)")
			return func(ctx context.Context, e env, args []string) error { return runExport(ctx, e, o, args) }
		},
	})
	register(&command{
		name:    "import",
		args:    "[FILE]",
		summary: "validate a chain dump and store it in a data dir (adopted when longer; exit 1 if a block breaks a rule)",
		examples: []string{
			"powchain import --data ./node-c --difficulty 2 chain.json",
			"curl -s http://127.0.0.1:8000/chain | powchain import --data ./node-c --difficulty 2 -",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			o := &importOptions{}
			o.nodeFlags.register(fs)
			return func(ctx context.Context, e env, args []string) error { return runImport(ctx, e, o, args) }
		},
	})
}

type exportOptions struct {
	data       string
	revalidate bool
}

// runExport streams the dump of the store in --data to FILE (replaced
// atomically) or stdout.
func runExport(_ context.Context, e env, o *exportOptions, args []string) error {
	if len(args) > 1 {
		return usagef("want at most one FILE argument, got %d", len(args))
	}
	export := func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		err := node.ExportTo(o.data, bw, o.revalidate)
		switch {
		case errors.Is(err, node.ErrNoStore), errors.Is(err, node.ErrDataDirMismatch), errors.Is(err, node.ErrDataDirLocked):
			return usageError{err}
		case err != nil:
			return err
		}
		bw.WriteByte('\n')
		return bw.Flush()
	}
	if len(args) == 0 || args[0] == "-" {
		return export(e.stdout)
	}
	return writeFileAtomic(args[0], export)
}

// writeFileAtomic writes to a temporary file beside path with write,
// syncs it, renames it over path and syncs the directory, so that the
// rename itself survives a crash.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, making the entries renamed into it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

type importOptions struct {
	nodeFlags
}

// runImport validates a dump and adopts it into the store in --data. The
// dump is read as a stream (node.ScanDump) and validated before the store
// is touched, so a file that is not a valid chain changes nothing; and a
// data dir this command created is removed again when the import fails,
// so no empty store is left behind. Then it is read again and adopted
// (node.ImportFrom); stdin or a pipe is first copied to a temporary file
// for that.
func runImport(ctx context.Context, e env, o *importOptions, args []string) (err error) {
	target, err := o.difficulty.target()
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("want at most one FILE argument, got %d", len(args))
	}
	name := "-"
	if len(args) == 1 {
		name = args[0]
	} else if e.stdinTerminal {
		return stdinTerminalError{}
	}
	src, err := openImport(ctx, e, name, target)
	if err != nil {
		return err
	}
	defer src.close()
	_, statErr := os.Stat(o.data)
	created := errors.Is(statErr, fs.ErrNotExist)
	n, err := openNode(node.Config{DataDir: o.data, Target: target})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := n.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil && created {
			os.RemoveAll(o.data)
		}
	}()
	return src.into(ctx, e, n)
}

// importSource is a chain dump on its way into a node (import, serve
// --import): validated, it is read a second time to be adopted.
type importSource struct {
	name  string // as given; "-" is stdin
	path  string // the file read
	spool bool   // path is a temporary copy of stdin or a pipe
	scan  *node.DumpScan
}

// openImport is the first reading of an import, before any store is
// opened: the dump name ("-": stdin) is read as a stream and validated
// (node.ScanDump). Stdin, a pipe or a device, which cannot be read twice,
// is first copied to a temporary file, removed by close. A dump that is
// not JSON or has no blocks is exit 2; an invalid chain is reported on
// stdout, naming the block and rule, and is exit 1.
func openImport(ctx context.Context, e env, name string, target hasher.Target) (*importSource, error) {
	src := &importSource{name: name, path: name}
	if st, err := os.Stat(name); name == "-" || err == nil && !st.Mode().IsRegular() {
		in := e.stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return nil, usagef("%v", err)
			}
			defer f.Close()
			in = f
		}
		path, err := spool(ctx, in)
		if err != nil {
			return nil, err
		}
		src.path, src.spool = path, true
	}
	if err := src.validate(ctx, e, target); err != nil {
		src.close()
		return nil, err
	}
	return src, nil
}

// validate reads the dump as a stream and checks that it is a valid
// chain, reporting it if it is not.
func (src *importSource) validate(ctx context.Context, e env, target hasher.Target) error {
	name := src.name
	label := name
	if name == "-" {
		label = "stdin"
	}
	var err error
	if src.scan, err = scanFile(ctx, src.open, target, label); err != nil {
		return err
	}
	switch {
	case errors.Is(src.scan.Invalid, engine.ErrEmptyChain):
		return usagef("%s: the chain dump has no blocks (a chain starts with the genesis block)", name)
	case src.scan.Invalid != nil:
		return reportInvalid(e, src.scan.Bad, src.scan.Invalid, name)
	}
	return nil
}

// open opens the dump from its start.
func (src *importSource) open() (io.ReadCloser, error) { return os.Open(src.path) }

// close removes the temporary copy, if any. It may be called twice.
func (src *importSource) close() {
	if src.spool {
		os.Remove(src.path)
		src.spool = false
	}
}

// into adopts the dump into n (node.ImportFrom: appended in batches, or
// staged and switched to when it forks from n's chain) and reports what
// it did on stdout.
func (src *importSource) into(ctx context.Context, e env, n *node.Node) error {
	res, err := n.ImportFrom(ctx, src.scan, src.open)
	return reportImport(e, n, res, err, src.name, nil)
}

// scanFile is the first reading of an import: the dump validated as a
// stream. Malformed input is exit 2.
func scanFile(ctx context.Context, open func() (io.ReadCloser, error), target hasher.Target, label string) (*node.DumpScan, error) {
	r, err := open()
	if err != nil {
		return nil, usagef("%v", err)
	}
	defer r.Close()
	scan, err := node.ScanDump(ctx, r, target, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, badInput(fmt.Errorf("%s: %w", label, err))
	}
	return scan, nil
}

// spool copies in (stdin, a pipe) to a temporary file, which an import
// reads twice, and returns its path. The copy stops when ctx is done.
func spool(ctx context.Context, in io.Reader) (string, error) {
	f, err := os.CreateTemp("", "powchain-import-*.json")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, &ctxReader{ctx: ctx, r: in})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", usagef("reading the dump: %v", err)
	}
	return f.Name(), nil
}

// reportImport reports what an import did on stdout. An invalid chain is
// exit 1, naming the block and rule; a valid chain that is not longer and
// differs from the store's is exit 2. bad is the block err is about, when
// known.
func reportImport(e env, n *node.Node, res *node.ImportResult, err error, name string, bad *engine.Block) error {
	var re *engine.RuleError
	switch {
	case errors.As(err, &re):
		return reportInvalid(e, bad, err, name)
	case errors.Is(err, engine.ErrEmptyChain):
		return usageError{fmt.Errorf("%s: %w", name, err)}
	case errors.Is(err, node.ErrNotLonger):
		return usageError{fmt.Errorf("%s: %w", name, err)}
	case err != nil:
		return err
	}
	what := "already held (nothing to do)"
	if res.Replaced {
		what = "imported"
	}
	fmt.Fprintf(e.stdout, "%s: %d blocks at %v, %d new peers\n", what, res.Length, n.Target(), len(res.NewPeers))
	for _, p := range res.Skipped {
		fmt.Fprintf(e.stderr, "powchain: skipped peer %q: not an http(s) base URL\n", p)
	}
	return nil
}
