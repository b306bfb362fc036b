package train

import (
	"fmt"
	"math"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/kernels"
)

// Agreement compares a model's predictions in a reduced number format with
// its float32 predictions on the same images.
type Agreement struct {
	DType        string  `json:"dtype"`
	N            int     `json:"n"`
	Top1         float64 `json:"top1_agreement"`     // fraction of images whose top class is the same
	MaxLogitDiff float64 `json:"max_abs_logit_diff"` // largest |logit − float32 logit|
	MeanLogitAbs float64 `json:"mean_abs_logit"`     // mean |float32 logit|, for scale
	AccuracyF32  float64 `json:"accuracy_fp32"`      // test accuracy in float32
	AccuracyDT   float64 `json:"accuracy_dtype"`     // test accuracy in dt
	RelLogitDiff float64 `json:"max_rel_logit_diff"` // largest over images of |Δlogit| / that image's largest |float32 logit|
}

// CompareDType runs m over every image of d twice, with float32 weights and
// with weights packed in dt (see vit.Model.PackWeights), and reports how
// well the two agree, with the Metrics (as Evaluate gives them) of the dt
// pass. The model is left unpacked.
func CompareDType(m *vit.Model, d *data.Dataset, batch int, dt kernels.DType) (Agreement, Metrics, error) {
	c := m.Config
	if err := checkShapes(c, d); err != nil {
		return Agreement{}, Metrics{}, err
	}
	scores := newScorer(c, d)
	k := c.Classes
	ag := Agreement{DType: dt.String(), N: d.N}
	defer m.UnpackWeights()
	var ref [][]float32 // float32 logits of each batch
	var labels [][]int
	for pass, f := range []kernels.DType{kernels.F32, dt} {
		m.PackWeights(f)
		loader := data.NewLoader(d, batch, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
		it := loader.Epoch(0, 0)
		correct := 0
		for i := 0; ; i++ {
			b, ok := it.Next()
			if !ok {
				break
			}
			logits, err := m.Predict(b.X, b.B)
			if err != nil {
				it.Close()
				return ag, Metrics{}, err
			}
			for j, y := range b.Labels {
				if argmax(logits[j*k:(j+1)*k]) == y {
					correct++
				}
			}
			if pass == 0 {
				ref = append(ref, logits)
				labels = append(labels, append([]int(nil), b.Labels...))
				b.Release()
				continue
			}
			if i >= len(ref) || len(ref[i]) != len(logits) {
				it.Close()
				return ag, Metrics{}, fmt.Errorf("train: the data loader changed between passes")
			}
			scores.add(logits, b.Labels)
			for j := range b.B {
				r, l := ref[i][j*k:(j+1)*k], logits[j*k:(j+1)*k]
				if argmax(r) == argmax(l) {
					ag.Top1++
				}
				var scale, diff float64
				for x := range r {
					scale = max(scale, math.Abs(float64(r[x])))
					diff = max(diff, math.Abs(float64(l[x]-r[x])))
					ag.MeanLogitAbs += math.Abs(float64(r[x]))
				}
				ag.MaxLogitDiff = max(ag.MaxLogitDiff, diff)
				if scale > 0 {
					ag.RelLogitDiff = max(ag.RelLogitDiff, diff/scale)
				}
			}
			b.Release()
		}
		it.Close()
		if pass == 0 {
			ag.AccuracyF32 = float64(correct) / float64(d.N)
		} else {
			ag.AccuracyDT = float64(correct) / float64(d.N)
		}
	}
	ag.Top1 /= float64(d.N)
	ag.MeanLogitAbs /= float64(d.N * k)
	return ag, scores.metrics(), nil
}
