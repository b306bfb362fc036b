package vit

import (
	"errors"
	"fmt"
	"sync"
)

// workspace borrows an inference workspace for batch images; put it back
// with release. Workspaces are pooled per batch size, so a server calling
// Predict from many goroutines reuses memory instead of allocating, and a
// batch allocates exactly what Config.CheckMemory counted for it. (A caller
// forming batches of many sizes, such as a dynamic batcher, keeps one
// workspace of its largest batch and uses OutputsIn.)
func (m *Model) workspace(batch int) *Workspace {
	p, _ := m.pools.LoadOrStore(batch, &sync.Pool{})
	if ws, ok := p.(*sync.Pool).Get().(*Workspace); ok {
		return ws
	}
	return m.NewWorkspace(batch, false)
}

func (m *Model) release(ws *Workspace) {
	ws.capture, ws.captureQKV, ws.captured = nil, nil, nil
	if p, ok := m.pools.Load(ws.batch); ok {
		p.(*sync.Pool).Put(ws)
	}
}

// Predict returns the logits: [batch, classes] of images x: [batch,
// channels, height, width], normalised as the model was trained. It is safe
// to call from many goroutines at once.
func (m *Model) Predict(x []float32, batch int) ([]float32, error) {
	logits, _, err := m.run(x, batch, nil)
	return logits, err
}

// Features returns the pre-head representation: [batch, FeatureDim] (the
// normalised class token, or the mean of the normalised tokens with pool
// "gap", the y of Eq. 4; the attention pool's output with pool "map";
// then through the pre-logits layer or CLIP's projection when the model has
// one: the image embedding). Safe for concurrent use.
func (m *Model) Features(x []float32, batch int) ([]float32, error) {
	_, f, err := m.run(x, batch, nil)
	return f, err
}

// Attention runs the model and returns, for each requested layer (0-based),
// the attention probabilities: [batch, heads, tokens, tokens], plus the
// logits. Only the requested layers are kept. The output is the same as
// Predict's. Safe for concurrent use.
func (m *Model) Attention(x []float32, batch int, layers []int) (probs map[int][]float32, logits []float32, err error) {
	if m.Config.Performer() {
		return nil, nil, errPerformerMaps
	}
	want := map[int]bool{}
	for _, l := range layers {
		if l < 0 || l >= m.Config.Depth {
			return nil, nil, fmt.Errorf("vit: layer %d out of range [0, %d)", l, m.Config.Depth)
		}
		want[l] = true
	}
	probs = map[int][]float32{}
	logits, _, err = m.run(x, batch, func(l int, p []float32) {
		if want[l] {
			probs[l] = append([]float32(nil), p...)
		}
	})
	return probs, logits, err
}

// Outputs returns both the logits: [batch, classes] and the pre-head
// features: [batch, FeatureDim] of images x: [batch, channels, height, width] from
// one forward pass: the numbers of Predict and Features. Safe for
// concurrent use.
func (m *Model) Outputs(x []float32, batch int) (logits, features []float32, err error) {
	return m.run(x, batch, nil)
}

// checkInput refuses a negative batch, or images x that do not hold batch
// images, before a workspace for them is allocated: a large batch with a
// short x would otherwise take the memory of the batch first.
func (m *Model) checkInput(x []float32, batch int) error {
	c := m.Config
	size := c.Channels * c.ImageHeight * c.ImageWidth
	if batch < 0 {
		return fmt.Errorf("vit: a batch of %d images: give 0 or more", batch)
	}
	if size <= 0 || len(x)/size < batch {
		return fmt.Errorf("vit: %d input values for %d images of %d×%d×%d", len(x), batch, c.Channels, c.ImageHeight, c.ImageWidth)
	}
	return nil
}

// OutputsIn is Outputs run in the caller's inference workspace ws (from
// NewWorkspace(n, false) with n ≥ batch) instead of a pooled one, with the
// same numbers: a caller that runs one batch at a time, such as a dynamic
// batcher forming batches of every size up to n, keeps one workspace. ws
// belongs to one goroutine at a time.
func (m *Model) OutputsIn(ws *Workspace, x []float32, batch int) (logits, features []float32, err error) {
	if err := m.checkInput(x, batch); err != nil {
		return nil, nil, err
	}
	if ws.train {
		return nil, nil, errors.New("vit: OutputsIn needs an inference workspace: NewWorkspace(batch, false)")
	}
	return m.outputs(ws, x, batch)
}

func (m *Model) run(x []float32, batch int, capture func(int, []float32)) (logits, features []float32, err error) {
	if err := m.checkInput(x, batch); err != nil {
		return nil, nil, err
	}
	ws := m.workspace(batch)
	defer m.release(ws)
	ws.capture = capture
	return m.outputs(ws, x, batch)
}

