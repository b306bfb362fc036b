package batchrun

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/atomicfile"
)

// A folder of shards holds:
//
//	run.json                    what made it (RunFile: task, format, model, options)
//	embeddings-00000.jsonl      shard 0's results (predictions-00000.jsonl for predict;
//	                            .safetensors or .parquet for those formats)
//	errors-00000.jsonl          shard 0's images that could not be read (Failure lines), if any
//	manifest-00000.json         written last: shard 0 is complete (its files, in order)
//
// A shard without a manifest is unfinished: a rerun removes its files and
// runs its images again.

// RunFile is the file in a folder of shards that says what made it.
const RunFile = "run.json"

// DefaultShardSize is the images per shard when ShardOptions.ShardSize is 0.
const DefaultShardSize = 10000

// maxShardBytes bounds the vectors one shard may hold in memory (a
// safetensors shard holds them all until it is written).
const maxShardBytes = 1 << 30

// Limits on the bytes of the JSON files read back from a folder of shards,
// checked before they are read.
const (
	maxRunFileBytes  = 1 << 20
	maxManifestBytes = 1 << 28
)

// ShardOptions say how OpenShards writes a folder of shards.
type ShardOptions struct {
	Options
	Format    Format // JSONL, or for Embed also Safetensors or Parquet
	ShardSize int    // images per shard (good or not); 0: DefaultShardSize
	Model     string // the model's name (ModelName): recorded, and Parquet's model column

	// Settings are what else changes the numbers (the number format of
	// the matrix products, say): recorded in RunFile, and a rerun with
	// other settings is refused, as one with another model.
	Settings map[string]string
}

// header is the content of RunFile. A rerun must match it but for Model,
// the name (the same weights may be named by another path).
type header struct {
	Version   int               `json:"vit_batchrun"`
	Task      Task              `json:"task"`
	Format    Format            `json:"format"`
	ShardSize int               `json:"shard_size"`
	Model     string            `json:"model"`
	Weights   string            `json:"weights_sha256"`
	Top       int               `json:"top,omitempty"`
	Logits    bool              `json:"logits,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"`
}

// manifest is a finished shard: its data file and the files it holds, in
// order, and its errors file with the images that could not be read.
type manifest struct {
	Shard  int      `json:"shard"`
	Data   string   `json:"data"`
	Files  []string `json:"files"`
	Errors string   `json:"errors,omitempty"`
	Failed []string `json:"failed,omitempty"`
}

// The names of a shard's files.
func dataName(t Task, f Format, shard int) string {
	kind := "embeddings"
	if t == Predict {
		kind = "predictions"
	}
	return fmt.Sprintf("%s-%05d%s", kind, shard, f.ext())
}
func errorsName(shard int) string   { return fmt.Sprintf("errors-%05d.jsonl", shard) }
func manifestName(shard int) string { return fmt.Sprintf("manifest-%05d.json", shard) }

var (
	manifestRE = regexp.MustCompile(`^manifest-([0-9]{5,9})\.json$`)
	shardRE    = regexp.MustCompile(`^(?:embeddings|predictions|errors)-([0-9]{5,9})\.(?:jsonl|safetensors|parquet)$`)
)

// Shards is a run into a folder of shards, opened by OpenShards.
type Shards struct {
	dir          string
	m            *vit.Model
	o            ShardOptions
	todo         []string
	done, failed int // of the files, done and failed in earlier runs
	next         int // the next shard's number
}

