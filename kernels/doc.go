// Package kernels holds the hot numeric loops of vit: single-precision
// matrix multiply (packed, cache-blocked, with assembly microkernels where
// the CPU allows), row-wise softmax, layer normalisation, GELU and the
// sigmoid gates (QuickGELU, tanh-GELU, SiLU: Gate), and the worker pool that
// spreads them across cores.
//
// All matrices are row-major float32. Nothing above this package sees
// packing, tiling, assembly or goroutines: callers see Sgemm, GemmPacked
// (products with a weight matrix packed once by PackB, in fp32 or bf16),
// their Epilogue forms (bias, residual, GELU or a gate, or their backward, applied to
// each block of the result while it is in cache), AttentionHead and
// AttentionHeadBackward (one head of softmax attention and its gradients,
// fused) and a few row operations; PrefetchRows is a cache hint for data about to be read; Peak
// measures the multiply-add rate the GEMM throughput can be compared with.
package kernels