// outputs runs x in ws and returns copies of the logits and features.
func (m *Model) outputs(ws *Workspace, x []float32, batch int) (logits, features []float32, err error) {
	out, err := m.Forward(ws, x, batch)
	if err != nil {
		return nil, nil, err
	}
	d := m.Config.FeatureDim()
	return append([]float32(nil), out...), append([]float32(nil), ws.features[:batch*d]...), nil
}

// AttentionInputs runs the model on x: [batch, channels, height, width] and
// returns each layer's attention input, the output of its fused
// query/key/value projection: [batch, tokens, 3, heads, dh] per layer (what
// nn.Attention and nn.Performer consume). Safe for concurrent use.
func (m *Model) AttentionInputs(x []float32, batch int) ([][]float32, error) {
	if err := m.checkInput(x, batch); err != nil {
		return nil, err
	}
	ws := m.workspace(batch)
	defer m.release(ws)
	qkv := make([][]float32, m.Config.Depth)
	ws.captureQKV = func(l int, v []float32) { qkv[l] = append([]float32(nil), v...) }
	if _, err := m.Forward(ws, x, batch); err != nil {
		return nil, err
	}
	return qkv, nil
}

// AttentionGradients runs the model on x: [batch, channels, height, width]
// and back-propagates the logit of class[i] for each image i. It returns,
// for every layer, the attention probabilities and the gradient of the
// chosen logits with respect to them, both [batch, heads, tokens, tokens]
// (what gradient-weighted attention rollout needs), and the logits. The
// model's parameter gradients are left as they were. Unlike Predict it is
// not safe for concurrent use: it swaps the model's gradient buffers while
// it runs.
func (m *Model) AttentionGradients(x []float32, batch int, class []int) (probs, grads [][]float32, logits []float32, err error) {
	c := m.Config
	if c.Performer() {
		return nil, nil, nil, errPerformerMaps
	}
	if len(class) != batch {
		return nil, nil, nil, fmt.Errorf("vit: %d classes for %d images", len(class), batch)
	}
	if err := m.checkInput(x, batch); err != nil {
		return nil, nil, nil, err
	}
	ws := m.NewWorkspace(batch, true)
	ws.train = true
	// Inference behaviour: no dropout or stochastic depth.
	for i := range ws.blocks {
		a := &ws.blocks[i]
		a.attnMask, a.dropped, a.projMask, a.fc2Mask, a.fc1Mask, a.keepAttn, a.keepMLP = nil, nil, nil, nil, nil, nil, nil
	}
	ws.embedMask = nil
	ws.grads.dprobsOut = make([]float32, batch*c.Heads*c.Tokens()*c.Tokens())
	probs = make([][]float32, c.Depth)
	grads = make([][]float32, c.Depth)
	ws.capture = func(l int, p []float32) { probs[l] = append([]float32(nil), p...) }
	ws.captureGrad = func(l int, g []float32) { grads[l] = append([]float32(nil), g...) }
	out, err := m.Forward(ws, x, batch)
	if err != nil {
		return nil, nil, nil, err
	}
	logits = append([]float32(nil), out...)
	dlogits := make([]float32, batch*c.Classes)
	for i, k := range class {
		if k < 0 || k >= c.Classes {
			return nil, nil, nil, fmt.Errorf("vit: class %d out of range [0, %d)", k, c.Classes)
		}
		dlogits[i*c.Classes+k] = 1
	}
	// Parameter gradients go to a throw-away copy of the gradient buffers.
	saved := m.swapGrads()
	defer m.restoreGrads(saved)
	if err := m.backward(ws, dlogits, batch); err != nil {
		return nil, nil, nil, err
	}
	return probs, grads, logits, nil
}

// swapGrads gives every parameter a fresh gradient buffer and returns the
// old ones, so that an analysis backward pass leaves training state alone.
func (m *Model) swapGrads() [][]float32 {
	ps := m.Params()
	old := make([][]float32, len(ps))
	for i, p := range ps {
		old[i] = p.Grad
		p.Grad = make([]float32, len(p.Data))
	}
	return old
}

func (m *Model) restoreGrads(old [][]float32) {
	for i, p := range m.Params() {
		p.Grad = old[i]
	}
}

// errPerformerMaps is the error of the methods that read attention maps on
// a Performer model.
var errPerformerMaps = errors.New("vit: attention maps need softmax attention; this model uses the Performer (FAVOR+), which never forms the attention matrix: switch it with Model.SetAttention(\"softmax\", 0, seed)")