// OpenShards prepares a run of m over files into the folder dir: it
// creates dir with its RunFile, or, when dir holds an earlier run of the
// same model and options, finds the images that run finished (in its
// manifests) and removes the files of its unfinished shard; any other
// folder that is not empty is refused, and so is an earlier run of another
// model or other options, with what differs. A file named twice is run
// once. Run then runs the images left.
func OpenShards(dir string, m *vit.Model, files []string, o ShardOptions) (*Shards, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := checkFormat(o.Task, o.Format); err != nil {
		return nil, err
	}
	if o.ShardSize < 0 {
		return nil, fmt.Errorf("batchrun: shard size %d: give a positive one", o.ShardSize)
	}
	if o.ShardSize == 0 {
		o.ShardSize = DefaultShardSize
	}
	if o.Format != JSONL && int64(o.ShardSize)*int64(m.Config.FeatureDim())*4 > maxShardBytes {
		return nil, fmt.Errorf("a shard of %d vectors of %d float32 is %s, held in memory until it is written: give at most %d images per shard",
			o.ShardSize, m.Config.FeatureDim(), vit.FormatBytes(int64(o.ShardSize)*int64(m.Config.FeatureDim())*4), maxShardBytes/(4*m.Config.FeatureDim()))
	}
	if err := atomicfile.CheckDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Shards{dir: dir, m: m, o: o}
	want := s.header()
	have, err := readHeader(filepath.Join(dir, RunFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := checkEmpty(dir); err != nil {
			return nil, err
		}
		if err := writeJSON(filepath.Join(dir, RunFile), want); err != nil {
			return nil, err
		}
		s.todo = unique(files)
		return s, nil
	case err != nil:
		return nil, err
	}
	if diff := want.differences(have); diff != "" {
		return nil, fmt.Errorf("%s holds a run with another model or options (%s): run with the same ones to go on with it, or write to another folder", dir, diff)
	}
	done, failed, err := s.readManifests()
	if err != nil {
		return nil, err
	}
	for _, f := range unique(files) {
		switch k := key(f); {
		case failed[k]:
			s.failed++
			s.done++
		case done[k]:
			s.done++
		default:
			s.todo = append(s.todo, f)
		}
	}
	return s, nil
}

// Done is how many of the files an earlier run into the folder did.
func (s *Shards) Done() int { return s.done }

// Left is how many of the files Run has to do.
func (s *Shards) Left() int { return len(s.todo) }

// Run runs the images left (Stream), into shards of ShardSize images
// numbered after those already in the folder, each written as its
// results come and finished by its manifest; it stops at the first error
// or when ctx is done, removing the unfinished shard's files (a rerun does
// its images again). The Summary counts this run's images (Images, and
// Failed, with the failures of the earlier runs) and Done, the images an
// earlier run did.
func (s *Shards) Run(ctx context.Context) (Summary, error) {
	var cur *shard
	defer func() {
		if cur != nil {
			cur.abort()
		}
	}()
	o := s.o.Options
	o.every = s.o.ShardSize
	left := len(s.todo)
	sum, err := Stream(ctx, s.m, s.todo, o, func(r Result) error {
		if cur == nil {
			var err error
			if cur, err = s.newShard(); err != nil {
				return err
			}
		}
		if err := cur.add(r); err != nil {
			return err
		}
		left--
		if len(cur.man.Files)+len(cur.man.Failed) < s.o.ShardSize && left > 0 {
			return nil
		}
		err := cur.commit()
		cur = nil
		s.next++
		return err
	})
	sum.Done = s.done
	sum.Failed += s.failed
	return sum, err
}

// header is the RunFile of s.
func (s *Shards) header() header {
	h := header{Version: 1, Task: s.o.Task, Format: s.o.Format, ShardSize: s.o.ShardSize, Model: s.o.Model,
		Weights: Fingerprint(s.m), Settings: s.o.Settings}
	if s.o.Task == Predict {
		h.Top, h.Logits = s.o.Top, s.o.Logits
	}
	return h
}

// differences lists how have (a folder's RunFile) differs from h, "" when
// a run of h may go on with it.
func (h header) differences(have *header) string {
	var d []string
	add := func(what string, there, here any) {
		d = append(d, fmt.Sprintf("%s %v there, %v here", what, there, here))
	}
	if have.Version != h.Version {
		add("batchrun version", have.Version, h.Version)
	}
	if have.Task != h.Task {
		add("task", have.Task, h.Task)
	}
	if have.Format != h.Format {
		add("format", have.Format, h.Format)
	}
	if have.ShardSize != h.ShardSize {
		add("shard size", have.ShardSize, h.ShardSize)
	}
	if have.Weights != h.Weights {
		add("model", fmt.Sprintf("%s (weights %.12s)", have.Model, have.Weights), fmt.Sprintf("%s (weights %.12s)", h.Model, h.Weights))
	}
	if have.Top != h.Top {
		add("top", have.Top, h.Top)
	}
	if have.Logits != h.Logits {
		add("logits", have.Logits, h.Logits)
	}
	for _, k := range slices.Sorted(maps.Keys(mapUnion(h.Settings, have.Settings))) {
		if have.Settings[k] != h.Settings[k] {
			add(k, quoteEmpty(have.Settings[k]), quoteEmpty(h.Settings[k]))
		}
	}
	return strings.Join(d, "; ")
}

func mapUnion(a, b map[string]string) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Fingerprint identifies m's numbers: the SHA-256, in hex, of its config
// and of every parameter's name, shape and values.
func Fingerprint(m *vit.Model) string {
	h := sha256.New()
	cfg, _ := json.Marshal(m.Config)
	h.Write(cfg)
	buf := make([]byte, 0, 64<<10)
	for _, p := range m.Params() {
		buf = append(buf[:0], p.Name...)
		buf = append(buf, 0)
		for _, n := range p.Shape {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(n))
		}
		h.Write(buf)
		buf = buf[:0]
		for _, v := range p.Data {
			if len(buf)+4 > cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ModelName is the name of the model at path (vit's --model) for records:
// the folder's name, or the file's without its extension, or its folder's
// when the file has the generic name of a checkpoint ("model.safetensors").
func ModelName(path string) string {
	p := filepath.Clean(path)
	base := filepath.Base(p)
	ext := filepath.Ext(base)
	if ext == ".safetensors" || ext == ".npz" || ext == ".bin" {
		base = strings.TrimSuffix(base, ext)
		if generic := base == "model" || base == "pytorch_model" || base == "open_clip_model"; generic {
			if parent := filepath.Base(filepath.Dir(p)); parent != "." && parent != string(filepath.Separator) {
				return parent
			}
		}
	}
	return base
}

// unique returns files without the repeats of a name, in order.
func unique(files []string) []string {
	seen := make(map[string]bool, len(files))
	out := make([]string, 0, len(files))
	for _, f := range files {
		if k := key(f); !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	if n := len(files) - len(out); n > 0 {
		slog.Info(fmt.Sprintf("%d files named more than once are run once", n))
	}
	return out
}

// checkEmpty refuses a folder without a RunFile that holds anything but
// temporary files of ours: it is not a folder of shards, and files of its
// own could be mistaken for shards or overwritten.
func checkEmpty(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !isOurTemp(e.Name()) {
			return fmt.Errorf("%s is a folder that holds files (%s) but no %s, so no run of vit embed or vit predict: name a new or empty folder",
				dir, e.Name(), RunFile)
		}
	}
	return nil
}

// isOurTemp reports whether name is a temporary file atomicfile left for
// one of the files of a folder of shards.
func isOurTemp(name string) bool {
	target, _, ok := strings.Cut(strings.TrimPrefix(name, "."), ".tmp")
	if !ok || !strings.HasPrefix(name, ".") {
		return false
	}
	// target may itself hold ".tmp" no more than our names do: none.
	return atomicfile.IsTemp(name, target) && (target == RunFile || manifestRE.MatchString(target) || shardRE.MatchString(target))
}

// readManifests reads the folder's manifests and returns the files they
// hold, done (with a result) and failed, by key; it removes the files of
// shards without a manifest (unfinished) and temporary files, and sets
// s.next after the last shard.
func (s *Shards) readManifests() (done, failed map[string]bool, err error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, nil, err
	}
	done, failed = map[string]bool{}, map[string]bool{}
	finished := map[int]bool{}
	for _, e := range ents {
		sub := manifestRE.FindStringSubmatch(e.Name())
		if sub == nil {
			continue
		}
		n, _ := strconv.Atoi(sub[1])
		path := filepath.Join(s.dir, e.Name())
		b, err := readLimited(path, maxManifestBytes)
		if err != nil {
			return nil, nil, err
		}
		m, err := parseManifest(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w: remove it and the files of shard %d to run its images again", path, err, n)
		}
		if m.Shard != n || m.Data != dataName(s.o.Task, s.o.Format, n) || m.Errors != "" && m.Errors != errorsName(n) {
			return nil, nil, fmt.Errorf("%s names shard %d, data %q and errors %q, not those of shard %d: remove it and the files of shard %d to run its images again",
				path, m.Shard, m.Data, m.Errors, n, n)
		}
		for _, list := range [][]string{m.Files, m.Failed} {
			for _, f := range list {
				if done[f] || failed[f] {
					return nil, nil, fmt.Errorf("%s: %q is in an earlier manifest too: the folder was changed by hand; remove the shards that repeat it", path, f)
				}
			}
		}
		for _, f := range m.Files {
			done[f] = true
		}
		for _, f := range m.Failed {
			failed[f] = true
		}
		finished[n] = true
		s.next = max(s.next, n+1)
	}
	for _, e := range ents {
		name := e.Name()
		sub := shardRE.FindStringSubmatch(name)
		unfinished := false
		if sub != nil {
			n, _ := strconv.Atoi(sub[1])
			unfinished = !finished[n]
		}
		if unfinished || isOurTemp(name) {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return nil, nil, fmt.Errorf("removing the unfinished shard file: %w", err)
			}
		}
	}
	return done, failed, nil
}

// readLimited reads the file at path, refusing one over max bytes before
// reading it.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %s: not a file of a folder of shards", path, vit.FormatBytes(max))
	}
	return b, nil
}

