// Package batchrun runs a model over many image files, as vit embed and
// vit predict do at scale: it expands the inputs (files, folders walked for
// images, globs, list files), decodes and prepares images in parallel
// ahead of the model, runs them in batches through one inference
// workspace and hands the results on in input order, with bounded memory
// whatever the number of files.
//
// Results go to a caller (Stream: standard output), to one file
// (WriteFile) or to a folder of shards (OpenShards): files of ShardSize
// images each, written as the run goes, each shard finished by a manifest
// written atomically after its data, so that a run killed at any moment
// loses at most the shard in progress and a rerun into the same folder
// skips the images already done. Images that cannot be read do not stop a
// run: each becomes a Failure (a line of the shard's errors file).
//
// The JSON lines are those of vit embed (Embedding: {"file", "features"})
// and vit predict --json (Prediction: {"file", "top", "logits"}), and
// errors files hold Failure lines ({"file", "error"}): EmbeddingLines and
// PredictionLines turn a batch result (vit.EmbedBatch, vit.ClassifyBatch)
// into them, for other runners of the same models (the Beam pipeline).
package batchrun
