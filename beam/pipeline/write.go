package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(string), error](&writeFn{})
	register.DoFn4x1[context.Context, []byte, func(*string) bool, func(*string) bool, error](&finalizeFn{})
	register.Iter1[string]()
}

// writeFn writes the JSON lines of its bundle into files of its own, under
// temporary names (PREFIX-tmp-TOKEN-RANDOM.EXT), Max records each, and
// emits each file's name once it is complete. finalizeFn gives them their
// final names. Format "parquet" turns the lines into Parquet rows (Task
// says which).
type writeFn struct {
	Prefix, Token string
	Format, Task  string
	Model         string
	Max           int

	cur *shard
}

func (w *writeFn) StartBundle(context.Context, func(string)) {
	if w.cur != nil { // a failed bundle's file: finalizeFn removes it
		w.cur.abandon()
		w.cur = nil
	}
}

func (w *writeFn) ProcessElement(ctx context.Context, line []byte, emit func(string)) error {
	if w.cur == nil {
		name, err := tempName(w.Prefix, w.Token, w.Format)
		if err != nil {
			return err
		}
		if w.cur, err = createShard(ctx, name, w.Format, w.Task, w.Model); err != nil {
			return err
		}
	}
	if err := w.cur.add(line); err != nil {
		return err
	}
	if w.cur.n == w.Max {
		return w.close(emit)
	}
	return nil
}

func (w *writeFn) FinishBundle(_ context.Context, emit func(string)) error {
	return w.close(emit)
}

func (w *writeFn) close(emit func(string)) error {
	if w.cur == nil {
		return nil
	}
	s := w.cur
	w.cur = nil
	if err := s.close(); err != nil {
		return err
	}
	emit(s.name)
	return nil
}

func tempName(prefix, token, ext string) (string, error) {
	r, err := randomHex(8)
	if err != nil {
		return "", err
	}
	return prefix + "-tmp-" + token + "-" + r + "." + ext, nil
}

// shard is one output file being written.
type shard struct {
	name string
	fs   filesystem.Interface
	w    io.WriteCloser
	buf  *bufio.Writer
	pq   *parquetShard // nil for JSON lines
	n    int           // records written
}

func createShard(ctx context.Context, name, format, task, model string) (*shard, error) {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return nil, err
	}
	w, err := fs.OpenWrite(ctx, name)
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	s := &shard{name: name, fs: fs, w: w, buf: bufio.NewWriterSize(w, 1<<20)}
	if format == "parquet" {
		if s.pq, err = newParquetShard(s.buf, task, model); err != nil {
			s.abandon()
			return nil, err
		}
	}
	return s, nil
}

func (s *shard) add(line []byte) error {
	s.n++
	if s.pq != nil {
		return s.pq.add(line)
	}
	_, err := s.buf.Write(line)
	return err
}

// close completes the file: nothing of it counts before it returns nil.
func (s *shard) close() error {
	defer s.fs.Close()
	var err error
	if s.pq != nil {
		err = s.pq.close()
	}
	if err == nil {
		err = s.buf.Flush()
	}
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", s.name, err)
	}
	return nil
}

func (s *shard) abandon() {
	s.w.Close()
	s.fs.Close()
}

// finalizeFn runs once, after every writeFn bundle: it renames the
// temporary files to PREFIX-SSSSS-of-NNNNN.EXT and PREFIX-errors-...jsonl
// (in the order of their temporary names), writes an empty shard 0 of 1
// where there is nothing, and removes the shards of an earlier run under
// the same prefix and this run's temporary files that no bundle committed.
type finalizeFn struct {
	Prefix, Token string
	Format, Task  string
	Model         string
}

func (f *finalizeFn) ProcessElement(ctx context.Context, _ []byte, outs, errs func(*string) bool) error {
	fs, err := filesystem.New(ctx, f.Prefix)
	if err != nil {
		return err
	}
	defer fs.Close()
	if err := f.commit(ctx, fs, collect(outs), f.Prefix, f.Format, f.Task); err != nil {
		return err
	}
	if err := f.commit(ctx, fs, collect(errs), f.Prefix+"-errors", "jsonl", "errors"); err != nil {
		return err
	}
	// Attempts of bundles that failed and were retried left their files.
	for _, prefix := range []string{f.Prefix, f.Prefix + "-errors"} {
		left, err := fs.List(ctx, prefix+"-tmp-"+f.Token+"-*")
		if err != nil {
			return err
		}
		for _, name := range left {
			remove(ctx, fs, name)
		}
	}
	return nil
}

func collect(next func(*string) bool) []string {
	var names []string
	var s string
	for next(&s) {
		names = append(names, s)
	}
	slices.Sort(names)
	return names
}

// commit renames temps to the shards of prefix, then removes other shards
// of prefix with the same extension.
func (f *finalizeFn) commit(ctx context.Context, fs filesystem.Interface, temps []string, prefix, ext, task string) error {
	if len(temps) == 0 {
		name, err := tempName(prefix, f.Token, ext)
		if err != nil {
			return err
		}
		s, err := createShard(ctx, name, ext, task, f.Model)
		if err != nil {
			return err
		}
		if err := s.close(); err != nil {
			return err
		}
		temps = []string{name}
	}
	keep := map[string]bool{}
	for i, t := range temps {
		name := ShardName(prefix, i, len(temps), ext)
		if err := filesystem.Rename(ctx, fs, t, name); err != nil {
			return fmt.Errorf("renaming %s to %s: %w", t, name, err)
		}
		keep[name] = true
	}
	old, err := fs.List(ctx, ShardPattern(prefix, ext))
	if err != nil {
		return err
	}
	for _, name := range old {
		if !keep[name] {
			remove(ctx, fs, name)
		}
	}
	return nil
}

// remove removes name, saying in the log when it cannot.
func remove(ctx context.Context, fs filesystem.Interface, name string) {
	rm, ok := fs.(filesystem.Remover)
	if !ok {
		log.Warnf(ctx, "cannot remove %s: the file system %T cannot remove files", name, fs)
		return
	}
	if err := rm.Remove(ctx, name); err != nil {
		log.Warnf(ctx, "cannot remove %s: %v", name, err)
	}
}
