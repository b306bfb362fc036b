package npz_test

import (
	"fmt"
	"log"

	"github.com/vitgo/vit/npz"
)

func Example() {
	a, err := npz.Open("testdata/golden_stored.npz")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	for _, name := range a.Names() {
		vals, shape, err := a.Float32(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(name, shape, len(vals))
	}
	vals, _, _ := a.Float32("v2")
	fmt.Println(vals)
	// Output:
	// embedding/kernel [2 2 3 1] 12
	// v1 [3 4] 12
	// v2 [2 2] 4
	// v3 [3 2] 6
	// [1 2 3 4]
}
