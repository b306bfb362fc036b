package main

import (
	"io"
	"testing"

	"github.com/spf13/pflag"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/train"
)

// TestRecipeModel checks which model a recipe gives under each flag.
func TestRecipeModel(t *testing.T) {
	r, err := train.LookupRecipe("quick")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args         []string
		stem         string
		patch, dim   int
		depth, heads int
	}{
		{nil, r.Stem, r.Patch, r.Dim, r.Depth, 4},
		{[]string{"--patch", "7"}, "", 7, r.Dim, r.Depth, 4},
		{[]string{"--stem", "none"}, "", 4, r.Dim, r.Depth, 4},
		{[]string{"--stem", "16:3:2", "--patch", "2"}, "16:3:2", 2, r.Dim, r.Depth, 4},
		{[]string{"--dim", "32", "--mlp", "64", "--depth", "3"}, r.Stem, r.Patch, 32, 3, 4},
	} {
		var mf modelFlags
		fs := pflag.NewFlagSet("train", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		mf.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		mf.applyRecipe(r.Dim, r.MLPDim, r.Depth, r.Stem, r.Patch)
		c, err := mf.config(nil, 28, 28, 1, 10)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := vit.FormatStem(c.Stem); got != tc.stem || c.Patch != tc.patch || c.Dim != tc.dim || c.Depth != tc.depth || c.Heads != tc.heads {
			t.Errorf("%v: stem %q patch %d dim %d depth %d heads %d, want %q %d %d %d %d",
				tc.args, got, c.Patch, c.Dim, c.Depth, c.Heads, tc.stem, tc.patch, tc.dim, tc.depth, tc.heads)
		}
	}
}
