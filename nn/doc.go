// Package nn holds the layers of a Vision Transformer, each with an explicit
// Forward and Backward written side by side: Linear, LayerNorm, GELU,
// multi-head self-attention (softmax, and the Performer's FAVOR+), the
// convolution of a hybrid's stem, dropout and the softmax cross-entropy
// loss.
//
// Layers do not allocate and do not keep state between calls: the caller
// owns activations (what Backward needs from Forward) and passes them in.
// Matrices are row-major float32; a batch of token vectors is [n, dim]
// with n = batch·tokens. Backward methods accumulate parameter gradients
// into Param.Grad (so gradients of a step add up until the optimizer clears
// them) and write or add input gradients as each method documents.
package nn
