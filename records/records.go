// Package records defines the per-image records that vit embed, vit predict
// --json and the Apache Beam pipeline (module github.com/vitgo/vit/beam)
// write, one JSON object per line. Encoded with encoding/json, each is a
// stable line format that scripts can rely on:
//
//	{"features":[0.12,-0.5,...],"file":"a.png"}        Embedding
//	{"file":"a.png","top":[{"index":3,"label":"cat","prob":0.91}]}   Prediction
//	{"file":"b.png","error":"imageio: png: invalid format: ..."}    Failure
package records

import "github.com/vitgo/vit"

// Embedding is one image's pre-head feature vector (vit.Model.Features):
// Features is [Config.Dim]. The fields are in the order vit embed has
// always written them (the keys sorted), so its lines do not change.
type Embedding struct {
	Features []float32 `json:"features"`
	File     string    `json:"file"`
}

// Prediction is one image's classes, most probable first, and optionally
// its raw logits: [Config.Classes] (vit predict), or the probability of
// each label (vit zeroshot). A prediction that failed has only File and
// Error (vit predict --json writes it in line with the others).
type Prediction struct {
	File   string      `json:"file"`
	Top    []vit.Class `json:"top,omitempty"`
	Logits []float32   `json:"logits,omitempty"`
	Probs  []float32   `json:"probs,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// Failure is an image that could not be read or decoded, with the reason:
// a line of a dead-letter (errors) file.
type Failure struct {
	File  string `json:"file"`
	Error string `json:"error"`
}
