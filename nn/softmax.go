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
	return MixedCrossEntropy(dlogits, logits, labels, nil, 1, classes, smoothing)
}

// MixedCrossEntropy is CrossEntropy against mixed targets, as Mixup and
// CutMix train (data.Mix): row b's target is λ·t(labels[b]) +
// (1−λ)·t(others[b]), where t is the label-smoothed one-hot target. others
// may be nil when λ = 1. correct counts rows whose arg-max is labels[b].
func MixedCrossEntropy(dlogits, logits []float32, labels, others []int, lambda float32, classes int, smoothing float32) (loss float64, correct int) {
	batch := len(labels)
	off := smoothing / float32(classes)
	on := 1 - smoothing
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
		// The target is off everywhere, plus λ·on at y and (1−λ)·on at
		// the other label.
		y2, l1, l2 := y, on, float32(0)
		if others != nil && lambda != 1 {
			y2, l1, l2 = others[b], lambda*on, (1-lambda)*on
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v - m))
		}
		logZ := float64(m) + math.Log(s)
		// −Σ q_j log p_j = logZ − Σ q_j·logit_j
		var qdot float64
		for j, v := range row {
			qdot += float64(target(j, y, y2, off, l1, l2)) * float64(v)
		}
		loss += logZ - qdot
		if dlogits != nil {
			drow := dlogits[b*classes : (b+1)*classes]
			for j, v := range row {
				drow[j] = (float32(math.Exp(float64(v)-logZ)) - target(j, y, y2, off, l1, l2)) / float32(batch)
			}
		}
	}
	return loss / float64(batch), correct
}

// target is the mixed target of class j: off, plus l1 if j is the label y,
// plus l2 if j is the other label y2.
func target(j, y, y2 int, off, l1, l2 float32) float32 {
	q := off
	if j == y {
		q += l1
	}
	if j == y2 && l2 != 0 {
		q += l2
	}
	return q
}
