package train

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/nn"
	"github.com/vitgo/vit/safetensors"
)

// A run folder holds:
//
//	state.json       the recipe, the step reached and the checkpoints kept
//	ckpt-NNNNNNN/    the model (config.json, model.safetensors) and the
//	                 optimizer's moments (optimizer.safetensors) after
//	                 step N
//	metrics.jsonl    one JSON object per line: steps and epochs
//
// A checkpoint is written into a hidden temporary folder, fsynced and
// renamed into place; state.json is then replaced atomically to point at
// it, and only after that are the checkpoints beyond Options.Keep
// removed. A crash at any moment leaves state.json naming a complete
// checkpoint.

// Run-folder file names.
const (
	stateFile   = checkpoint.RunStateFile
	momentsFile = "optimizer.safetensors"
	metricsFile = "metrics.jsonl"
	ckptPrefix  = "ckpt-"
)

// ErrNoCheckpoint is returned, wrapped, by Resume for a run folder that
// has no checkpoint yet, as a run killed in its first moments leaves it:
// such a run is started again from the beginning (New into the same
// folder).
var ErrNoCheckpoint = errors.New("the run folder has no checkpoint yet")

// state is what a run folder remembers besides the weights.
type state struct {
	Options Options `json:"options"`
	Split   Split   `json:"split"`
	Step    int     `json:"step"`       // optimizer steps taken
	Dir     string  `json:"checkpoint"` // subfolder holding the weights and moments of Step
	// Kept lists the checkpoints in the folder, oldest first; the last
	// is Dir.
	Kept   []string `json:"checkpoints,omitempty"`
	WallS  float64  `json:"wall_s"`
	Images int64    `json:"images"`
	// Data identifies the training set (see fingerprint), DataName names it.
	Data     string `json:"data_fingerprint,omitempty"`
	DataName string `json:"data_name,omitempty"`
	// MetricsBytes is the length of metrics.jsonl at Step; a resumed run
	// cuts the log back to it. Nil in folders from before it was kept.
	MetricsBytes *int64 `json:"metrics_bytes,omitempty"`
	// Epoch sums the steps of the epoch in progress at Step.
	Epoch epochSums `json:"epoch_sums,omitzero"`
}

// epochSums accumulate an epoch's training loss and accuracy.
type epochSums struct {
	Loss    float64 `json:"loss"`    // Σ over images of the loss
	Correct float64 `json:"correct"` // images classified right
	Seen    float64 `json:"seen"`    // images
}

// checkpointName is the subfolder of the checkpoint after step.
func checkpointName(step int) string { return fmt.Sprintf("%s%07d", ckptPrefix, step) }

// checkpointStep parses a name made by checkpointName.
func checkpointStep(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, ckptPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// fingerprint identifies a dataset: its name, shape, classes and labels,
// and the pixels of up to 1024 images spread over it.
func fingerprint(d *data.Dataset) string {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v int) {
		binary.LittleEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	for _, v := range []int{d.N, d.C, d.H, d.W, len(d.Classes)} {
		put(v)
	}
	for _, c := range d.Classes {
		io.WriteString(h, c+"\x00")
	}
	for _, l := range d.Labels {
		put(l)
	}
	for i := range min(d.N, 1024) {
		h.Write(d.Image(i * d.N / min(d.N, 1024)))
	}
	return fmt.Sprintf("%d images %d×%d×%d, %d classes, fnv64a %016x", d.N, d.C, d.H, d.W, len(d.Classes), h.Sum64())
}

// checkFolder refuses to start a new run in a folder that holds one, or
// that cannot be written (atomicfile.CheckDir: a file, a folder under a
// file).
func checkFolder(dir string) error {
	if dir == "" {
		return nil
	}
	if err := atomicfile.CheckDir(dir); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	_, err := os.Stat(filepath.Join(dir, stateFile))
	old, _ := filepath.Glob(filepath.Join(dir, ckptPrefix+"*"))
	if err == nil || len(old) > 0 {
		return fmt.Errorf("run folder %s already holds a run: continue it with --resume %s (train.Resume), or choose another folder", dir, dir)
	}
	return nil
}

// readState reads the state of the run folder dir.
func readState(dir string) (state, error) {
	var st state
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return st, fmt.Errorf("resuming %s: %w", dir, serr)
		}
		if killedEarly(dir) {
			return st, fmt.Errorf("resuming %s: %w", dir, ErrNoCheckpoint)
		}
		return st, fmt.Errorf("resuming %s: it has no %s (is it a run folder made by vit train --out?)", dir, stateFile)
	}
	if err != nil {
		return st, fmt.Errorf("resuming %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("resuming %s: corrupt %s: %w", dir, stateFile, err)
	}
	if st.Dir == "" || !filepath.IsLocal(st.Dir) {
		return st, fmt.Errorf("resuming %s: %s names no checkpoint folder inside the run (%q)", dir, stateFile, st.Dir)
	}
	if len(st.Kept) == 0 || st.Kept[len(st.Kept)-1] != st.Dir {
		st.Kept = []string{st.Dir} // a folder from before Kept
	}
	if err := st.check(); err != nil {
		return st, fmt.Errorf("resuming %s: corrupt %s: %w", dir, stateFile, err)
	}
	return st, nil
}