// readHeader reads a RunFile; an error wrapping fs.ErrNotExist when there
// is none.
func readHeader(path string) (*header, error) {
	b, err := readLimited(path, maxRunFileBytes)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(b)
	if err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): write to another folder, or remove the folder to start again", path, err)
	}
	return h, nil
}

// parseHeader decodes a RunFile.
func parseHeader(b []byte) (*header, error) {
	var h header
	if err := strictJSON(b, &h); err != nil {
		return nil, err
	}
	if h.Version < 1 || h.ShardSize < 1 || h.Task == "" || h.Format == "" || h.Weights == "" {
		return nil, errors.New("it lacks the version, task, format, shard size or weights")
	}
	return &h, nil
}

// parseManifest decodes a manifest and checks its names: file names are
// not empty and hold no NUL byte.
func parseManifest(b []byte) (*manifest, error) {
	var m manifest
	if err := strictJSON(b, &m); err != nil {
		return nil, err
	}
	if m.Shard < 0 || m.Data == "" {
		return nil, errors.New("no shard number or data file")
	}
	for _, list := range [][]string{m.Files, m.Failed} {
		for i, f := range list {
			if f == "" || strings.IndexByte(f, 0) >= 0 {
				return nil, fmt.Errorf("file %d is %q: not a file name", i, f)
			}
		}
	}
	return &m, nil
}

