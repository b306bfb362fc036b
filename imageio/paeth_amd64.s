//go:build amd64 && !purego

#include "textflag.h"

// func paethAVX(cur, prev []byte, bpp int) int
//
// Registers: SI cur, DI prev, CX len(cur), BX bpp, DX the offset i of the
// pixel; X0 a (left), X1 b (up), X2 c (up-left), X3 the filtered pixel,
// all as 16-bit lanes. The predictor: pa = |b−c|, pb = |a−c|,
// pc = |a+b−2c|; a if pa is the least, else b if pb ≤ pc, else c.
TEXT ·paethAVX(SB), NOSPLIT, $0-64
	MOVQ cur_base+0(FP), SI
	MOVQ cur_len+8(FP), CX
	MOVQ prev_base+24(FP), DI
	MOVQ bpp+48(FP), BX
	MOVQ BX, DX
	VPCMPEQW X14, X14, X14
	VPSRLW $8, X14, X14     // 0x00ff in every lane
	LEAQ 4(BX), AX
	CMPQ AX, CX
	JGT done                // fewer than four bytes after the first pixel
	MOVL (SI), AX
	VMOVD AX, X0
	VPMOVZXBW X0, X0        // a: the first pixel, done
	MOVL (DI), AX
	VMOVD AX, X2
	VPMOVZXBW X2, X2        // c

loop:
	LEAQ 4(DX), AX
	CMPQ AX, CX
	JGT done
	MOVL (DI)(DX*1), AX
	VMOVD AX, X1
	VPMOVZXBW X1, X1        // b
	MOVL (SI)(DX*1), AX
	VMOVD AX, X3
	VPMOVZXBW X3, X3        // the filtered samples
	VPSUBW X2, X1, X4       // b−c
	VPSUBW X2, X0, X5       // a−c
	VPADDW X4, X5, X6       // a+b−2c
	VPABSW X4, X4           // pa
	VPABSW X5, X5           // pb
	VPABSW X6, X6           // pc
	VPMINSW X5, X4, X7
	VPMINSW X6, X7, X7      // the least
	VPCMPEQW X7, X5, X8
	VPBLENDVB X8, X1, X2, X9 // pb least: b, else c
	VPCMPEQW X7, X4, X8
	VPBLENDVB X8, X0, X9, X9 // pa least: a
	VPADDW X9, X3, X3
	VPAND X14, X3, X0       // the pixel, mod 256: the next a
	VPACKUSWB X0, X0, X3
	VMOVD X3, AX
	VMOVDQA X1, X2          // the next c
	CMPQ BX, $3
	JEQ store3
	MOVL AX, (SI)(DX*1)
	ADDQ $4, DX
	JMP loop

store3:
	// Three bytes, not four: a store that the next pixel's load overlaps
	// in part cannot be forwarded to it, and would stall every pixel.
	MOVW AX, (SI)(DX*1)
	SHRL $16, AX
	MOVB AX, 2(SI)(DX*1)
	ADDQ $3, DX
	JMP loop

done:
	MOVQ DX, ret+56(FP)
	RET
