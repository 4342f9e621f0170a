//go:build goexperiment.simd && amd64

package ot

import (
	"encoding/binary"
	"simd/archsimd"
	"unsafe"
)

// The fixed key's AES-128 round keys, expanded with AESKEYGENASSIST for
// SubWord (FIPS-197 §5.2); TestPermBatch checks the result against
// crypto/aes.
var roundKeys = func() (rk [11]archsimd.Uint32x4) {
	var w [44]uint32
	for i := range 4 {
		w[i] = binary.LittleEndian.Uint32(fixedKeyBytes[4*i:])
	}
	rcon := uint8(1)
	for i := 4; i < 44; i++ {
		t := w[i-1]
		if i%4 == 0 {
			// dword 0 of AESKEYGENASSIST(x) is SubWord(x_1); RotWord
			// and Rcon are applied here.
			var in, out [4]uint32
			in[1] = t
			archsimd.LoadUint32x4(&in).AESRoundKeyGenAssist(0).Store(&out)
			t = (out[0]>>8 | out[0]<<24) ^ uint32(rcon)
			rcon = rcon<<1 ^ 0x1b*(rcon>>7)
		}
		w[i] = w[i-4] ^ t
	}
	for r := range rk {
		rk[r] = archsimd.LoadUint32x4((*[4]uint32)(w[4*r : 4*r+4]))
	}
	return rk
}()

func init() {
	if archsimd.X86.AVXAES() {
		permBatch = permSIMD
	}
}

func loadBlock(b *Block) archsimd.Uint8x16 {
	return archsimd.LoadUint8x16((*[16]uint8)(unsafe.Pointer(b)))
}

func storeBlock(v archsimd.Uint8x16, b *Block) { v.Store((*[16]uint8)(unsafe.Pointer(b))) }

// permSIMD encrypts eight blocks per step, round by round, so the AES
// unit's pipeline stays full; the tail goes one block at a time.
func permSIMD(dst, src []Block) {
	n := len(src)
	i := 0
	k0 := rk8(0)
	for ; i+8 <= n; i += 8 {
		s := src[i : i+8 : i+8]
		x0, x1, x2, x3 := loadBlock(&s[0]).Xor(k0), loadBlock(&s[1]).Xor(k0), loadBlock(&s[2]).Xor(k0), loadBlock(&s[3]).Xor(k0)
		x4, x5, x6, x7 := loadBlock(&s[4]).Xor(k0), loadBlock(&s[5]).Xor(k0), loadBlock(&s[6]).Xor(k0), loadBlock(&s[7]).Xor(k0)
		for r := 1; r < 10; r++ {
			k := roundKeys[r]
			x0, x1, x2, x3 = x0.AESEncryptOneRound(k), x1.AESEncryptOneRound(k), x2.AESEncryptOneRound(k), x3.AESEncryptOneRound(k)
			x4, x5, x6, x7 = x4.AESEncryptOneRound(k), x5.AESEncryptOneRound(k), x6.AESEncryptOneRound(k), x7.AESEncryptOneRound(k)
		}
		k := roundKeys[10]
		d := dst[i : i+8 : i+8]
		storeBlock(x0.AESEncryptLastRound(k), &d[0])
		storeBlock(x1.AESEncryptLastRound(k), &d[1])
		storeBlock(x2.AESEncryptLastRound(k), &d[2])
		storeBlock(x3.AESEncryptLastRound(k), &d[3])
		storeBlock(x4.AESEncryptLastRound(k), &d[4])
		storeBlock(x5.AESEncryptLastRound(k), &d[5])
		storeBlock(x6.AESEncryptLastRound(k), &d[6])
		storeBlock(x7.AESEncryptLastRound(k), &d[7])
	}
	for ; i < n; i++ {
		x := loadBlock(&src[i]).Xor(k0)
		for r := 1; r < 10; r++ {
			x = x.AESEncryptOneRound(roundKeys[r])
		}
		storeBlock(x.AESEncryptLastRound(roundKeys[10]), &dst[i])
	}
}

// rk8 is round key r as bytes (the whitening XOR works on Uint8x16).
func rk8(r int) archsimd.Uint8x16 { return roundKeys[r].AsUint8x16() }