// check refuses a state no run writes: a checkpoint folder that is not
// the one of Step, kept checkpoints that are not checkpoint folders of the
// run at or before Step (pruning removes them: a path outside the run must
// never be among them), negative counts. Options are checked by Resume.
func (st state) check() error {
	if n, ok := checkpointStep(st.Dir); !ok || n != st.Step {
		return fmt.Errorf("step %d, checkpoint %q: the checkpoint of step %d is %s", st.Step, st.Dir, st.Step, checkpointName(max(st.Step, 0)))
	}
	for _, k := range st.Kept {
		if n, ok := checkpointStep(k); !ok || n > st.Step || filepath.Base(k) != k {
			return fmt.Errorf("kept checkpoint %q is not a checkpoint folder of the run at or before step %d", k, st.Step)
		}
	}
	if st.Images < 0 || !(st.WallS >= 0) || st.MetricsBytes != nil && *st.MetricsBytes < 0 {
		return fmt.Errorf("negative counts: %d images, %g s, metrics log of %d bytes", st.Images, st.WallS, *cmp.Or(st.MetricsBytes, new(int64)))
	}
	return nil
}

// RunOptions returns the options of the run in the folder dir, as Resume
// would continue it: a resumed run keeps its recipe, and its Options.Data
// says which dataset to open.
func RunOptions(dir string) (Options, error) {
	st, err := readState(dir)
	return st.Options, err
}

// killedEarly reports whether dir holds nothing but what a run leaves
// before its first checkpoint: the metrics log and hidden temporary files.
func killedEarly(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Name() != metricsFile && !strings.HasPrefix(e.Name(), ".") {
			return false
		}
	}
	return true
}

// Resume reopens the run folder dir and returns a trainer that continues it
// with the same recipe, data order and random streams, from its latest
// checkpoint (which may lie in the middle of an epoch). trainSet must be
// the dataset the run trains on; a run that trains on it resized (vit
// finetune at another resolution) is given it at its own size, and Resume
// resizes it, and testSet, to the model's input. A folder without a
// checkpoint yet gives an error wrapping ErrNoCheckpoint.
func Resume(dir string, trainSet, testSet *data.Dataset) (*Trainer, error) {
	st, err := readState(dir)
	if err != nil {
		return nil, err
	}
	if st.Options.Replicas == 0 {
		st.Options.Replicas = 1 // a run folder from before replicas trained on one model
	}
	ckpt := filepath.Join(dir, st.Dir)
	m, err := checkpoint.LoadNetwork(ckpt)
	if err != nil {
		return nil, fmt.Errorf("resuming %s: %w", dir, err)
	}
	trainSet, testSet = resizeTo(*m.Spec(), trainSet, testSet)
	if fp := fingerprint(trainSet); st.Data != "" && st.Data != fp {
		return nil, fmt.Errorf("resuming %s: the run trains on %s (%s), not on %s (%s): resume it on its own data (--data %s)",
			dir, st.DataName, st.Data, trainSet.Name, fp, cmp.Or(st.Options.Data, "…"))
	}
	t, err := newTrainer(m, trainSet, testSet, st.Options, dir)
	if err != nil {
		return nil, fmt.Errorf("resuming %s: %w", dir, err)
	}
	if err := st.Split.matches(t.st.Split); err != nil {
		return nil, fmt.Errorf("resuming %s: %w", dir, err)
	}
	if st.Split.Images == 0 { // a run folder from before splits were recorded
		st.Split = t.st.Split
	}
	t.st = st
	f, err := safetensors.Open(filepath.Join(ckpt, momentsFile))
	if err != nil {
		return nil, fmt.Errorf("resuming %s: %w", dir, err)
	}
	defer f.Close()
	moments := map[string][]float32{}
	for _, name := range f.Names() {
		if moments[name], _, err = f.Float32(name); err != nil {
			return nil, fmt.Errorf("resuming %s: %w", dir, err)
		}
	}
	if err := t.opt.SetState(m.Params(), moments, st.Step); err != nil {
		return nil, fmt.Errorf("resuming %s: %w", dir, err)
	}
	removeOrphans(dir, st)
	return t, nil
}

