package imageio

import (
	"bytes"
	"compress/zlib"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// inflateInputs are data of the kinds a PNG holds and of the kinds that
// take each path of the decoder: noise (literals), text (matches), runs
// (matches at distance 1), short periods (distances under 8), long and
// overlapping matches, and a photograph's pixels.
func inflateInputs(t testing.TB) map[string][]byte {
	rng := rand.New(rand.NewPCG(7, 8))
	noise := make([]byte, 70000)
	for i := range noise {
		noise[i] = byte(rng.IntN(256))
	}
	var text bytes.Buffer
	words := []string{"patch ", "token ", "attention ", "the ", "of ", "image ", "worth ", "16x16 ", "words\n"}
	for text.Len() < 100000 {
		text.WriteString(words[rng.IntN(len(words))])
	}
	periods := make([]byte, 50000)
	for i := range periods {
		periods[i] = byte(i % (1 + i/5000)) // periods 1 … 10
	}
	photo, err := os.ReadFile("testdata/in/chelsea.png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := decodePNG(photo, 0)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"empty": {}, "one": {42}, "noise": noise, "text": text.Bytes(), "runs": bytes.Repeat([]byte{7}, 100000),
		"periods": periods, "photo": img.Pix, "mixed": append(append(slicesClone(noise[:3000]), text.Bytes()[:40000]...), img.Pix[:50000]...),
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// TestInflate: inflateZlib decodes what compress/zlib writes at every
// level (stored, Huffman only, fixed and dynamic codes) exactly, with the
// length the stream took; too short an output, a truncated stream and a
// wrong checksum are errors.
func TestInflate(t *testing.T) {
	for name, data := range inflateInputs(t) {
		for _, level := range []int{zlib.NoCompression, zlib.HuffmanOnly, zlib.BestSpeed, zlib.DefaultCompression, zlib.BestCompression} {
			var z bytes.Buffer
			w, _ := zlib.NewWriterLevel(&z, level)
			w.Write(data)
			w.Close()
			stream := append(z.Bytes(), "after"...)
			dst := make([]byte, len(data))
			n, err := inflateZlib(dst, stream)
			if err != nil || n != z.Len() || !bytes.Equal(dst, data) {
				t.Errorf("%s, level %d: used %d of %d bytes, %v, equal %v", name, level, n, z.Len(), err, bytes.Equal(dst, data))
				continue
			}
			if len(data) > 0 {
				if _, err := inflateZlib(make([]byte, len(data)-1), stream); err == nil {
					t.Errorf("%s, level %d: decoded into one byte less", name, level)
				}
				if _, err := inflateZlib(make([]byte, len(data)+1), stream); err == nil {
					t.Errorf("%s, level %d: decoded into one byte more", name, level)
				}
			}
			if _, err := inflateZlib(dst, z.Bytes()[:z.Len()-5]); err == nil {
				t.Errorf("%s, level %d: a truncated stream decoded", name, level)
			}
			bad := slicesClone(z.Bytes())
			bad[len(bad)-1] ^= 1
			if _, err := inflateZlib(dst, bad); err == nil {
				t.Errorf("%s, level %d: a wrong checksum passed", name, level)
			}
		}
	}
}

// FuzzInflate: whatever inflateZlib accepts, compress/zlib accepts too,
// with the same bytes (it may refuse more, never less or otherwise).
func FuzzInflate(f *testing.F) {
	for _, data := range inflateInputs(f) {
		var z bytes.Buffer
		w, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
		w.Write(data[:min(len(data), 3000)])
		w.Close()
		f.Add(z.Bytes(), uint16(min(len(data), 3000)))
	}
	f.Fuzz(func(t *testing.T, stream []byte, size uint16) {
		dst := make([]byte, size)
		n, err := inflateZlib(dst, stream)
		if err != nil {
			return
		}
		r, err := zlib.NewReader(bytes.NewReader(stream[:n]))
		if err != nil {
			t.Fatalf("inflateZlib accepted what compress/zlib refuses: %v", err)
		}
		want, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(want, dst) {
			t.Fatalf("inflateZlib gave %d bytes, compress/zlib %d (%v)", len(dst), len(want), err)
		}
	})
}
