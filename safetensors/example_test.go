package safetensors_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/vitgo/vit/safetensors"
)

func Example() {
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Tensor{
		{Name: "head.weight", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "head.bias", Shape: []int{2}, Data: []float32{0.5, -0.5}, DType: "BF16"},
	}, map[string]string{"format": "pt"})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	for _, name := range f.Names() {
		dtype, shape, _ := f.Info(name)
		vals, _, err := f.Float32(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, dtype, shape, vals)
	}
	fmt.Println(f.Metadata())
	// Output:
	// head.bias BF16 [2] [0.5 -0.5]
	// head.weight F32 [2 3] [1 2 3 4 5 6]
	// map[format:pt]
}