// resizeTo returns trainSet and testSet resized to the input of a model of
// config c (Dataset.Resized) when their images have c's channels but
// another size, as for a model fine-tuned at another resolution; otherwise
// it returns them as they are. Resume then checks the resized set against
// the run's fingerprint, so a resize never passes for other data.
func resizeTo(c vit.Config, trainSet, testSet *data.Dataset) (*data.Dataset, *data.Dataset) {
	if trainSet == nil || trainSet.C != c.Channels || trainSet.H == c.ImageHeight && trainSet.W == c.ImageWidth {
		return trainSet, testSet
	}
	trainSet = trainSet.Resized(c.ImageHeight, c.ImageWidth)
	if testSet != nil && testSet.C == c.Channels {
		testSet = testSet.Resized(c.ImageHeight, c.ImageWidth)
	}
	return trainSet, testSet
}

// removeOrphans deletes what a session killed while saving leaves behind:
// temporary checkpoint folders and state files, and checkpoints newer
// than state.json's.
func removeOrphans(dir string, st state) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		name := e.Name()
		tmp := strings.HasPrefix(name, "."+ckptPrefix) && strings.HasSuffix(name, ".tmp") ||
			strings.HasPrefix(name, "."+stateFile+".tmp") // atomicfile's temporary name
		if n, ok := checkpointStep(name); tmp || ok && n > st.Step && !slices.Contains(st.Kept, name) {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				slog.Warn("cannot remove a leftover of an interrupted save", "path", filepath.Join(dir, name), "err", err)
			}
		}
	}
}

// DivergedError reports a loss, gradient norm or parameter that is not a
// finite number. The run stops without saving it; the run folder keeps
// its last good checkpoint.
type DivergedError struct {
	Step, Epoch int     // the step (1-based, counted from the run's start) and its epoch (1-based)
	What        string  // "loss", "gradient norm" or "parameter NAME[INDEX]"
	Value       float64 // NaN or ±Inf
	Checkpoint  string  // path of the run folder's last good checkpoint; "" without one
}

func (e *DivergedError) Error() string {
	s := fmt.Sprintf("training diverged at step %d (epoch %d): the %s is %v", e.Step, e.Epoch, e.What, e.Value)
	if e.Checkpoint != "" {
		s += fmt.Sprintf("; the run folder keeps its last good checkpoint, %s", e.Checkpoint)
	}
	return s + "; lower the learning rate (--lr) or clip gradients, and start again"
}

