package vit

import "github.com/vitgo/vit/internal/interp"

// encoderActs are the workspace buffers of the encoder modules (see
// Encoder); each is nil when the model has no such module.
type encoderActs struct {
	// Position embeddings resampled to the input's grid: [posPrefix +
	// patches, dim], and the axis weights from Config.PosGrid.
	pos          []float32
	posWy, posWx [][]interp.Tap
	// NormPre's input: [batch, tokens, dim], and its statistics
	// (training).
	preIn, preMean, preRstd []float32
	// The pooled vectors before a pre-logits layer or projection: [batch, dim].
	pooled []float32
	// The distillation token's rows of z_L, normalised, and its head's
	// logits.
	distIn, distOut, distMean, distRstd, logitsDist []float32
	attnPool                                        poolActs

	// Training only: gradients.
	dpos, dpre, dpooled, dhalf, ddist, ddistIn []float32
}

// pooledRows is the number of rows the final norm sees: one per image
// (pools cls and avg), or every token (gap, map).
func (c Config) pooledRows(batch int) int {
	if c.Pool == "gap" || c.Pool == "map" {
		return batch * c.Tokens()
	}
	return batch
}

// classShortcutBuffers reports whether the last block may take the
// class-token shortcut (classBlock), so that the workspace holds its
// buffers: the head reads the class token alone (pool cls, no distillation
// head) and its attention is plain softmax (no FAVOR+, no relative
// position biases, which classBlock does not add).
func (c Config) classShortcutBuffers() bool {
	return c.ClassToken() && (c.Pool == "" || c.Pool == "cls") && !c.distHead() && !c.Performer() && !c.Relative()
}

// newEncoderActs sizes the encoder modules' buffers; encoderElems counts
// them.
func (m *Model) newEncoderActs(batch int, train bool) encoderActs {
	c := m.Config
	d, n := c.Dim, batch*c.Tokens()
	f := func(k int) []float32 { return make([]float32, k) }
	var e encoderActs
	if c.resamplesPos() {
		e.pos = f((c.posPrefix() + c.NumPatches()) * d)
		sh, sw := c.PosGrid()
		e.posWy, e.posWx = interp.Weights(sh, c.GridH(), c.PosResize), interp.Weights(sw, c.GridW(), c.PosResize)
		if train {
			e.dpos = f(len(e.pos))
		}
	}
	if c.NormPre {
		e.preIn = f(n * d)
		if train {
			e.preMean, e.preRstd, e.dpre = f(n), f(n), f(n*d)
		}
	}
	if c.RepresentationSize > 0 || c.EmbedDim > 0 {
		e.pooled = f(batch * d)
		if train {
			e.dpooled = f(batch * d)
		}
	}
	if c.distHead() {
		e.distIn, e.distOut, e.logitsDist = f(batch*d), f(batch*d), f(batch*c.Classes)
		if train {
			e.distMean, e.distRstd = f(batch), f(batch)
			e.dhalf, e.ddist, e.ddistIn = f(batch*c.Classes), f(batch*d), f(batch*d)
		}
	}
	if c.Pool == "map" {
		e.attnPool = newPoolActs(c, batch, c.Tokens(), train)
	}
	return e
}

// slices lists the buffers, for Workspace.Bytes.
func (e *encoderActs) slices() [][]float32 {
	s := [][]float32{e.pos, e.preIn, e.preMean, e.preRstd, e.pooled, e.distIn, e.distOut, e.distMean, e.distRstd,
		e.logitsDist, e.dpos, e.dpre, e.dpooled, e.dhalf, e.ddist, e.ddistIn}
	return append(s, e.attnPool.slices()...)
}

// encoderElems counts the values newEncoderActs allocates for batch images.
func (c Config) encoderElems(batch float64, train bool) float64 {
	d, n, cls := float64(c.Dim), batch*c.tokensF(), float64(c.Classes)
	var k float64
	tr := func(x float64) float64 {
		if train {
			return x
		}
		return 0
	}
	if c.resamplesPos() {
		p := (float64(c.posPrefix()) + c.patchesF()) * d
		k += p + tr(p)
	}
	if c.NormPre {
		k += n*d + tr(2*n+n*d)
	}
	if c.RepresentationSize > 0 || c.EmbedDim > 0 {
		k += batch*d + tr(batch*d)
	}
	if c.distHead() {
		k += 2*batch*d + batch*cls + tr(2*batch+batch*cls+2*batch*d)
	}
	if c.Pool == "map" {
		k += poolActsElems(c, batch, c.tokensF(), train)
	}
	return k
}
