package pipeline

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/imageio"
)

func init() {
	register.DoFn4x1[context.Context, string, func([]byte), func([]byte), error](&inferFn{})
}

// The pipeline's metrics (namespace "vit").
var (
	imagesRead   = beam.NewCounter("vit", "images")   // run through the model
	imagesFailed = beam.NewCounter("vit", "failures") // dead-letter records
	bytesRead    = beam.NewCounter("vit", "bytes")
	misfits      = beam.NewCounter("vit", "misfits")
	batchSize    = beam.NewDistribution("vit", "batch_size")
	batchLatency = beam.NewDistribution("vit", "batch_latency_us")
)

// misfitWarnings is how many images that do not fit the model a worker
// names in its log before it only counts them (counter "misfits").
const misfitWarnings = 3

// inferFn reads, decodes and prepares each image as vit embed and vit
// predict do (imageio.Decode, then Config.Input().Tensor), gathers up to
// Batch of them and runs the model, emitting one JSON line per image
// (batchrun.Embedding or batchrun.Prediction) and one batchrun.Failure per
// image that could not be read or decoded. The last batch of a bundle is
// run in FinishBundle.
type inferFn struct {
	Model  string
	Task   string
	Top    int
	Logits bool
	Batch  int
	DType  string

	m      *vit.Model
	in     imageio.Input
	pre    imageio.Preprocessor
	x      []float32 // [len(names), channels, height, width]
	names  []string
	warned int
}

func (f *inferFn) Setup(ctx context.Context) error {
	m, err := LoadModel(ctx, f.Model, f.DType)
	if err != nil {
		return err
	}
	if err := m.Config.CheckMemory(f.Batch, false); err != nil {
		return fmt.Errorf("%w (--batch)", err)
	}
	if f.Task == "predict" {
		if err := m.Config.CheckHead(); err != nil {
			return fmt.Errorf("--task predict: %w", err)
		}
	}
	f.m, f.in = m, m.Config.Input()
	if f.pre, err = f.in.Preprocessor(); err != nil {
		return fmt.Errorf("model config: %w", err)
	}
	c := m.Config
	f.x = make([]float32, 0, f.Batch*c.Channels*c.ImageHeight*c.ImageWidth)
	return nil
}

func (f *inferFn) StartBundle(context.Context, func([]byte), func([]byte)) {
	f.x, f.names = f.x[:0], f.names[:0] // what a failed bundle left
}

func (f *inferFn) ProcessElement(ctx context.Context, path string, emit, fail func([]byte)) error {
	x, err := f.prepare(ctx, path)
	if err != nil {
		imagesFailed.Inc(ctx, 1)
		b, err := line(batchrun.Failure{File: path, Error: err.Error()})
		if err != nil {
			return err
		}
		fail(b)
		return nil
	}
	f.x = append(f.x, x...)
	f.names = append(f.names, path)
	if len(f.names) == f.Batch {
		return f.flush(ctx, emit)
	}
	return nil
}

func (f *inferFn) FinishBundle(ctx context.Context, emit, _ func([]byte)) error {
	return f.flush(ctx, emit)
}

// prepare reads the image at path through its file system and returns it
// as the model takes it: [channels, height, width], normalised.
func (f *inferFn) prepare(ctx context.Context, path string) ([]float32, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("imageio: %w", err)
	}
	defer r.Close()
	cr := &countingReader{r: r}
	img, err := imageio.Decode(cr)
	bytesRead.Inc(ctx, cr.n)
	if err != nil {
		return nil, err
	}
	if why := f.in.Misfit(img); why != "" {
		misfits.Inc(ctx, 1)
		if f.warned < misfitWarnings {
			log.Warnf(ctx, "image does not fit the model; its result may be meaningless: %s: %s", path, why)
			f.warned++
		}
	}
	return f.in.Tensor(img, f.pre)
}

// flush runs the gathered images through the model and emits their lines.
func (f *inferFn) flush(ctx context.Context, emit func([]byte)) error {
	n := len(f.names)
	if n == 0 {
		return nil
	}
	c := f.m.Config
	start := time.Now()
	var out []float32
	var err error
	if f.Task == "embed" {
		out, err = f.m.Features(f.x, n)
	} else {
		out, err = f.m.Predict(f.x, n)
	}
	if err != nil {
		return err
	}
	batchLatency.Update(ctx, time.Since(start).Microseconds())
	batchSize.Update(ctx, int64(n))
	imagesRead.Inc(ctx, int64(n))
	for i, name := range f.names {
		var rec any
		if f.Task == "embed" {
			fd := c.FeatureDim() // the projected embedding of CLIP, the pre-logits of JAX models
			rec = batchrun.Embedding{File: name, Features: out[i*fd : (i+1)*fd]}
		} else {
			l := out[i*c.Classes : (i+1)*c.Classes]
			p := batchrun.Prediction{File: name, Top: c.TopK(l, f.Top)}
			if f.Logits {
				p.Logits = l
			}
			rec = p
		}
		b, err := line(rec)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		emit(b)
	}
	f.x, f.names = f.x[:0], f.names[:0]
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
