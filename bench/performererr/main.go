// Command performererr measures how well Performer (FAVOR+) attention
// approximates exact softmax attention on the real activations of a trained
// model: for each number of random features m it reports the relative error
// ‖performer − softmax‖/‖softmax‖ of every layer's attention output, on the
// query/key/value activations of test images, averaged over feature draws.
//
//	go run ./bench/performererr -model RUN [-data SPEC] [-images 64]
package main

import (
	"flag"
	"fmt"
	"log"
	"math"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/nn"
)

func main() {
	model := flag.String("model", "", "trained model (folder, file or run folder)")
	dataSpec := flag.String("data", "", "dataset whose test images feed the model")
	images := flag.Int("images", 64, "test images")
	draws := flag.Int("draws", 3, "feature draws averaged per m")
	flag.Parse()
	m, err := checkpoint.Load(*model)
	if err != nil {
		log.Fatal(err)
	}
	c := m.Config
	_, test, err := data.Open(*dataSpec)
	if err != nil {
		log.Fatal(err)
	}
	l := data.NewLoader(test, *images, data.LoaderOptions{Normalize: data.Normalize{Mean: c.Mean, Std: c.Std}})
	it := l.Epoch(0, 0)
	b, ok := it.Next()
	if !ok {
		log.Fatal("no test images")
	}
	qkv, err := m.AttentionInputs(b.X, b.B)
	it.Close()
	if err != nil {
		log.Fatal(err)
	}
	batch, t := b.B, c.Tokens()
	exact := make([][]float32, c.Depth)
	soft := nn.Attention{Heads: c.Heads, Dim: c.Dim}
	probs := make([]float32, batch*c.Heads*t*t)
	for layer := range c.Depth {
		exact[layer] = make([]float32, batch*t*c.Dim)
		soft.Forward(exact[layer], probs, nil, nil, qkv[layer], batch, t)
	}
	fmt.Printf("Performer approximation of softmax attention on %s: %d test images, %d tokens, dh = %d, %d draws per m\n\n",
		*model, batch, t, c.Dim/c.Heads, *draws)
	fmt.Print("| m |")
	for layer := range c.Depth {
		fmt.Printf(" layer %d |", layer+1)
	}
	fmt.Println(" mean |")
	fmt.Print("|---|")
	for range c.Depth + 1 {
		fmt.Print("---|")
	}
	fmt.Println()
	out := make([]float32, batch*t*c.Dim)
	for _, feats := range []int{16, 32, 64, 128, 256, 512} {
		fmt.Printf("| %d |", feats)
		var total float64
		for layer := range c.Depth {
			var e float64
			for d := range *draws {
				p := nn.NewPerformer("attn", c.Heads, c.Dim, feats, uint64(1000*d+layer))
				acts := p.NewActs(batch, t)
				p.Forward(out, acts, qkv[layer], batch, t)
				e += relErr(out, exact[layer])
			}
			e /= float64(*draws)
			total += e
			fmt.Printf(" %.4f |", e)
		}
		fmt.Printf(" %.4f |\n", total/float64(c.Depth))
	}
}

func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i] - b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / den)
}
