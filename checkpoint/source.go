package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vitgo/vit/npz"
	"github.com/vitgo/vit/safetensors"
	"github.com/vitgo/vit/torchbin"
)

// source is a set of named float tensors read on demand: one safetensors
// file or PyTorch checkpoint, several (a sharded checkpoint) or an .npz
// archive.
type source interface {
	names() []string
	shape(name string) ([]int, bool)
	read(name string) ([]float32, []int, error)
	close() error
}

// tensorFile is one weights file: safetensors or a PyTorch zip checkpoint.
type tensorFile interface {
	Names() []string
	Float32(name string) ([]float32, []int, error)
	Close() error
	shapeOf(name string) []int
}

type stFile struct{ *safetensors.File }

func (f stFile) shapeOf(name string) []int { _, sh, _ := f.Info(name); return sh }

type ptFile struct{ *torchbin.File }

func (f ptFile) shapeOf(name string) []int { _, sh, _ := f.Info(name); return sh }

// openTensorFile opens a safetensors file, or a PyTorch checkpoint when the
// name ends in .bin, .pt or .pth.
func openTensorFile(path string) (tensorFile, error) {
	if isTorchFile(path) {
		f, err := torchbin.Open(path)
		if err != nil {
			return nil, err
		}
		return ptFile{f}, nil
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	return stFile{f}, nil
}

// stSource reads one or more weights files (the shards of one
// checkpoint); each name lives in one.
type stSource struct {
	files []tensorFile
	where map[string]tensorFile
}

func openSafetensors(paths ...string) (*stSource, error) {
	s := &stSource{where: map[string]tensorFile{}}
	for _, p := range paths {
		f, err := openTensorFile(p)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		s.files = append(s.files, f)
		for _, n := range f.Names() {
			if _, dup := s.where[n]; dup {
				s.close()
				return nil, fmt.Errorf("%s: tensor %q is also in another shard", p, n)
			}
			s.where[n] = f
		}
	}
	return s, nil
}

// openSharded opens the shards listed by a model.safetensors.index.json
// (or pytorch_model.bin.index.json).
func openSharded(index string) (*stSource, error) {
	b, err := readConfig(index)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty weight_map", index)
	}
	var shards []string
	for _, f := range idx.WeightMap {
		if !filepath.IsLocal(f) {
			return nil, fmt.Errorf("%s: shard name %q leaves the folder", index, f)
		}
		if !slices.Contains(shards, f) {
			shards = append(shards, f)
		}
	}
	sort.Strings(shards)
	paths := make([]string, len(shards))
	for i, f := range shards {
		paths[i] = filepath.Join(filepath.Dir(index), f)
	}
	s, err := openSafetensors(paths...)
	if err != nil {
		return nil, err
	}
	for name, f := range idx.WeightMap {
		if g, ok := s.where[name]; !ok || !slices.Contains(s.files, g) {
			s.close()
			return nil, fmt.Errorf("%s: tensor %q is listed in %s but missing from it", index, name, f)
		}
	}
	return s, nil
}

