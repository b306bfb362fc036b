package train

import (
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
func Evaluate(m *vit.Model, d *data.Dataset, batch int) (Metrics, error) {
	c := m.Config
	if err := checkShapes(c, d); err != nil {
		return Metrics{}, err
	}
	acc := newScorer(c, d)
	loader := data.NewLoader(d, batch, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
	it := loader.Epoch(0, 0)
	defer it.Close()
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		logits, err := m.Predict(b.X, b.B)
		if err != nil {
			return acc.ev, err
		}
		acc.add(logits, b.Labels)
		b.Release()
	}
	return acc.metrics(), nil
}

// EvaluateFlip is Evaluate with test-time augmentation by mirroring: the
// logits of each image are the mean of its logits and those of its
// left-right mirror image. It suits data whose classes are symmetric under
// the flip (Fashion-MNIST, natural photos; not digits) and costs two
// forward passes per image.
func EvaluateFlip(m *vit.Model, d *data.Dataset, batch int) (Metrics, error) {
	c := m.Config
	if err := checkShapes(c, d); err != nil {
		return Metrics{}, err
	}
	acc := newScorer(c, d)
	loader := data.NewLoader(d, batch, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
	it := loader.Epoch(0, 0)
	defer it.Close()
	var mean, mirror []float32
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		logits, err := m.Predict(b.X, b.B)
		if err != nil {
			return acc.ev, err
		}
		mean = append(mean[:0], logits...)
		mirror = append(mirror[:0], b.X[:b.B*c.Channels*c.ImageHeight*c.ImageWidth]...)
		for r := 0; r < len(mirror); r += c.ImageWidth {
			slices.Reverse(mirror[r : r+c.ImageWidth])
		}
		if logits, err = m.Predict(mirror, b.B); err != nil {
			return acc.ev, err
		}
		for i, v := range logits {
			mean[i] = (mean[i] + v) / 2
		}
		acc.add(mean, b.Labels)
		b.Release()
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
