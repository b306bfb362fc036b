package train

import (
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
	k := c.Classes
	ev := Metrics{N: d.N, Classes: c.Labels, PerClass: make([]float64, k), Confusion: make([][]int, k)}
	if ev.Classes == nil {
		ev.Classes = d.Classes
	}
	for i := range ev.Confusion {
		ev.Confusion[i] = make([]int, k)
	}
	loader := data.NewLoader(d, batch, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
	it := loader.Epoch(0, 0)
	defer it.Close()
	var lossSum float64
	correct := 0
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		logits, err := m.Predict(b.X, b.B)
		if err != nil {
			return ev, err
		}
		loss, right := nn.CrossEntropy(nil, logits, b.Labels, k, 0)
		lossSum += loss * float64(b.B)
		correct += right
		for i, y := range b.Labels {
			ev.Confusion[y][argmax(logits[i*k:(i+1)*k])]++
		}
		b.Release()
	}
	ev.Loss = lossSum / float64(d.N)
	ev.Accuracy = float64(correct) / float64(d.N)
	for y, row := range ev.Confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		if total > 0 {
			ev.PerClass[y] = float64(row[y]) / float64(total)
		}
	}
	return ev, nil
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
