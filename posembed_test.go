package vit

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/gradcheck"
)

// TestPositionsWithPrefixTokens: with a class token, a distillation token
// and two register tokens, z₀ is each token plus its position embedding
// for every kind of Table 8: the class and distillation tokens get their
// rows of E_pos (learned, sincos) or none (learned-2d, none), the
// registers none, the patches theirs (PatchPosEmbed, also what
// PositionTable holds after the prefix).
func TestPositionsWithPrefixTokens(t *testing.T) {
	for _, kind := range []string{"learned", "learned-2d", "sincos", "none"} {
		t.Run(kind, func(t *testing.T) {
			c := tinyConfig()
			c.PosEmbed, c.DistToken, c.Registers = kind, true, 2
			m, err := New(c, 3)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			copy(m.ClassToken.Data, gradcheck.Random(rng, c.Dim, 1))
			copy(m.DistToken.Data, gradcheck.Random(rng, c.Dim, 1))
			copy(m.RegTokens.Data, gradcheck.Random(rng, 2*c.Dim, 1))
			ws := m.NewWorkspace(1, false)
			m.embed(ws, gradcheck.Random(rng, c.Channels*c.ImageHeight*c.ImageWidth, 1), 1)

			d, pre, np := c.Dim, 4, c.NumPatches()
			table, patches := m.PositionTable(), m.PatchPosEmbed()
			if kind == "none" {
				if table != nil || patches != nil {
					t.Fatal("position tables for pos_embed none")
				}
				table = make([]float32, c.Tokens()*d)
			}
			if len(table) != c.Tokens()*d {
				t.Fatalf("PositionTable of %d values, want %d", len(table), c.Tokens()*d)
			}
			for i := range np * d {
				if table[pre*d+i] != valueAt(patches, i) {
					t.Fatalf("PositionTable's patch value %d = %v, PatchPosEmbed's %v", i, table[pre*d+i], patches[i])
				}
			}
			for i := range d {
				if table[2*d+i] != 0 || table[3*d+i] != 0 {
					t.Fatal("register tokens got position embeddings")
				}
				if (kind == "learned-2d") && (table[i] != 0 || table[d+i] != 0) {
					t.Fatal("learned-2d gave the class or distillation token a position embedding")
				}
			}
			if kind == "learned" || kind == "sincos" {
				for i := range 2 * d {
					if table[i] != m.PosEmbed.Data[i] {
						t.Fatalf("prefix position value %d = %v, E_pos has %v", i, table[i], m.PosEmbed.Data[i])
					}
				}
			}
			tokens := append(append(append([]float32(nil), m.ClassToken.Data...), m.DistToken.Data...), m.RegTokens.Data...)
			tokens = append(tokens, ws.embed[:np*d]...)
			for i, v := range ws.z[0][:c.Tokens()*d] {
				if want := tokens[i] + table[i]; v != want {
					t.Fatalf("z₀ value %d (token %d) = %v, want %v", i, i/d, v, want)
				}
			}
		})
	}
}

// valueAt is s[i], or 0 for a nil s.
func valueAt(s []float32, i int) float32 {
	if s == nil {
		return 0
	}
	return s[i]
}

// TestPosEmbedEncoderRefusals: the combinations of position embeddings and
// encoder modules the model does not implement are refused by Validate,
// naming what to change.
func TestPosEmbedEncoderRefusals(t *testing.T) {
	grid := func(c *Config, kind string) {
		c.PosEmbed, c.PosGridH, c.PosGridW, c.PosResize = kind, 3, 3, "bicubic"
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"relative-dist", func(c *Config) { c.PosEmbed, c.DistToken = "relative", true }, "relative position biases take only a class token"},
		{"relative-registers", func(c *Config) { c.PosEmbed, c.Registers = "relative", 4 }, "drop dist_token and registers"},
		{"grid-learned-2d", func(c *Config) { grid(c, "learned-2d") }, `pos_grid is for learned position embeddings (one vector per token), not pos_embed "learned-2d"`},
		{"grid-sincos", func(c *Config) { grid(c, "sincos") }, `not pos_embed "sincos"`},
		{"grid-relative", func(c *Config) { grid(c, "relative") }, `not pos_embed "relative"`},
		{"grid-none", func(c *Config) { grid(c, "none") }, `not pos_embed "none"`},
	} {
		c := tinyConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	c := tinyConfig()
	grid(&c, "learned")
	if err := c.Validate(); err != nil {
		t.Errorf("a learned table at a grid of its own: %v", err)
	}
}
