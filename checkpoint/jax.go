package checkpoint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/nn"
)

// jaxLayout names the tensors of one JAX checkpoint flavour.
type jaxLayout struct {
	prefix       string // "", "params/", "opt/target/" or "params/img/"
	mha, ln2     string // MultiHeadDotProductAttention_1 and LayerNorm_2, or _0 and _1 (big_vision)
	mlp          string // MlpBlock_3, or MlpBlock_0 (big_vision)
	scan         bool   // blocks stacked under Transformer/encoderblock/ with a leading depth axis
	pos          string // the position embedding's name
	depth        int
	stackedCache map[string][]float32
}

func (l *jaxLayout) block(i int) string {
	if l.scan {
		return l.prefix + "Transformer/encoderblock/"
	}
	return fmt.Sprintf("%sTransformer/encoderblock_%d/", l.prefix, i)
}

// blockTensor reads block i's tensor name of shape want, slicing it out of
// the stacked tensor in a scanned checkpoint.
func (l *jaxLayout) blockTensor(r *reader, i int, name string, want ...int) []float32 {
	if !l.scan {
		return r.get(l.block(i)+name, want...)
	}
	full := l.block(i) + name
	all, ok := l.stackedCache[full]
	if !ok {
		all = r.get(full, append([]int{l.depth}, want...)...)
		l.stackedCache[full] = all
	}
	if all == nil {
		return nil
	}
	n := len(all) / l.depth
	return all[i*n : (i+1)*n]
}

