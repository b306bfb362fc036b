package train

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/nn"
)

// Metrics are a model's scores on a labelled dataset.
type Metrics struct {
	N         int       `json:"n"`
	Loss      float64   `json:"loss"` // mean cross-entropy, no smoothing
	Accuracy  float64   `json:"accuracy"`
	Classes   []string  `json:"classes"`
	PerClass  []float64 `json:"per_class_accuracy"` // recall of each class
	Confusion [][]int   `json:"confusion"`          // [true][predicted] counts
}

// Evaluate scores m on d in batches of batch images, normalising pixels with
// the model's Mean and Std.
func Evaluate(m vit.Network, d *data.Dataset, batch int) (Metrics, error) {
	return EvaluateContext(context.Background(), m, d, EvalOptions{Batch: batch})
}

// EvaluateFlip is Evaluate with test-time augmentation by mirroring: the
// logits of each image are the mean of its logits and those of its
// left-right mirror image. It suits data whose classes are symmetric under
// the flip (Fashion-MNIST, natural photos; not digits) and costs two
// forward passes per image.
func EvaluateFlip(m vit.Network, d *data.Dataset, batch int) (Metrics, error) {
	return EvaluateContext(context.Background(), m, d, EvalOptions{Batch: batch, Flip: true})
}

// EvalOptions configure EvaluateContext.
type EvalOptions struct {
	Batch int  // images per forward pass
	Flip  bool // test-time mirroring, as EvaluateFlip
	// Progress, if not nil, is called after each batch with the images
	// scored so far and d.N.
	Progress func(done, total int)
}

// EvaluateContext is Evaluate (or EvaluateFlip, with o.Flip) that checks
// ctx before each batch and reports its progress.
func EvaluateContext(ctx context.Context, m vit.Network, d *data.Dataset, o EvalOptions) (Metrics, error) {
	c := *m.Spec()
	if d == nil || d.N == 0 {
		return Metrics{}, errors.New("evaluation: the dataset is empty")
	}
	if err := checkShapes(c, d); err != nil {
		return Metrics{}, err
	}
	if err := c.CheckHead(); err != nil {
		return Metrics{}, fmt.Errorf("evaluation: %w", err)
	}
	if o.Batch < 1 {
		return Metrics{}, fmt.Errorf("evaluation batch must be at least 1, got %d", o.Batch)
	}
	acc := newScorer(c, d)
	loader := data.NewLoader(d, o.Batch, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
	it := loader.Epoch(0, 0)
	defer it.Close()
	var mean, mirror []float32
	done := 0
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		if err := ctx.Err(); err != nil {
			b.Release()
			return acc.ev, err
		}
		logits, err := m.Predict(b.X, b.B)
		if err != nil {
			b.Release()
			return acc.ev, err
		}
		if o.Flip {
			mean = append(mean[:0], logits...)
			mirror = append(mirror[:0], b.X[:b.B*c.Channels*c.ImageHeight*c.ImageWidth]...)
			for r := 0; r < len(mirror); r += c.ImageWidth {
				slices.Reverse(mirror[r : r+c.ImageWidth])
			}
			if logits, err = m.Predict(mirror, b.B); err != nil {
				b.Release()
				return acc.ev, err
			}
			for i, v := range logits {
				mean[i] = (mean[i] + v) / 2
			}
			logits = mean
		}
		acc.add(logits, b.Labels)
		done += b.B
		b.Release()
		if o.Progress != nil {
			o.Progress(done, d.N)
		}
	}
	return acc.metrics(), nil
}

// scorer accumulates Metrics batch by batch.
type scorer struct {
	ev      Metrics
	k       int
	lossSum float64
	correct int
}

func newScorer(c vit.Config, d *data.Dataset) *scorer {
	k := c.Classes
	ev := Metrics{N: d.N, Classes: c.Labels, PerClass: make([]float64, k), Confusion: make([][]int, k)}
	if ev.Classes == nil {
		ev.Classes = d.Classes
	}
	for i := range ev.Confusion {
		ev.Confusion[i] = make([]int, k)
	}
	return &scorer{ev: ev, k: k}
}

// add scores one batch: logits [len(labels), classes].
func (s *scorer) add(logits []float32, labels []int) {
	loss, right := nn.CrossEntropy(nil, logits, labels, s.k, 0)
	s.lossSum += loss * float64(len(labels))
	s.correct += right
	for i, y := range labels {
		s.ev.Confusion[y][argmax(logits[i*s.k:(i+1)*s.k])]++
	}
}

// metrics returns the scores of every batch added.
func (s *scorer) metrics() Metrics {
	ev := s.ev
	ev.Loss = s.lossSum / float64(ev.N)
	ev.Accuracy = float64(s.correct) / float64(ev.N)
	for y, row := range ev.Confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		if total > 0 {
			ev.PerClass[y] = float64(row[y]) / float64(total)
		}
	}
	return ev
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
