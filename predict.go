package vit

import (
	"fmt"
	"sync"
)

// workspace borrows an inference workspace for batch images; put it back
// with release. Workspaces are pooled per batch size, so a server calling
// Predict from many goroutines reuses memory instead of allocating.
func (m *Model) workspace(batch int) *Workspace {
	p, _ := m.pools.LoadOrStore(batch, &sync.Pool{})
	if ws, ok := p.(*sync.Pool).Get().(*Workspace); ok {
		return ws
	}
	return m.NewWorkspace(batch, false)
}

func (m *Model) release(ws *Workspace) {
	ws.capture = nil
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

// Features returns the pre-head representation: [batch, dim] (the
// normalised class token, or the mean of the normalised tokens with pool
// "gap"), the y of Eq. 4. Safe for concurrent use.
func (m *Model) Features(x []float32, batch int) ([]float32, error) {
	_, f, err := m.run(x, batch, nil)
	return f, err
}

// Attention runs the model and returns, for each requested layer (0-based),
// the attention probabilities: [batch, heads, tokens, tokens], plus the
// logits. Only the requested layers are kept. The output is the same as
// Predict's. Safe for concurrent use.
func (m *Model) Attention(x []float32, batch int, layers []int) (probs map[int][]float32, logits []float32, err error) {
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

func (m *Model) run(x []float32, batch int, capture func(int, []float32)) (logits, features []float32, err error) {
	ws := m.workspace(batch)
	defer m.release(ws)
	ws.capture = capture
	out, err := m.Forward(ws, x, batch)
	if err != nil {
		return nil, nil, err
	}
	d := m.Config.Dim
	return append([]float32(nil), out...), append([]float32(nil), ws.features[:batch*d]...), nil
}
