package vit

import (
	"fmt"
	"math"

	"github.com/vitgo/vit/kernels"
	"github.com/vitgo/vit/nn"
)

// Memory is an arithmetic estimate of what a model of a Config takes, in
// bytes, computed from the configuration alone (nothing is allocated). The
// arithmetic is done in float64, so no product of dimensions can overflow;
// each field saturates at math.MaxInt64.
type Memory struct {
	// Params is the float32 tensors of the model: learned parameters and
	// buffers (fixed sin-cos embeddings, Performer features).
	Params int64
	// State is what the model holds besides its activations: the weights
	// and their gradient buffers, plus in training the AdamW moments
	// (4 × Params in all) and at inference a packed copy of the weights
	// (3 × Params in all).
	State int64
	// Activations is the Workspace of one batch (Workspace.Bytes, plus a
	// Performer's attention state).
	Activations int64
	Batch       int
	Train       bool
}

// Total is State plus Activations, saturating at math.MaxInt64.
func (m Memory) Total() int64 { return saturate(float64(m.State) + float64(m.Activations)) }

// Memory estimates the memory a model of configuration c needs to train on
// (train set) or run inference on batches of batch images. It trusts c's
// dimensions to be positive (see Validate) and never overflows.
func (c Config) Memory(batch int, train bool) Memory {
	if !c.IsViT() {
		if a, err := c.arch(); err == nil {
			return a.Memory(c, batch, train)
		}
		return Memory{Batch: batch, Train: train}
	}
	p := c.tensorElems(false)
	state := 3 * p
	if train {
		state = 4 * p
	}
	return Memory{Params: saturate(4 * p), State: saturate(4 * state),
		Activations: saturate(4 * c.activationElems(float64(batch), train)), Batch: batch, Train: train}
}

// NumParams counts the learnable values of a model of configuration c, as
// Model.NumParams does, without building it.
func (c Config) NumParams() int64 {
	if !c.IsViT() {
		if a, err := c.arch(); err == nil {
			return a.NumParams(c)
		}
		return 0
	}
	return saturate(c.tensorElems(true))
}

// tensorElems counts the float32 values of every tensor of the model (only
// the learnable ones with learnable set), as newZero allocates them.
func (c Config) tensorElems(learnable bool) float64 {
	d, mlp, cls := float64(c.Dim), float64(c.MLPDim), float64(c.Classes)
	n := c.patchSizeF() * d // patch embedding
	if !c.NoPatchBias {
		n += d
	}
	switch {
	case c.PosEmbed == "sincos" && !learnable, c.learnedTable():
		sh, sw := c.PosGrid()
		n += (float64(c.posPrefix()) + float64(sh)*float64(sw)) * d
	case c.PosEmbed == "learned-2d":
		n += (float64(c.GridH()) + float64(c.GridW())) * float64(c.Dim/2)
	case c.Relative():
		n += float64(c.Depth) * float64(nn.RelativeEntries(c.GridH(), c.GridW(), c.ClassToken())) * float64(c.Heads)
	}
	n += float64(c.PrefixTokens()) * d // class, distillation and register tokens
	in := float64(c.Channels)
	for _, s := range c.Stem {
		out := float64(s.Channels)
		n += in*float64(s.Kernel)*float64(s.Kernel)*out + out
		if s.Norm {
			n += 2 * out
		}
		in = out
	}
	hid := float64(c.hiddenOut())
	block := 2*d + 3*d*d + d*d + d + 2*d + d*hid + hid + mlp*d + d
	if !c.NoQKVBias {
		block += 3 * d
	}
	if c.LayerScale {
		block += 2 * d
	}
	if c.Performer() && !learnable {
		block += c.performerFeatures() * float64(c.headDim())
	}
	n += float64(c.Depth) * block
	fd := float64(c.FeatureDim())
	n += 2*d + fd*cls + cls // final norm (or fc_norm) and head
	if c.NormPre {
		n += 2 * d
	}
	if c.Pool == "map" { // probe, q, kv, proj, norm, MLP
		n += d + (d*d + d) + (2*d*d + 2*d) + (d*d + d) + 2*d + (d*mlp + mlp) + (mlp*d + d)
	}
	if c.RepresentationSize > 0 {
		n += d*fd + fd
	}
	if c.EmbedDim > 0 {
		n += d * fd
	}
	if c.distHead() {
		n += fd*cls + cls
	}
	return n
}

// patchesF, tokensF and patchSizeF are NumPatches, Tokens and PatchSize
// computed in float64, which cannot overflow.
func (c Config) patchesF() float64 { return float64(c.GridH()) * float64(c.GridW()) }

func (c Config) tokensF() float64 { return c.patchesF() + float64(c.PrefixTokens()) }

func (c Config) patchSizeF() float64 {
	return float64(c.FeatureChannels()) * float64(c.Patch) * float64(c.Patch)
}

func (c Config) headDim() int { return c.Dim / max(1, c.Heads) }

// performerFeatures is the number of Performer random features per head.
func (c Config) performerFeatures() float64 {
	if c.Features > 0 {
		return float64(c.Features)
	}
	return float64(nn.DefaultFeatures(c.headDim()))
}