// diverged returns the error for a non-finite value at step (1-based).
func (t *Trainer) diverged(step, perEpoch int, what string, v float64) error {
	e := &DivergedError{Step: step, Epoch: (step-1)/perEpoch + 1, What: what, Value: v}
	if t.Out != "" && t.st.Dir != "" {
		e.Checkpoint = filepath.Join(t.Out, t.st.Dir)
	}
	return e
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// nonFinite finds the first parameter value that is NaN or infinite.
func nonFinite(params []*nn.Param) (what string, v float64, found bool) {
	for _, p := range params {
		for j, x := range p.Data {
			if !finite(float64(x)) {
				return fmt.Sprintf("parameter %s[%d]", p.Name, j), float64(x), true
			}
		}
	}
	return "", 0, false
}

// metricsLog appends whole JSON lines to a run's metrics.jsonl, one write
// per line.
type metricsLog struct {
	f   *os.File
	err error // the first failed write
}

// openMetrics opens the metrics log of the run folder dir, cut back to
// size bytes (a nil size only drops a torn last line), for appending.
func openMetrics(dir string, size *int64) (*metricsLog, error) {
	path := filepath.Join(dir, metricsFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	keep, err := wholeLines(f, size)
	if err == nil {
		err = f.Truncate(keep)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &metricsLog{f: f}, nil
}

// wholeLines returns the length to which a metrics log is cut: size, if
// the file holds that much, else the end of its last whole line.
func wholeLines(f *os.File, size *int64) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if size != nil && fi.Size() >= *size {
		return *size, nil
	}
	b, err := io.ReadAll(io.NewSectionReader(f, 0, fi.Size()))
	if err != nil {
		return 0, err
	}
	return int64(bytes.LastIndexByte(b, '\n') + 1), nil
}

// write appends rec and the time as one JSON line.
func (l *metricsLog) write(rec map[string]any) {
	if l == nil || l.err != nil {
		return
	}
	rec["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(rec)
	if err == nil {
		_, err = l.f.Write(append(b, '\n'))
	}
	l.err = err
}

// sync flushes the log to stable storage and returns its length.
func (l *metricsLog) sync() (int64, error) {
	if l.err != nil {
		return 0, fmt.Errorf("writing %s: %w", l.f.Name(), l.err)
	}
	if err := l.f.Sync(); err != nil {
		return 0, fmt.Errorf("writing %s: %w", l.f.Name(), err)
	}
	fi, err := l.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// close syncs and closes the log (lines written since the last
// checkpoint, such as the final scores, are kept too).
func (l *metricsLog) close() {
	if l != nil {
		l.f.Sync()
		l.f.Close()
	}
}

// Save writes a checkpoint of the current step into the run folder and
// points state.json at it; a no-op without Out or when the step is already
// saved. It refuses parameters that are not finite (a DivergedError). If
// the checkpoint cannot be written, nothing of it is left and the folder
// keeps its previous checkpoint; the error names both.
func (t *Trainer) Save() error {
	if t.Out == "" {
		return nil
	}
	dir := checkpointName(t.st.Step)
	if dir == t.st.Dir {
		return nil
	}
	if what, v, bad := nonFinite(t.Model.Params()); bad {
		e := &DivergedError{Step: t.st.Step, What: what, Value: v}
		if t.perEpoch > 0 {
			e.Epoch = (t.st.Step-1)/t.perEpoch + 1
		}
		if t.st.Dir != "" {
			e.Checkpoint = filepath.Join(t.Out, t.st.Dir)
		}
		return e
	}
	dropped, err := t.save(dir)
	if err != nil {
		keeps := "no checkpoint"
		if t.st.Dir != "" {
			keeps = "its previous checkpoint, " + filepath.Join(t.Out, t.st.Dir)
		}
		return fmt.Errorf("saving the checkpoint of step %d in %s: %w (the run folder keeps %s)",
			t.st.Step, filepath.Join(t.Out, dir), err, keeps)
	}
	for _, old := range dropped {
		if err := os.RemoveAll(filepath.Join(t.Out, old)); err != nil {
			slog.Warn("cannot remove an old checkpoint", "path", filepath.Join(t.Out, old), "err", err)
		}
	}
	return nil
}

// save writes checkpoint dir and state.json, and returns the checkpoints
// that state.json no longer lists.
func (t *Trainer) save(dir string) (dropped []string, err error) {
	if err := os.MkdirAll(t.Out, 0o755); err != nil {
		return nil, err
	}
	next := t.st
	next.Options = t.Options
	if t.started != (time.Time{}) {
		next.WallS = t.wallBase + time.Since(t.started).Seconds()
	}
	if t.metrics != nil {
		n, err := t.metrics.sync()
		if err != nil {
			return nil, err
		}
		next.MetricsBytes = &n
	}
	tmp := filepath.Join(t.Out, "."+dir+".tmp")
	final := filepath.Join(t.Out, dir)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeCheckpoint(tmp, t.Model, t.opt); err != nil {
		return nil, err
	}
	// An orphan of a session killed between this rename and state.json.
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	if err := atomicfile.SyncDir(t.Out); err != nil {
		os.RemoveAll(final)
		return nil, err
	}
	next.Dir = dir
	next.Kept = append(slices.Clone(t.st.Kept), dir)
	if k := max(t.Options.Keep, 1); len(next.Kept) > k {
		dropped = next.Kept[:len(next.Kept)-k]
		next.Kept = next.Kept[len(next.Kept)-k:]
	}
	if err := writeState(t.Out, next); err != nil {
		os.RemoveAll(final)
		return nil, err
	}
	t.st = next
	return dropped, nil
}

// writeCheckpoint writes the model and the optimizer's moments into the
// folder dir.
func writeCheckpoint(dir string, m vit.Network, opt interface {
	State([]*nn.Param) (map[string][]float32, int)
}) error {
	if err := checkpoint.Save(dir, m); err != nil {
		return err
	}
	moments, _ := opt.State(m.Params())
	ts := make([]safetensors.Tensor, 0, len(moments))
	for name, v := range moments {
		ts = append(ts, safetensors.Tensor{Name: name, Shape: []int{len(v)}, Data: v})
	}
	return safetensors.WriteFile(filepath.Join(dir, momentsFile), ts, nil)
}

// writeState replaces the state.json of the run folder dir.
func writeState(dir string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, stateFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}, 0o644)
}
