package data

import (
	"bytes"
	"slices"
	"testing"
)

// indexed returns n images of 2×2 pixels whose first two bytes spell the
// image's index, with labels given by label(i).
func indexed(n, classes int, label func(i int) int) *Dataset {
	d := &Dataset{Name: "indexed", N: n, C: 1, H: 2, W: 2, Pixels: make([]uint8, 4*n), Labels: make([]int, n), Classes: digitClasses(classes)}
	for i := range n {
		d.Pixels[4*i], d.Pixels[4*i+1] = uint8(i>>8), uint8(i)
		d.Labels[i] = label(i)
	}
	return d
}

func imageIndex(d *Dataset, j int) int { return int(d.Pixels[4*j])<<8 | int(d.Pixels[4*j+1]) }

// TestHoldOut checks that the held-out images and the rest are disjoint,
// together make up the dataset, keep its order and labels, that each class
// gives its share from its last images, and that the split is the same
// every time.
func TestHoldOut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, hold int
		label   func(i int) int
	}{
		{"shuffled", 1000, 100, func(i int) int { return (i * 7919) % 10 }},
		{"sorted by class", 1000, 100, func(i int) int { return i / 100 }},
		{"unbalanced", 600, 60, func(i int) int { return min(i/100, 3) }}, // 100, 100, 100, 300
		{"uneven share", 997, 101, func(i int) int { return i % 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := indexed(tc.n, 10, tc.label)
			rest, held, err := d.HoldOut(tc.hold)
			if err != nil {
				t.Fatal(err)
			}
			if held.N != tc.hold || rest.N != tc.n-tc.hold {
				t.Fatalf("held %d, rest %d images of %d, want %d held", held.N, rest.N, tc.n, tc.hold)
			}
			seen := make([]bool, tc.n)
			for _, part := range []*Dataset{rest, held} {
				last := -1
				for j := range part.N {
					i := imageIndex(part, j)
					if seen[i] {
						t.Fatalf("image %d is in both parts", i)
					}
					seen[i] = true
					if i <= last {
						t.Fatalf("%s: image %d after image %d: order not kept", part.Name, i, last)
					}
					last = i
					if part.Labels[j] != d.Labels[i] {
						t.Fatalf("image %d has label %d, want %d", i, part.Labels[j], d.Labels[i])
					}
				}
			}
			// Each class's held images are its last ones, about its share.
			total, heldOf := d.ClassCounts(), held.ClassCounts()
			for y, c := range total {
				if c == 0 {
					continue
				}
				want := float64(tc.hold) * float64(c) / float64(tc.n)
				if got := float64(heldOf[y]); got < want-1 || got > want+1 {
					t.Errorf("class %d: %d of its %d images held out, want %.1f ± 1", y, heldOf[y], c, want)
				}
			}
			for j := range rest.N {
				i, y := imageIndex(rest, j), rest.Labels[j]
				for k := range held.N {
					if held.Labels[k] == y && imageIndex(held, k) < i {
						t.Fatalf("class %d: image %d held out, later image %d kept", y, imageIndex(held, k), i)
					}
				}
			}
			rest2, held2, _ := d.HoldOut(tc.hold)
			if !bytes.Equal(held.Pixels, held2.Pixels) || !bytes.Equal(rest.Pixels, rest2.Pixels) || !slices.Equal(held.Labels, held2.Labels) {
				t.Fatal("two splits of the same dataset differ")
			}
		})
	}
}

// TestHoldOutFashionMNIST: 5,000 of the 60,000 training images are the last
// 500 of each class.
func TestHoldOutFashionMNIST(t *testing.T) {
	train, _ := installedFashion(t)
	_, held, err := train.HoldOut(5000)
	if err != nil {
		t.Fatal(err)
	}
	for y, c := range held.ClassCounts() {
		if c != 500 {
			t.Errorf("class %d: %d images held out, want 500", y, c)
		}
	}
}

func TestHoldOutBadSize(t *testing.T) {
	d := indexed(10, 2, func(i int) int { return i % 2 })
	for _, n := range []int{-1, 10, 11} {
		if _, _, err := d.HoldOut(n); err == nil {
			t.Errorf("HoldOut(%d) of 10 images gave no error", n)
		}
	}
	rest, held, err := d.HoldOut(0)
	if err != nil || held.N != 0 || rest.N != 10 {
		t.Fatalf("HoldOut(0): rest %v, held %v, %v", rest, held, err)
	}
}