func loadJAX(ctx context.Context, path string) (*Pretrained, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		npzs, _ := filepath.Glob(filepath.Join(path, "*.npz"))
		if len(npzs) != 1 {
			return nil, fmt.Errorf("loading JAX model: %s holds %d .npz files, want one", path, len(npzs))
		}
		file = npzs[0]
	}
	src, err := openNPZ(file)
	if err != nil {
		return nil, fmt.Errorf("loading JAX model %s: %w", file, err)
	}
	defer src.close()
	r := newReader(ctx, src, file)
	p := &Pretrained{Format: FormatJAX}

	l := &jaxLayout{stackedCache: map[string][]float32{}}
	found := false
	for _, pre := range []string{"", "params/", "opt/target/", "params/img/"} {
		if r.has(pre + "embedding/kernel") {
			l.prefix, found = pre, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("checkpoint %s: no embedding/kernel: not a ViT checkpoint", file)
	}
	pre := l.prefix
	l.scan = r.has(pre + "Transformer/encoderblock/LayerNorm_0/scale")
	b0 := l.block(0)
	switch {
	case r.has(b0 + "MultiHeadDotProductAttention_1/query/kernel"):
		l.mha, l.ln2, l.mlp = "MultiHeadDotProductAttention_1", "LayerNorm_2", "MlpBlock_3"
	case r.has(b0 + "MultiHeadDotProductAttention_0/query/kernel"):
		l.mha, l.ln2, l.mlp = "MultiHeadDotProductAttention_0", "LayerNorm_1", "MlpBlock_0"
	default:
		return nil, fmt.Errorf("checkpoint %s: no %sMultiHeadDotProductAttention_{0,1}/query/kernel: unknown layout", file, b0)
	}
	l.pos = pre + "Transformer/posembed_input/pos_embedding"
	if !r.has(l.pos) {
		l.pos = pre + "pos_embedding"
	}

	ek := r.shapeOf(pre + "embedding/kernel")
	qk := r.shapeOf(b0 + l.mha + "/query/kernel")
	d0 := r.shapeOf(b0 + l.mlp + "/Dense_0/kernel")
	pos := r.shapeOf(l.pos)
	if r.err != nil {
		return nil, r.err
	}
	if len(ek) != 4 || ek[0] != ek[1] {
		return nil, fmt.Errorf("checkpoint %s: tensor %q has shape %v, expected [patch, patch, channels, dim]", file, pre+"embedding/kernel", ek)
	}
	c := vit.Config{Patch: ek[0], Channels: ek[2], Dim: ek[3], LayerNormEps: 1e-6}
	if l.scan {
		if len(qk) != 4 || len(d0) != 3 {
			return nil, fmt.Errorf("checkpoint %s: scanned block tensors have shapes %v and %v, expected [depth, dim, heads, dh] and [depth, dim, mlp]", file, qk, d0)
		}
		l.depth = qk[0]
		qk, d0 = qk[1:], d0[1:]
	} else {
		for r.has(l.block(l.depth) + "LayerNorm_0/scale") {
			l.depth++
		}
	}
	if len(qk) != 3 || qk[0] != c.Dim || qk[1]*qk[2] != c.Dim {
		return nil, fmt.Errorf("checkpoint %s: query kernel has shape %v, expected [%d, heads, dim/heads]", file, qk, c.Dim)
	}
	if len(d0) != 2 || d0[0] != c.Dim {
		return nil, fmt.Errorf("checkpoint %s: MLP kernel has shape %v, expected [%d, mlp]", file, d0, c.Dim)
	}
	c.Depth, c.Heads, c.MLPDim = l.depth, qk[1], d0[1]
	c.NoQKVBias = !r.has(b0 + l.mha + "/query/bias")

	hasCls := r.has(pre + "cls")
	if len(pos) != 3 || pos[0] != 1 || pos[2] != c.Dim {
		return nil, fmt.Errorf("checkpoint %s: tensor %q has shape %v, expected [1, tokens, %d]", file, l.pos, pos, c.Dim)
	}
	posHasCls := false
	g := 0
	switch {
	case hasCls && squareGrid(pos[1]-1) > 0:
		g, posHasCls = squareGrid(pos[1]-1), true
	case squareGrid(pos[1]) > 0:
		g = squareGrid(pos[1])
	default:
		return nil, fmt.Errorf("checkpoint %s: %s has %d positions, not a square grid: give a config for non-square JAX models", file, l.pos, pos[1])
	}
	c.ImageHeight, c.ImageWidth = g*c.Patch, g*c.Patch
	if !hasCls {
		c.Pool = "gap"
	}

	var repr int
	if sh, ok := src.shape(pre + "pre_logits/kernel"); ok {
		if len(sh) != 2 || sh[0] != c.Dim {
			return nil, fmt.Errorf("checkpoint %s: tensor %q has shape %v, expected [%d, representation]", file, pre+"pre_logits/kernel", sh, c.Dim)
		}
		repr = sh[1]
		c.RepresentationSize = repr
	}
	if sh, ok := src.shape(pre + "head/kernel"); ok {
		in := c.Dim
		if repr > 0 {
			in = repr
		}
		if len(sh) != 2 || sh[0] != in {
			return nil, fmt.Errorf("checkpoint %s: tensor %q has shape %v, expected [%d, classes]", file, pre+"head/kernel", sh, in)
		}
		c.Classes = sh[1]
	} else {
		p.Headless = true
		c.Classes = 1
		p.note("no head in the checkpoint: the head is zeros with 1 class; train or replace it")
	}
	p.note("JAX checkpoints carry no normalisation: the official models take pixels scaled to [-1, 1] (mean 0.5, std 0.5)")
	c.Mean, c.Std = nil, nil
	if c.Channels == 3 {
		c.Mean, c.Std = []float32{0.5, 0.5, 0.5}, []float32{0.5, 0.5, 0.5}
	}

	if err := fitsWeights(c, sourceValues(src), "loading JAX model "+file+": its tensor shapes"); err != nil {
		return nil, err
	}
	m, err := newModel(c, path)
	if err != nil {
		return nil, err
	}
	p.Model = m
	d := c.Dim
	if k := r.get(pre+"embedding/kernel", c.Patch, c.Patch, c.Channels, d); k != nil {
		// HWIO [p, p, c, d] → [d, c, p, p].
		pp := c.Patch
		for i := range pp {
			for j := range pp {
				for ch := range c.Channels {
					for o := range d {
						m.PatchEmbed.W.Data[((o*c.Channels+ch)*pp+i)*pp+j] = k[((i*pp+j)*c.Channels+ch)*d+o]
					}
				}
			}
		}
	}
	set(m.PatchEmbed.B, r.get(pre+"embedding/bias", d))
	if hasCls {
		set(m.ClassToken, r.get(pre+"cls", d))
		if posHasCls {
			set(m.PosEmbed, r.get(l.pos, c.Tokens(), d))
		} else {
			// big_vision adds the position embedding before prepending
			// the class token: it has none, i.e. zeros.
			copyInto(m.PosEmbed.Data[d:], r.get(l.pos, c.NumPatches(), d))
			clear(m.PosEmbed.Data[:d])
		}
	} else {
		set(m.PosEmbed, r.get(l.pos, c.Tokens(), d))
	}
	dh := d / c.Heads
	for i, blk := range m.Blocks {
		jaxNorm(l.blockTensor(r, i, "LayerNorm_0/scale", d), l.blockTensor(r, i, "LayerNorm_0/bias", d), blk.Norm1)
		for j, n := range []string{"query", "key", "value"} {
			if k := l.blockTensor(r, i, l.mha+"/"+n+"/kernel", d, c.Heads, dh); k != nil {
				copy(blk.QKV.W.Data[j*d*d:], transpose2(k, d, d))
			}
			if blk.QKV.B != nil {
				copyInto(blk.QKV.B.Data[j*d:], l.blockTensor(r, i, l.mha+"/"+n+"/bias", c.Heads, dh))
			}
		}
		jaxDense(l.blockTensor(r, i, l.mha+"/out/kernel", c.Heads, dh, d), l.blockTensor(r, i, l.mha+"/out/bias", d), blk.Proj)
		jaxNorm(l.blockTensor(r, i, l.ln2+"/scale", d), l.blockTensor(r, i, l.ln2+"/bias", d), blk.Norm2)
		jaxDense(l.blockTensor(r, i, l.mlp+"/Dense_0/kernel", d, c.MLPDim), l.blockTensor(r, i, l.mlp+"/Dense_0/bias", c.MLPDim), blk.FC1)
		jaxDense(l.blockTensor(r, i, l.mlp+"/Dense_1/kernel", c.MLPDim, d), l.blockTensor(r, i, l.mlp+"/Dense_1/bias", d), blk.FC2)
	}
	jaxNorm(r.get(pre+"Transformer/encoder_norm/scale", d), r.get(pre+"Transformer/encoder_norm/bias", d), m.Norm)
	if repr > 0 {
		jaxDense(r.get(pre+"pre_logits/kernel", d, repr), r.get(pre+"pre_logits/bias", repr), m.PreLogits)
		jaxDense(r.get(pre+"head/kernel", repr, c.Classes), r.get(pre+"head/bias", c.Classes), m.Head)
		p.note("has a pre-logits (representation) layer of width %d with tanh before the head (kept in the model; fine-tuning's new head drops it, as the paper does)", repr)
	} else if !p.Headless {
		jaxDense(r.get(pre+"head/kernel", d, c.Classes), r.get(pre+"head/bias", c.Classes), m.Head)
	}
	if err := r.unused(nil); err != nil {
		return nil, err
	}
	return p, nil
}

// jaxDense stores a flax kernel [in, out] (any shape whose leading axes
// multiply to in) and bias into l.
func jaxDense(kernel, bias []float32, l *nn.Linear) {
	if kernel != nil {
		copy(l.W.Data, transpose2(kernel, l.In, l.Out))
	}
	if l.B != nil {
		copyInto(l.B.Data, bias)
	}
}

func jaxNorm(scale, bias []float32, ln *nn.LayerNorm) {
	copyInto(ln.G.Data, scale)
	copyInto(ln.B.Data, bias)
}
