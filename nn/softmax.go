package nn

import (
	"math"

	"github.com/vitgo/vit/kernels"
)

// SoftmaxRows replaces each row of x: [rows, cols] by its softmax, computed
// stably (the row maximum is subtracted first).
func SoftmaxRows(x []float32, rows, cols int) { kernels.SoftmaxRows(x, rows, cols) }

// SoftmaxBackwardRows turns dp: [rows, cols], the gradient with respect to the
// softmax output p, into the gradient with respect to its input, in place:
// ds = p ⊙ (dp − Σ_j dp_j·p_j), then multiplied by scale.
func SoftmaxBackwardRows(dp, p []float32, rows, cols int, scale float32) {
	kernels.SoftmaxBackwardRows(dp, p, rows, cols, scale)
}

// CrossEntropy computes the mean softmax cross-entropy of logits: [batch,
// classes] against integer labels with label smoothing ε (targets
// (1−ε)·onehot + ε/classes). When dlogits is not nil it receives the
// gradient of the mean loss: (softmax − target)/batch. It returns the loss
// and the number of rows whose arg-max equals the label.
func CrossEntropy(dlogits, logits []float32, labels []int, classes int, smoothing float32) (loss float64, correct int) {
	batch := len(labels)
	off := smoothing / float32(classes)
	for b, y := range labels {
		row := logits[b*classes : (b+1)*classes]
		m, arg := row[0], 0
		for j, v := range row {
			if v > m {
				m, arg = v, j
			}
		}
		if arg == y {
			correct++
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v - m))
		}
		logZ := float64(m) + math.Log(s)
		// −Σ q_j log p_j = logZ − Σ q_j·logit_j
		var qdot float64
		for j, v := range row {
			q := float64(off)
			if j == y {
				q += float64(1 - smoothing)
			}
			qdot += q * float64(v)
		}
		loss += logZ - qdot
		if dlogits != nil {
			drow := dlogits[b*classes : (b+1)*classes]
			for j, v := range row {
				q := off
				if j == y {
					q += 1 - smoothing
				}
				drow[j] = (float32(math.Exp(float64(v)-logZ)) - q) / float32(batch)
			}
		}
	}
	return loss / float64(batch), correct
}
