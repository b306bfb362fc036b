package vit

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWorkspaceReuseAcrossBatchSizes runs every batch size from 1 to 16, as
// a dynamic batcher forms them: the workspaces pooled stay at 5 sizes (1, 2,
// 4, 8, 16), and the logits and features of each image equal those of the
// image run alone in a workspace sized for exactly its batch.
func TestWorkspaceReuseAcrossBatchSizes(t *testing.T) {
	for _, pool := range []string{"cls", "gap"} {
		c := Config{ImageHeight: 8, ImageWidth: 12, Channels: 3, Patch: 4, Dim: 8, Depth: 2, Heads: 2, MLPDim: 16, Classes: 3, Pool: pool}
		m, err := New(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		per := c.Channels * c.ImageHeight * c.ImageWidth
		rng := rand.New(rand.NewPCG(6, 7))
		x := make([]float32, 16*per)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		for batch := 1; batch <= 16; batch++ {
			logits, features, err := m.Outputs(x[:batch*per], batch)
			if err != nil {
				t.Fatal(err)
			}
			exact := m.NewWorkspace(batch, false)
			want, err := m.Forward(exact, x[:batch*per], batch)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(logits, want) {
				t.Fatalf("pool %s, batch %d: logits from the pooled workspace differ from an exact one's", pool, batch)
			}
			if !slices.Equal(features, exact.features[:batch*c.Dim]) {
				t.Fatalf("pool %s, batch %d: features from the pooled workspace differ from an exact one's", pool, batch)
			}
		}
		var sizes []int
		m.pools.Range(func(k, _ any) bool { sizes = append(sizes, k.(int)); return true })
		slices.Sort(sizes)
		if !slices.Equal(sizes, []int{1, 2, 4, 8, 16}) {
			t.Errorf("pool %s: workspaces pooled for batch sizes %v after batches 1..16; want [1 2 4 8 16]", pool, sizes)
		}
	}
}

func TestWorkspaceClass(t *testing.T) {
	for batch, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 16: 16, 17: 32, 100: 128} {
		if got := workspaceClass(batch); got != want {
			t.Errorf("workspaceClass(%d) = %d, want %d", batch, got, want)
		}
	}
}

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
