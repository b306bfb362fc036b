//go:build amd64 && !purego

#include "textflag.h"

// The dword order that undoes VPACKSSDW and VPACKUSWB's interleaving of
// their two 128-bit lanes.
DATA packOrder<>+0(SB)/4, $0
DATA packOrder<>+4(SB)/4, $4
DATA packOrder<>+8(SB)/4, $1
DATA packOrder<>+12(SB)/4, $5
DATA packOrder<>+16(SB)/4, $2
DATA packOrder<>+20(SB)/4, $6
DATA packOrder<>+24(SB)/4, $3
DATA packOrder<>+28(SB)/4, $7
GLOBL packOrder<>(SB), RODATA|NOPTR, $32

// func verticalAVX2(dst, src []byte, stride int, k []int32) int
//
// Registers: DI dst, CX len(dst), SI src, R8 stride, R9 k, R10 len(k),
// DX the offset of the 32 bytes being done, R11 their input row, R12 the
// tap; Y0–Y3 the 32 sums.
TEXT ·verticalAVX2(SB), NOSPLIT, $0-88
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVQ stride+48(FP), R8
	MOVQ k_base+56(FP), R9
	MOVQ k_len+64(FP), R10
	XORQ DX, DX
	MOVL $0x200000, AX      // 1<<(precisionBits-1): the rounding
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	VMOVDQU packOrder<>(SB), Y14

chunk:
	LEAQ 32(DX), AX
	CMPQ AX, CX
	JGT done
	VMOVDQA Y15, Y0
	VMOVDQA Y15, Y1
	VMOVDQA Y15, Y2
	VMOVDQA Y15, Y3
	LEAQ (SI)(DX*1), R11
	XORQ R12, R12

tap:
	CMPQ R12, R10
	JGE store
	VPBROADCASTD (R9)(R12*4), Y4
	VPMOVZXBD (R11), Y5
	VPMOVZXBD 8(R11), Y6
	VPMOVZXBD 16(R11), Y7
	VPMOVZXBD 24(R11), Y8
	VPMULLD Y4, Y5, Y5
	VPMULLD Y4, Y6, Y6
	VPMULLD Y4, Y7, Y7
	VPMULLD Y4, Y8, Y8
	VPADDD Y5, Y0, Y0
	VPADDD Y6, Y1, Y1
	VPADDD Y7, Y2, Y2
	VPADDD Y8, Y3, Y3
	ADDQ R8, R11
	INCQ R12
	JMP tap

store:
	// >> 22, then saturate to int16 and to uint8: clip8.
	VPSRAD $22, Y0, Y0
	VPSRAD $22, Y1, Y1
	VPSRAD $22, Y2, Y2
	VPSRAD $22, Y3, Y3
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKUSWB Y2, Y0, Y0
	VPERMD Y0, Y14, Y0
	VMOVDQU Y0, (DI)(DX*1)
	ADDQ $32, DX
	JMP chunk

done:
	VZEROUPPER
	MOVQ DX, ret+80(FP)
	RET

// Byte shuffles of 5 RGB pixels (15 bytes): the reds and greens, each
// then zero-padded to 8 bytes; the blues.
DATA shufRG<>+0(SB)/8, $0x808080_0c_09_06_03_00
DATA shufRG<>+8(SB)/8, $0x808080_0d_0a_07_04_01
GLOBL shufRG<>(SB), RODATA|NOPTR, $16
DATA shufB<>+0(SB)/8, $0x808080_0e_0b_08_05_02
DATA shufB<>+8(SB)/8, $0x8080808080808080
GLOBL shufB<>(SB), RODATA|NOPTR, $16

// func horizontalAVX2(dst, row []byte, start, kg []int32, groups int)
//
// For each output pixel x < len(start): dst[3x:3x+3] = clip8(2²¹ + the
// sums over its taps of row[start[x]+3j+c]·k[j]), the taps in groups of
// five pixels (16 bytes read, 15 used), whose weights are kg[8(x·groups+g):]
// (five, then three zeros). Registers: DI dst, SI row, R9 start, R14 the
// weights, CX the pixels, R12 the pixel, R10 groups, R11 the window, R13
// the groups left; Y0–Y2 the red, green and blue sums.
TEXT ·horizontalAVX2(SB), NOSPLIT, $0-104
	MOVQ dst_base+0(FP), DI
	MOVQ row_base+24(FP), SI
	MOVQ start_base+48(FP), R9
	MOVQ start_len+56(FP), CX
	MOVQ kg_base+72(FP), R14
	MOVQ groups+96(FP), R10
	MOVL $0x200000, AX
	VMOVD AX, X15
	VPBROADCASTD X15, X15
	VMOVDQU shufRG<>(SB), X13
	VMOVDQU shufB<>(SB), X12
	XORQ R12, R12

