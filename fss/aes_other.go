//go:build !amd64 || purego

package fss

const (
	useAsm  = false
	useVAES = false
)

// mmo8 is the portable version of the AES-NI routine in aes_amd64.s.
func mmo8(ks, kv *[176]byte, b *[8]block) { mmo8Generic(ks, kv, b) }

// mmo16 is the portable version of the VAES routine in aes_amd64.s.
func mmo16(ks, kv *[176]byte, b *[16]block) { mmo16Generic(ks, kv, b) }

// mmo24 is the portable version of the VAES routine in aes_amd64.s.
func mmo24(ks, kv *[176]byte, b *[24]block) { mmo24Generic(ks, kv, b) }