func (s *stSource) names() []string {
	var ns []string
	for n := range s.where {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func (s *stSource) shape(name string) ([]int, bool) {
	f, ok := s.where[name]
	if !ok {
		return nil, false
	}
	return f.shapeOf(name), true
}

func (s *stSource) read(name string) ([]float32, []int, error) {
	f, ok := s.where[name]
	if !ok {
		return nil, nil, fmt.Errorf("no tensor %q", name)
	}
	return f.Float32(name)
}

func (s *stSource) close() error {
	for _, f := range s.files {
		f.Close()
	}
	return nil
}

// npzSource reads an .npz archive.
type npzSource struct {
	a      *npz.Archive
	shapes map[string][]int
}

func openNPZ(path string) (*npzSource, error) {
	a, err := npz.Open(path)
	if err != nil {
		return nil, err
	}
	s := &npzSource{a: a, shapes: map[string][]int{}}
	for _, n := range a.Names() {
		_, sh, err := a.Info(n)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("array %q: %w", n, err)
		}
		s.shapes[n] = sh
	}
	return s, nil
}

func (s *npzSource) names() []string { return s.a.Names() }
func (s *npzSource) shape(name string) ([]int, bool) {
	sh, ok := s.shapes[name]
	return sh, ok
}
func (s *npzSource) read(name string) ([]float32, []int, error) { return s.a.Float32(name) }
func (s *npzSource) close() error                               { return s.a.Close() }

// reader hands out tensors of a source by name, checking shapes and
// remembering which were used, so that leftovers can be reported.
type reader struct {
	ctx  context.Context // checked before each tensor is read
	src  source
	path string
	used map[string]bool
	err  error // the first error; later calls are no-ops
}

func newReader(ctx context.Context, src source, path string) *reader {
	return &reader{ctx: ctx, src: src, path: path, used: map[string]bool{}}
}

func (r *reader) has(name string) bool {
	_, ok := r.src.shape(name)
	return ok
}

// shapeOf returns the shape of name, or records an error if it is missing.
func (r *reader) shapeOf(name string) []int {
	if r.err != nil {
		return nil
	}
	sh, ok := r.src.shape(name)
	if !ok {
		r.err = fmt.Errorf("checkpoint %s: tensor %q is missing", r.path, name)
	}
	return sh
}

// check records an error unless name exists with shape want (up to
// leading 1s, as get). It reads no data: loaders call it before they
// allocate a model whose size a config gave.
func (r *reader) check(name string, want ...int) []int {
	if r.err != nil {
		return nil
	}
	sh := r.shapeOf(name)
	if r.err != nil {
		return nil
	}
	if !sameShape(sh, want) {
		r.err = fmt.Errorf("checkpoint %s: tensor %q has shape %v, expected %v", r.path, name, sh, want)
		return nil
	}
	return sh
}

// get reads name, which must have shape want (after dropping leading 1s
// where the checkpoint adds batch axes, as [1, 1, D] for a class token).
func (r *reader) get(name string, want ...int) []float32 {
	sh := r.check(name, want...)
	if r.err != nil {
		return nil
	}
	if err := r.ctx.Err(); err != nil {
		r.err = fmt.Errorf("loading %s: %w", r.path, err)
		return nil
	}
	data, got, err := r.src.read(name)
	if err == nil && !slices.Equal(got, sh) {
		err = fmt.Errorf("shape %v on reading, %v in the header", got, sh)
	}
	if err != nil {
		r.err = fmt.Errorf("checkpoint %s: tensor %q: %w", r.path, name, err)
		return nil
	}
	r.used[name] = true
	return data
}

// sameShape reports whether sh equals want up to leading axes of size 1.
func sameShape(sh, want []int) bool {
	for len(sh) > len(want) && sh[0] == 1 {
		sh = sh[1:]
	}
	return slices.Equal(sh, want)
}

// unused returns an error naming the tensors that no get call read, apart
// from those skip accepts.
func (r *reader) unused(skip func(string) bool) error {
	if r.err != nil {
		return r.err
	}
	var left []string
	for _, n := range r.src.names() {
		if !r.used[n] && (skip == nil || !skip(n)) {
			left = append(left, n)
		}
	}
	if len(left) == 0 {
		return nil
	}
	more := ""
	if len(left) > 5 {
		more = fmt.Sprintf(" and %d more", len(left)-5)
		left = left[:5]
	}
	return fmt.Errorf("checkpoint %s: unexpected tensor %s%s (not part of the model this loader understands)", r.path, quoteAll(left), more)
}

func quoteAll(ns []string) string {
	q := make([]string, len(ns))
	for i, n := range ns {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// transpose2 returns the transpose of x: [rows, cols].
func transpose2(x []float32, rows, cols int) []float32 {
	y := make([]float32, len(x))
	for i := range rows {
		for j := range cols {
			y[j*rows+i] = x[i*cols+j]
		}
	}
	return y
}
