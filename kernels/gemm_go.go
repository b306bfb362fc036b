package kernels

import "unsafe"

// kernelGo is the portable microkernel: a 4×4 tile in plain Go, for CPUs
// without the assembly kernels (and for the purego build tag).
var kernelGo = &microKernel{name: "go", mr: 4, nr: 4, kc: 256, mc: 128, nc: 1024, fn: sgemmKernelGo, strided: sgemmKernelGoStrided}

// sgemmKernelGo computes a 4×4 tile: C = alpha·Ap·Bp + beta·C, where Ap is
// k steps of 4 packed A values, Bp is k steps of 4 packed B values and C has
// row stride ldc floats. beta = 0 does not read C.
func sgemmKernelGo(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	// Packed panels are the in-place layout with unit row stride.
	sgemmKernelGoStrided(k, a, 1, 4, b, 4, c, ldc, alpha, beta)
}

// storeTile4 sets the 4×4 tile at c (row stride ldc) to alpha·acc +
// beta·C (alpha·acc when beta is 0).
func storeTile4(c *float32, ldc int, alpha, beta float32, acc *[4][4]float32) {
	cs := unsafe.Slice(c, 3*ldc+4)
	for r := range acc {
		row := cs[r*ldc : r*ldc+4 : r*ldc+4]
		if beta == 0 {
			for x, v := range acc[r] {
				row[x] = alpha * v
			}
		} else {
			for x, v := range acc[r] {
				row[x] = alpha*v + beta*row[x]
			}
		}
	}
}

// sgemmKernelGoStrided is sgemmKernelGo on operands read in place: step p
// of row r of A is at a[r·aRow + p·aStep] and step p of the 4 columns of B
// at b[p·bStep:][:4] (strides in floats).
func sgemmKernelGoStrided(k int, a *float32, aRow, aStep int, b *float32, bStep int, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, 3*aRow+(k-1)*aStep+1)
	bs := unsafe.Slice(b, (k-1)*bStep+4)
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		ap, bp := p*aStep, p*bStep
		bv := bs[bp : bp+4 : bp+4]
		a0, a1, a2, a3 := as[ap], as[ap+aRow], as[ap+2*aRow], as[ap+3*aRow]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeTile4(c, ldc, alpha, beta, &[4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	})
}
