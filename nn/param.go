package nn

// Param is one learnable tensor and its gradient, both row-major.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
	// NoDecay excludes the tensor from weight decay (biases, norms,
	// position embeddings, the class token).
	NoDecay bool
	// Frozen tensors are never updated (fixed sin-cos position embeddings,
	// a frozen body during a linear probe).
	Frozen bool
	// Buffer marks state that is not learned at all (fixed sin-cos
	// position embeddings, Performer random features): saved with the
	// model, frozen, and not counted as a parameter.
	Buffer bool
	// Aliased marks Data that lives in a checkpoint file's private memory
	// mapping (see checkpoint.Load) rather than on the Go heap. It reads and
	// writes as usual (a write copies the page; the file never changes);
	// the mapping is released once the Param is unreachable, so keep the
	// Param, not just its Data slice.
	Aliased bool
}

// NewParam allocates a zeroed parameter of the given shape.
func NewParam(name string, noDecay bool, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{
		Name:    name,
		Shape:   append([]int(nil), shape...),
		Data:    make([]float32, n),
		Grad:    make([]float32, n),
		NoDecay: noDecay,
	}
}

// Size is the number of elements.
func (p *Param) Size() int { return len(p.Data) }

// ZeroGrad clears the gradient.
func (p *Param) ZeroGrad() { clear(p.Grad) }

// Share returns a Param with the same Data, shape and flags but a gradient
// of its own: one replica's view of the tensor in data-parallel training,
// where replicas read the same weights and sum their gradients.
func (p *Param) Share() *Param {
	q := *p
	q.Grad = make([]float32, len(p.Data))
	return &q
}
