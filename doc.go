// Package vit is the Vision Transformer of "An Image is Worth 16x16 Words"
// (Dosovitskiy et al., 2020): an image is cut into patches, each patch is
// flattened and projected to a token, a [class] token and position
// embeddings are added, a pre-LayerNorm Transformer encoder lets every
// token attend to every other, and a linear head classifies (Section 3.1,
// Eq. 1–4; see Model.Forward). The paper's hybrid, whose patches are cut
// from the feature map of a convolution stem instead of the image, is the
// same Model with Config.Stem set.
//
// A Config describes a model (Preset gives the paper's Ti, S, B, L and H
// sizes); New builds one with the official JAX initialisation. Predict,
// Features and Attention serve many goroutines at once; Forward and
// Backward with a training Workspace train it (package train runs the
// loop). Package checkpoint saves and loads models, including Hugging
// Face, timm and JAX checkpoints; package viz draws what a model learned.
//
// Classify and Embed take an image.Image and prepare it as the model's
// checkpoint expects (Config.Input: resize, crop and normalisation, in
// package imageio); ClassifyBatch and EmbedBatch do the same for many.
//
// Below them, images are float32, [batch, channels, height, width],
// normalised as the model's Config.Mean and Config.Std say; token
// activations are [batch, tokens, dim].
package vit
