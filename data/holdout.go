package data

import (
	"fmt"
	"sort"
)

// HoldOut splits d into rest and held, held having n images: the last
// images of each class, each class contributing its share of n (n·Nc/N
// images, to within one), so that held is stratified however d is ordered
// (shuffled, as the Fashion-MNIST files are, or sorted by class, as a
// class-folder dataset is). The split depends only on d's labels and n:
// the same dataset always gives the same split. rest and held keep d's
// order, copy their pixels and labels, and share Classes.
//
// On Fashion-MNIST's 60,000 training images (6,000 per class), HoldOut(5000)
// holds out the last 500 images of each class.
//
// It returns an error if n is negative or leaves no image in rest.
func (d *Dataset) HoldOut(n int) (rest, held *Dataset, err error) {
	if n < 0 || n >= d.N {
		return nil, nil, fmt.Errorf("data: %s: cannot hold out %d of %d images: use 0 to %d", d.Name, n, d.N, d.N-1)
	}
	restIdx, heldIdx := d.holdOutIndices(n)
	rest, held = d.Subset(restIdx), d.Subset(heldIdx)
	held.Name = d.Name + ", held out"
	return rest, held, nil
}

// holdOutIndices returns the indices, in increasing order, of the images
// HoldOut keeps (N−n of them) and holds out (n).
//
// Each image gets a key: its rank from the end within its class (0 for the
// class's last image), plus one half, divided by the class size. The n
// images of smallest key are held out, ties going to the later image, so
// each class gives round(n·Nc/N) images up to the ties of one rank.
func (d *Dataset) holdOutIndices(n int) (rest, held []int) {
	count := map[int]int{}
	for _, y := range d.Labels {
		count[y]++
	}
	seen := map[int]int{}
	key := make([]float64, d.N)
	for i := d.N - 1; i >= 0; i-- {
		y := d.Labels[i]
		key[i] = (float64(seen[y]) + 0.5) / float64(count[y])
		seen[y]++
	}
	order := make([]int, d.N)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		ia, ib := order[a], order[b]
		if key[ia] != key[ib] {
			return key[ia] < key[ib]
		}
		return ia > ib
	})
	isHeld := make([]bool, d.N)
	for _, i := range order[:n] {
		isHeld[i] = true
	}
	for i, h := range isHeld {
		if h {
			held = append(held, i)
		} else {
			rest = append(rest, i)
		}
	}
	return rest, held
}
