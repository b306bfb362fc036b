// Package nn holds the layers of a Vision Transformer, each with an explicit
// Forward and Backward written side by side: Linear, LayerNorm, GELU,
// multi-head self-attention (softmax, and the Performer's FAVOR+), the
// convolution of a hybrid's stem, dropout and the softmax cross-entropy
// loss.
//
// Layers keep no activations between calls: the caller owns them (what
// Backward needs from Forward) and passes them in. What a layer does keep
// is its parameters and, apart from them, reusable buffers: Linear and
// LayerNorm hold the per-worker partial sums of their parameter gradients,
// allocated by the first Backward and grown when the width or the number
// of workers grows; Linear holds its weights packed for Infer (Pack); the
// Performer holds its random features (Redraw) and its activations and
// scratch live in a PerformerActs the caller keeps; softmax attention's
// Forward borrows score buffers from a sync.Pool. So a training step
// allocates no buffers once these are warm, and Forward and Infer may run
// from many goroutines at once (each with its own activations), but
// Backward may not: each data-parallel replica gets its own layers
// (Replica), sharing only the weights.
//
// Matrices are row-major float32; a batch of token vectors is [n, dim]
// with n = batch·tokens. Backward methods accumulate parameter gradients
// into Param.Grad (so gradients of a step add up until the optimizer clears
// them) and write or add input gradients as each method documents.
package nn
