//go:build !amd64 || purego

package fss

const useAsm = false

// mmo8 is the portable version of the AES-NI routine in aes_amd64.s.
func mmo8(ks, kv *[176]byte, b *[8]block) { mmo8Generic(b) }
