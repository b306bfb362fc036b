package vit

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOutputsIn runs batches of every size from 1 to 16 in one workspace of
// 16: the logits and features equal Outputs', and a training workspace is
// refused.
func TestOutputsIn(t *testing.T) {
	c := Config{ImageHeight: 8, ImageWidth: 12, Channels: 3, Patch: 4, Dim: 8, Depth: 2, Heads: 2, MLPDim: 16, Classes: 3}
	m, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	per := c.Channels * c.ImageHeight * c.ImageWidth
	rng := rand.New(rand.NewPCG(8, 9))
	x := make([]float32, 16*per)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	ws := m.NewWorkspace(16, false)
	for _, batch := range []int{16, 1, 7, 16, 3, 12} {
		logits, features, err := m.OutputsIn(ws, x[:batch*per], batch)
		if err != nil {
			t.Fatal(err)
		}
		wantL, wantF, err := m.Outputs(x[:batch*per], batch)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(logits, wantL) || !slices.Equal(features, wantF) {
			t.Fatalf("batch %d in a workspace of 16: outputs differ from Outputs'", batch)
		}
	}
	if _, _, err := m.OutputsIn(ws, append(x, x[:per]...), 17); err == nil {
		t.Error("17 images in a workspace of 16: no error")
	}
	if _, _, err := m.OutputsIn(m.NewWorkspace(2, true), x[:per], 1); err == nil {
		t.Error("a training workspace: no error")
	}
}
