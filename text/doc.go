// Package text holds the text towers of CLIP and SigLIP, for inference:
// the Transformers that turn a tokenised text into a vector in the space
// of their image towers' embeddings, and their loading from Hugging Face
// folders (CLIPModel, CLIPTextModel, CLIPTextModelWithProjection,
// SiglipModel, SiglipTextModel) and from OpenCLIP's (its CLIP text
// Transformer, as the hub stores it with open_clip_config.json).
//
// Both are pre-LayerNorm Transformers over token plus position
// embeddings, with a final LayerNorm:
//
//   - CLIP (transformers' CLIPTextTransformer): causal self-attention,
//     QuickGELU (or the config's activation), the output of the
//     end-of-text token pooled, then text_projection (no bias);
//   - SigLIP (SiglipTextTransformer): attention over all 64 tokens, no
//     mask, tanh-approximated GELU, the last token pooled, then the head
//     (a biased Linear).
//
// Model.Embed returns the pooled, projected vectors, not normalised (what
// get_text_features returns); package zeroshot compares them with image
// embeddings.
package text