// strictJSON decodes one JSON object into v, refusing unknown fields and
// trailing data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// writeJSON writes v as indented JSON to path, atomically.
func writeJSON(path string, v any) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}, 0o644)
}

// shard is the shard being written.
type shard struct {
	dir  string
	data dataWriter
	errs *atomicfile.File
	enc  *json.Encoder
	man  manifest
}

func (s *Shards) newShard() (*shard, error) {
	name := dataName(s.o.Task, s.o.Format, s.next)
	w, err := newDataWriter(filepath.Join(s.dir, name), s.o.Format, s.o.Task, s.m, s.o.Model)
	if err != nil {
		return nil, err
	}
	return &shard{dir: s.dir, data: w, man: manifest{Shard: s.next, Data: name, Files: []string{}}}, nil
}

func (sh *shard) add(r Result) error {
	if r.Err == nil {
		sh.man.Files = append(sh.man.Files, r.File)
		return sh.data.add(r)
	}
	if sh.errs == nil {
		sh.man.Errors = errorsName(sh.man.Shard)
		f, err := atomicfile.Create(filepath.Join(sh.dir, sh.man.Errors), 0o644)
		if err != nil {
			return err
		}
		sh.errs, sh.enc = f, json.NewEncoder(f)
	}
	sh.man.Failed = append(sh.man.Failed, r.File)
	return sh.enc.Encode(FailureOf(r))
}

// commit puts the shard's files in place, then its manifest.
func (sh *shard) commit() error {
	if err := sh.data.commit(); err != nil {
		return err
	}
	if sh.errs != nil {
		if err := sh.errs.Commit(); err != nil {
			return err
		}
	}
	return writeJSON(filepath.Join(sh.dir, manifestName(sh.man.Shard)), sh.man)
}

func (sh *shard) abort() {
	sh.data.abort()
	if sh.errs != nil {
		sh.errs.Abort()
	}
}