pixel:
	CMPQ R12, CX
	JGE hdone
	MOVLQSX (R9)(R12*4), AX
	LEAQ (SI)(AX*1), R11
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	MOVQ R10, R13

group:
	VMOVDQU (R11), X3
	VPSHUFB X13, X3, X4
	VPSHUFB X12, X3, X5
	VPMOVZXBD X4, Y6
	VPSRLDQ $8, X4, X4
	VPMOVZXBD X4, Y7
	VPMOVZXBD X5, Y8
	VMOVDQU (R14), Y9
	VPMULLD Y9, Y6, Y6
	VPMULLD Y9, Y7, Y7
	VPMULLD Y9, Y8, Y8
	VPADDD Y6, Y0, Y0
	VPADDD Y7, Y1, Y1
	VPADDD Y8, Y2, Y2
	ADDQ $15, R11
	ADDQ $32, R14
	DECQ R13
	JNZ group

	// [r, g, b, b] = the lane sums, then clip8 each.
	VPHADDD Y1, Y0, Y0
	VPHADDD Y2, Y2, Y2
	VPHADDD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPADDD X15, X0, X0
	VPSRAD $22, X0, X0
	VPACKSSDW X0, X0, X0
	VPACKUSWB X0, X0, X0
	VMOVD X0, AX
	MOVW AX, (DI)
	SHRL $16, AX
	MOVB AX, 2(DI)
	ADDQ $3, DI
	INCQ R12
	JMP pixel

hdone:
	VZEROUPPER
	RET

// The weights 32, 31, …, 1 of the bytes of a 32-byte block in the second
// sum, and sixteen 16-bit ones.
DATA adlerWeights<>+0(SB)/8, $0x191a1b1c1d1e1f20
DATA adlerWeights<>+8(SB)/8, $0x1112131415161718
DATA adlerWeights<>+16(SB)/8, $0x090a0b0c0d0e0f10
DATA adlerWeights<>+24(SB)/8, $0x0102030405060708
GLOBL adlerWeights<>(SB), RODATA|NOPTR, $32
DATA adlerOnes<>+0(SB)/8, $0x0001000100010001
DATA adlerOnes<>+8(SB)/8, $0x0001000100010001
DATA adlerOnes<>+16(SB)/8, $0x0001000100010001
DATA adlerOnes<>+24(SB)/8, $0x0001000100010001
GLOBL adlerOnes<>(SB), RODATA|NOPTR, $32

// func adler32AVX2(p []byte) (a, b uint32)
//
// Per 32-byte block: Y1 += the sums of the bytes (VPSADBW), Y3 += Y1
// before that (so that b gets 32 × each earlier block's bytes), Y2 += the
// bytes weighted 32 … 1 (VPMADDUBSW, then VPMADDWD with ones). At the
// end b = 32·ΣY3 + ΣY2 and a = ΣY1.
TEXT ·adler32AVX2(SB), NOSPLIT, $0-32
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VMOVDQU adlerWeights<>(SB), Y14
	VMOVDQU adlerOnes<>(SB), Y13

ablock:
	CMPQ CX, $32
	JLT adone
	VMOVDQU (SI), Y4
	VPADDD Y1, Y3, Y3
	VPSADBW Y0, Y4, Y5
	VPADDD Y5, Y1, Y1
	VPMADDUBSW Y14, Y4, Y6
	VPMADDWD Y13, Y6, Y6
	VPADDD Y6, Y2, Y2
	ADDQ $32, SI
	SUBQ $32, CX
	JMP ablock

adone:
	VPSLLD $5, Y3, Y3
	VPADDD Y3, Y2, Y2
	// Horizontal sums of Y1 (a) and Y2 (b).
	VEXTRACTI128 $1, Y1, X5
	VPADDD X5, X1, X1
	VEXTRACTI128 $1, Y2, X6
	VPADDD X6, X2, X2
	VPSHUFD $0x4e, X1, X5
	VPADDD X5, X1, X1
	VPSHUFD $0x4e, X2, X6
	VPADDD X6, X2, X2
	VPSHUFD $0xb1, X1, X5
	VPADDD X5, X1, X1
	VPSHUFD $0xb1, X2, X6
	VPADDD X6, X2, X2
	VMOVD X1, AX
	VMOVD X2, BX
	MOVL AX, a+24(FP)
	MOVL BX, b+28(FP)
	VZEROUPPER
	RET
