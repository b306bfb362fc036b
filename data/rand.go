package data

import "math/bits"

// rng is a SplitMix64 generator: tiny, allocation-free and good enough for
// shuffling and augmentation. Its output depends only on its seed.
type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// seedOf hashes a list of integers into one seed.
func seedOf(vals ...uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range vals {
		h = mix64(h ^ mix64(v+0x632be59bd9b4e019))
	}
	return h
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// intn returns a value in [0, n); n must be > 0.
func (r *rng) intn(n int) int {
	// Lemire's multiply-shift; the tiny bias is irrelevant here.
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// float returns a value in [0, 1).
func (r *rng) float() float32 {
	return float32(r.next()>>40) / (1 << 24)
}

// permutation returns a random permutation of [0, n) drawn from seed.
func permutation(n int, seed uint64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r := rng{seed}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