// activationElems counts the float32 values of a Workspace for batch images
// (see NewWorkspace, which this mirrors buffer by buffer).
func (c Config) activationElems(batch float64, train bool) float64 {
	b := batch
	t, d, h, mlp := c.tokensF(), float64(c.Dim), float64(c.Heads), float64(c.MLPDim)
	np, n := c.patchesF(), b*c.tokensF()
	on := func(cond bool, k float64) float64 {
		if cond {
			return k
		}
		return 0
	}
	patches := on(len(c.Stem) == 0 || c.Patch > 1, b*np*c.patchSizeF())
	fd := float64(c.FeatureDim())
	total := patches + b*np*d + b*fd + b*float64(c.Classes) // patches, embed, features, logits
	pooledRows := on(c.Pool != "gap" && c.Pool != "map", b) + on(c.Pool == "gap" || c.Pool == "map", n)
	total += 2*pooledRows*d + 2*pooledRows
	total += on(c.classShortcutBuffers(), b*d+b*h*t)
	total += on(c.Relative(), h*t*t)
	total += c.encoderElems(b, train)

	// The stem, and in training its gradients.
	var stemActs, dcols, dconv float64
	hh, ww, in := c.ImageHeight, c.ImageWidth, c.Channels
	for i, s := range c.Stem {
		pad := s.Kernel / 2
		hh, ww = (hh+2*pad-s.Kernel)/s.Stride+1, (ww+2*pad-s.Kernel)/s.Stride+1
		rows := b * float64(hh) * float64(ww)
		out := float64(s.Channels)
		cols := rows * float64(in) * float64(s.Kernel) * float64(s.Kernel)
		total += cols + rows*out + on(s.Norm, rows*out) + on(s.Norm && train, 2*rows) + on(train, rows*out)
		stemActs += rows * out
		if i > 0 {
			dcols = max(dcols, cols)
		}
		if s.Norm {
			dconv = max(dconv, rows*out)
		}
		in = s.Channels
	}

	nz, nb := 2.0, 1.0
	if train {
		nz, nb = float64(c.Depth+1), float64(c.Depth)
	}
	total += nz * n * d
	probs := on(train && !c.Performer(), b*h*t*t)
	hid := float64(c.hiddenOut())
	block := 2*n*d + 3*n*d + probs + 2*n*d + n*hid + n*mlp
	block += on(c.LayerScale, 2*n*d)
	block += on(train && c.AttentionDropout > 0 && !c.Performer(), 2*b*h*t*t)
	block += on(train && c.Dropout > 0, 2*n*d+n*mlp)
	block += on(train && c.DropPath > 0, 2*b)
	block += on(train, 4*n)
	if c.Performer() {
		dh, m, bh := float64(c.headDim()), c.performerFeatures(), b*h
		slots := max(1, min(float64(kernels.Parallelism()), bh))
		block += 2*bh*t*m + bh*m*(dh+1) + bh*t*(dh+1) + slots*(t*(dh+1)+m*(dh+1)+t*m)
	}
	total += nb * block
	if train {
		total += on(c.Dropout > 0, n*d)
		total += 8*n*d + n*hid + on(c.FFN == "swiglu", n*mlp) + probs + b*fd + pooledRows*d + b*np*d
		total += stemActs + dcols + dconv + on(len(c.Stem) > 0 && c.Patch > 1, patches)
	}
	return total
}

// saturate converts a non-negative count to int64, capped at math.MaxInt64.
func saturate(x float64) int64 {
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(x)
}

// MemoryError reports a model that does not fit in the memory available.
type MemoryError struct {
	Need   Memory
	Usable int64 // bytes: the part of the available memory a model may take
}

func (e *MemoryError) Error() string {
	what, fix := "inference", "use a smaller batch"
	if e.Need.Train {
		what = "training"
	}
	if e.Need.State > e.Usable {
		fix = "use a smaller model"
	}
	return fmt.Sprintf("%s at batch %d needs %s (%s of activations, %s of weights and their state); this machine has %s available for it: %s",
		what, e.Need.Batch, FormatBytes(e.Need.Total()), FormatBytes(e.Need.Activations), FormatBytes(e.Need.State),
		FormatBytes(e.Usable), fix)
}

// CheckMemory refuses, with a *MemoryError, a model of configuration c
// that would not fit in the memory available to this process when training
// on (train set) or running inference on batches of batch images. A model
// may take four fifths of AvailableMemory: the rest is left to the Go
// runtime (a garbage-collected heap grows past what it holds), the input
// batches and the data set. CheckMemory allocates nothing, so callers run
// it before building a model or a workspace. A batch below 1 is an error.
func (c Config) CheckMemory(batch int, train bool) error {
	if batch < 1 {
		return fmt.Errorf("batch must be positive, got %d", batch)
	}
	need := c.Memory(batch, train)
	avail, _ := AvailableMemory()
	if usable := avail / 5 * 4; need.Total() > usable {
		return &MemoryError{Need: need, Usable: usable}
	}
	return nil
}

// unknownMemory is what AvailableMemory and physicalMemory assume where
// the system does not say: 1 TiB, more than any model here should take.
const unknownMemory = 1 << 40

// FormatBytes writes n bytes in binary units: "512 B", "1.5 KiB" up to
// "8.0 EiB".
func FormatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}
