package resnet

// Workspace holds one batch's activations, channels-last: what Backward
// needs from Forward in training, or one call's scratch at inference. It
// is sized once for a batch size and reused. A Workspace belongs to one
// goroutine at a time.
type Workspace struct {
	batch int
	train bool

	stemCols []float32 // [batch·stemH·stemW, k·k·channels] im2col patches of the image
	stem     []float32 // [batch, stemH, stemW, width] the stem convolution's output
	pool     []float32 // [batch, poolH, poolW, width] after the max pool (nil with the small stem)
	poolArg  []int32   // the max pool's winners, for Backward
	blocks   []blockActs

	normed     []float32 // [batch, positions, final] ReLU(GN(last block's output))
	mean, rstd []float32 // [batch, groups]
	pooled     []float32 // [batch, final] global average
	logits     []float32 // [batch, classes]

	grads *grads // training only
}

// blockActs are one bottleneck's activations (see Block): maps of the
// input size h×w, then of the output size oh×ow.
type blockActs struct {
	pre           []float32 // [batch, h, w, in] p = ReLU(GN1(x))
	mean1, rstd1  []float32 // [batch, groups]
	dsCols, short []float32 // the downsample's im2col (stride 2) and output [batch, oh, ow, out]
	a             []float32 // [batch, h, w, mid] conv1
	b             []float32 // [batch, h, w, mid] ReLU(GN2(a))
	mean2, rstd2  []float32
	cols2         []float32 // [batch·oh·ow, 9·mid]
	c             []float32 // [batch, oh, ow, mid] conv2
	d             []float32 // [batch, oh, ow, mid] ReLU(GN3(c))
	mean3, rstd3  []float32
	out           []float32 // [batch, oh, ow, out] conv3(d) + shortcut
}

// grads are the gradients flowing back, one set of the largest sizes
// serving every block.
type grads struct {
	dout, din        []float32 // a block's output and input maps (swapped block to block)
	dpre, da, db, dc []float32 // inside a block
	dd               []float32
	dcols            []float32 // the largest im2col buffer
	dpooled          []float32 // [batch, final]
	dnormed          []float32 // [batch, positions, final]
	dstem            []float32 // [batch, stemH, stemW, width] (standard stem)
}

// alloc builds the buffers of a workspace for batch images with f, which
// allocates (NewWorkspace) or only counts (Memory).
func (l layout) alloc(batch int, train bool, f func(n int) []float32) *Workspace {
	ws := &Workspace{batch: batch, train: train}
	cs := func(k, s, h, w, in int) int { // im2col size; 0 for a pointwise convolution
		if k == 1 && s == 1 {
			return 0
		}
		return batch * convOut(h, k, s) * convOut(w, k, s) * k * k * in
	}
	stats := func(ch int) (mean, rstd []float32) {
		if !train {
			return nil, nil
		}
		return f(batch * Groups(ch)), f(batch * Groups(ch))
	}
	ws.stemCols = f(cs(l.stemKernel, l.stemStride, l.h, l.w, l.channels))
	ws.stem = f(batch * l.stemH * l.stemW * l.width)
	maxMap, maxCols := batch*l.poolH*l.poolW*l.width, 0
	if !l.small {
		ws.pool = f(batch * l.poolH * l.poolW * l.width)
		if train && len(ws.pool) > 0 {
			ws.poolArg = make([]int32, len(ws.pool))
		}
	}
	for _, s := range l.blocks {
		in, out := batch*s.h*s.w, batch*s.oh*s.ow
		cols2, dsCols := cs(3, s.stride, s.h, s.w, s.mid), 0
		a := blockActs{pre: f(in * s.in), a: f(in * s.mid), b: f(in * s.mid), cols2: f(cols2),
			c: f(out * s.mid), d: f(out * s.mid), out: f(out * s.out)}
		a.mean1, a.rstd1 = stats(s.in)
		a.mean2, a.rstd2 = stats(s.mid)
		a.mean3, a.rstd3 = stats(s.mid)
		if s.down {
			dsCols = cs(1, s.stride, s.h, s.w, s.in)
			a.dsCols, a.short = f(dsCols), f(out*s.out)
		}
		ws.blocks = append(ws.blocks, a)
		maxMap = max(maxMap, in*s.in, in*s.mid, out*s.out)
		maxCols = max(maxCols, cols2, dsCols)
	}
	last := l.last()
	pos := last.oh * last.ow
	ws.normed = f(batch * pos * l.final)
	ws.mean, ws.rstd = stats(l.final)
	ws.pooled, ws.logits = f(batch*l.final), f(batch*l.classes)
	if train {
		ws.grads = &grads{dout: f(maxMap), din: f(maxMap), dpre: f(maxMap), da: f(maxMap), db: f(maxMap), dc: f(maxMap), dd: f(maxMap),
			dcols: f(maxCols), dpooled: f(batch * l.final), dnormed: f(batch * pos * l.final)}
		if !l.small {
			ws.grads.dstem = f(batch * l.stemH * l.stemW * l.width)
		}
	}
	return ws
}

// NewWorkspace sizes a workspace for batches of up to batch images; with
// train set it keeps what Backward needs.
func (m *Model) NewWorkspace(batch int, train bool) *Workspace {
	return m.layout.alloc(batch, train, func(n int) []float32 {
		if n == 0 {
			return nil
		}
		return make([]float32, n)
	})
}

// activations counts the float32 values of a workspace (as NewWorkspace
// allocates them), in float64 so that nothing overflows.
func (l layout) activations(batch float64, train bool) float64 {
	var n float64
	l.alloc(1, train, func(k int) []float32 { n += float64(k); return nil })
	if train && !l.small {
		n += float64(l.poolH * l.poolW * l.width) // the max pool's int32 winners
	}
	return n * batch // every buffer is proportional to the batch
}

// Bytes is the memory the workspace holds, in bytes (what Memory
// estimates as its activations).
func (ws *Workspace) Bytes() int64 {
	var n int
	add := func(xs ...[]float32) {
		for _, x := range xs {
			n += len(x)
		}
	}
	add(ws.stemCols, ws.stem, ws.pool, ws.normed, ws.mean, ws.rstd, ws.pooled, ws.logits)
	n += len(ws.poolArg) // int32, as wide as a float32
	for _, a := range ws.blocks {
		add(a.pre, a.mean1, a.rstd1, a.dsCols, a.short, a.a, a.b, a.mean2, a.rstd2, a.cols2, a.c, a.d, a.mean3, a.rstd3, a.out)
	}
	if g := ws.grads; g != nil {
		add(g.dout, g.din, g.dpre, g.da, g.db, g.dc, g.dd, g.dcols, g.dpooled, g.dnormed, g.dstem)
	}
	return 4 * int64(n)
}
