package batchrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/imageio"
)

// Task is what a run computes for each image.
type Task string

const (
	Embed   Task = "embed"   // the pre-head feature vector (Result.Features)
	Predict Task = "predict" // the most probable classes (Result.Top)
)

// Options say how a run goes.
type Options struct {
	Task    Task
	Batch   int  // images per forward pass; 0: vit.Batch
	Workers int  // goroutines decoding and preparing images; 0: one per CPU
	Top     int  // Predict: classes per image; 0: 5
	Logits  bool // Predict: keep the raw logits in Result.Logits

	// Path, when not nil, says where file is read from (vit reads "-", an
	// image from stdin, from a temporary copy); results and errors keep
	// the file's name.
	Path func(file string) string

	// Progress, when not nil, is called with the number of images just
	// finished (results handed on, good or not), from one goroutine.
	Progress func(images int)

	// every, when > 0, ends a batch after every every-th image, so that a
	// shard of every images is finished without waiting for the next.
	every int
}

// check fills in the defaults and refuses what cannot run.
func (o *Options) check() error {
	switch o.Task {
	case Embed, Predict:
	default:
		return fmt.Errorf("batchrun: task %q: use %q or %q", o.Task, Embed, Predict)
	}
	if o.Batch < 0 || o.Workers < 0 || o.Top < 0 {
		return fmt.Errorf("batchrun: batch %d, workers %d, top %d: none may be negative", o.Batch, o.Workers, o.Top)
	}
	if o.Batch == 0 {
		o.Batch = vit.Batch
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Top == 0 {
		o.Top = 5
	}
	return nil
}

// Result is what a run found for one image, in input order.
type Result struct {
	File     string
	Features []float32   // Embed: [Config.FeatureDim()]
	Top      []vit.Class // Predict: most probable first
	Logits   []float32   // Predict with Options.Logits: [classes]
	Err      error       // the image could not be read (or prepared); nothing else is set
}

// Summary counts the images of a run.
type Summary struct {
	Images int // results written (or handed on)
	Failed int // images that could not be read
	Done   int // images skipped because an earlier run did them (OpenShards)
}

// Stream runs m over files and calls emit with each result, in the order
// of files, as batches finish. Images are read and prepared by
// o.Workers goroutines a bounded window ahead of the model (memory does
// not grow with len(files)); the model runs o.Batch images at a time in
// one workspace, checked against the memory available first
// (vit.Config.CheckMemory). An image that cannot be read gives a Result
// with Err and the run goes on; an error from emit, or ctx being done,
// stops it (ctx is checked before each image is taken from the window).
// Images that do not fit the model (imageio.Input.Misfit) are logged as
// Misfits does.
func Stream(ctx context.Context, m *vit.Model, files []string, o Options, emit func(Result) error) (Summary, error) {
	var sum Summary
	if err := o.check(); err != nil {
		return sum, err
	}
	c := m.Config
	if o.Task == Predict {
		if err := c.CheckHead(); err != nil {
			return sum, err
		}
	}
	batch := max(1, min(o.Batch, len(files)))
	if err := c.CheckMemory(batch, false); err != nil {
		return sum, fmt.Errorf("%w (batch of %d images)", err, batch)
	}
	in := c.Input()
	if _, err := in.Preprocessor(); err != nil {
		return sum, fmt.Errorf("model config: %w", err)
	}
	if len(files) == 0 {
		return sum, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	order, wait := prepareAhead(ctx, files, in, o, batch)
	defer func() {
		cancel() // the goroutines ahead stop
		wait()
	}()

	size := c.Channels * c.ImageHeight * c.ImageWidth
	fd := c.FeatureDim() // the width of the features: the projected embedding of CLIP, the pre-logits of JAX models
	ws := m.NewWorkspace(batch, false)
	x := make([]float32, 0, batch*size)
	var pending []Result // in order, good images waiting for the model
	var good []int       // indices in pending of the images in x
	mf := &Misfits{}
	defer mf.Done()
	flush := func() error {
		if n := len(good); n > 0 {
			logits, feats, err := m.OutputsIn(ws, x, n)
			if err != nil {
				return err
			}
			for j, k := range good {
				r := &pending[k]
				switch o.Task {
				case Embed:
					r.Features = feats[j*fd : (j+1)*fd : (j+1)*fd]
				case Predict:
					l := logits[j*c.Classes : (j+1)*c.Classes : (j+1)*c.Classes]
					r.Top = c.TopK(l, o.Top)
					if o.Logits {
						r.Logits = l
					}
				}
			}
		}
		for _, r := range pending {
			if r.Err != nil {
				sum.Failed++
			} else {
				sum.Images++
			}
			if err := emit(r); err != nil {
				return err
			}
		}
		if o.Progress != nil && len(pending) > 0 {
			o.Progress(len(pending))
		}
		x, pending, good = x[:0], pending[:0], good[:0]
		return nil
	}
	for i, f := range files {
		var p prepared
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case j := <-order:
			select {
			case <-ctx.Done(): // the job may never have reached a worker
				return sum, ctx.Err()
			case p = <-j.out:
			}
		}
		if p.err != nil {
			pending = append(pending, Result{File: f, Err: p.err})
		} else {
			mf.Check(f, p.misfit)
			x = append(x, p.x...)
			good = append(good, len(pending))
			pending = append(pending, Result{File: f})
		}
		if len(good) == batch || o.every > 0 && (i+1)%o.every == 0 {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	return sum, flush()
}

// prepared is an image ready for the model: x, [channels, height, width]
// normalised, and why it does not fit the model ("" when it does); or err.
type prepared struct {
	x      []float32
	misfit string
	err    error
}

// job is one file to prepare; its result comes on out.
type job struct {
	file string
	out  chan prepared
}

// prepareAhead starts o.Workers goroutines preparing files and returns the
// jobs in input order: at most a window of them (2·batch + workers) is
// taken ahead of the caller, so at most that many prepared images are held
// at once. wait, called after ctx is cancelled, returns when every
// goroutine has ended.
func prepareAhead(ctx context.Context, files []string, in imageio.Input, o Options, batch int) (order <-chan job, wait func()) {
	ord := make(chan job, 2*batch+o.Workers)
	work := make(chan job)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(work)
		for _, f := range files {
			j := job{file: f, out: make(chan prepared, 1)}
			select {
			case ord <- j:
			case <-ctx.Done():
				return
			}
			select {
			case work <- j:
			case <-ctx.Done():
				return
			}
		}
	})
	for range o.Workers {
		wg.Go(func() {
			p, _ := in.Preprocessor() // checked by Stream
			for j := range work {
				path := j.file
				if o.Path != nil {
					path = o.Path(j.file)
				}
				x, misfit, err := prepare(path, j.file, in, p)
				j.out <- prepared{x: x, misfit: misfit, err: err}
			}
		})
	}
	return ord, wg.Wait
}

// ImageError is why an image file could not be read or prepared.
type ImageError struct {
	File string
	Err  error
}

func (e *ImageError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *ImageError) Unwrap() error { return e.Err }

// FailureOf is the errors-file line of r, a Result with Err: its file and
// why it failed (without the file's name again).
func FailureOf(r Result) Failure {
	var ie *ImageError
	if errors.As(r.Err, &ie) {
		return Failure{File: r.File, Error: ie.Err.Error()}
	}
	return Failure{File: r.File, Error: r.Err.Error()}
}

// prepare decodes the image file at path (imageio.Decode, with its size
// limits) and prepares it for the model as vit.Classify does: x,
// [channels, height, width], normalised. name is what errors call it.
func prepare(path, name string, in imageio.Input, p imageio.Preprocessor) (x []float32, misfit string, err error) {
	fail := func(err error) ([]float32, string, error) { return nil, "", &ImageError{File: name, Err: err} }
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fail(err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fail(errors.New("a folder, not an image"))
	}
	img, err := imageio.Decode(f)
	if err != nil {
		return fail(err)
	}
	x, err = in.Tensor(img, p)
	if err != nil {
		return fail(err)
	}
	return x, in.Misfit(img), nil
}

// misfitWarnings is how many images that do not fit the model Misfits
// names one by one before it only counts the rest.
const misfitWarnings = 3

// Misfits warns, through log/slog, about images that do not look like what
// the model takes (imageio.Input.Misfit): the first few by name, the rest
// in one summary line from Done. It belongs to one goroutine.
type Misfits struct{ n int }

// Check notes that the image file does not fit the model, for the reason
// why; an empty why (it fits) is ignored.
func (m *Misfits) Check(file, why string) {
	if why == "" {
		return
	}
	if m.n < misfitWarnings {
		slog.Warn("image does not fit the model; its prediction may be meaningless", "file", file, "why", why)
	}
	m.n++
}

// Done logs how many more images did not fit than were named.
func (m *Misfits) Done() {
	if more := m.n - misfitWarnings; more > 0 {
		slog.Warn(fmt.Sprintf("%d more images do not fit the model", more))
	}
}

// Batches reads and prepares files as Stream does (o.Workers goroutines a
// bounded window ahead, Path and Progress as in Options; Task, Top and
// Logits are not used) for an image model that is not a *vit.Model, such
// as a CLIP or SigLIP image tower: run gets each batch of up to o.Batch
// good images, x: [n, channels, height, width] as in prepares them, with
// their files in input order; bad gets each image that cannot be read, in
// order, after the batch before it has run.
func Batches(ctx context.Context, in imageio.Input, files []string, o Options,
	run func(x []float32, files []string) error, bad func(file string, err error)) error {
	o.Task = Embed // only for check
	if err := o.check(); err != nil {
		return err
	}
	if _, err := in.Preprocessor(); err != nil {
		return fmt.Errorf("model config: %w", err)
	}
	if len(files) == 0 {
		return nil
	}
	batch := max(1, min(o.Batch, len(files)))
	ctx, cancel := context.WithCancel(ctx)
	order, wait := prepareAhead(ctx, files, in, o, batch)
	defer func() {
		cancel()
		wait()
	}()
	var x []float32
	var names []string
	flush := func() error {
		if len(names) == 0 {
			return nil
		}
		err := run(x, names)
		if o.Progress != nil {
			o.Progress(len(names))
		}
		x, names = x[:0], names[:0]
		return err
	}
	mf := &Misfits{}
	defer mf.Done()
	for _, f := range files {
		var p prepared
		select {
		case <-ctx.Done():
			return ctx.Err()
		case j := <-order:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case p = <-j.out:
			}
		}
		if p.err != nil {
			if err := flush(); err != nil {
				return err
			}
			bad(f, p.err)
			continue
		}
		mf.Check(f, p.misfit)
		x = append(x, p.x...)
		names = append(names, f)
		if len(names) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
