package data

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/memlimit"
)

// zeroGzip returns a gzip file whose content is prefix followed by n MiB of
// zeros: a real deflate stream of a few kilobytes per megabyte, built
// without compressing the zeros n times. Its trailer records the content's
// size, or isize if not negative.
func zeroGzip(t testing.TB, prefix []byte, n int, isize int64) []byte {
	t.Helper()
	block := func(p []byte) []byte {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		w.Write(p)
		w.Flush() // ends byte-aligned, not final: blocks concatenate
		return b.Bytes()
	}
	mib := make([]byte, 1<<20)
	var out bytes.Buffer
	out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	out.Write(block(prefix))
	z := block(mib)
	crc := crc32.ChecksumIEEE(prefix)
	for range n {
		out.Write(z)
		crc = crc32.Update(crc, crc32.IEEETable, mib)
	}
	out.Write([]byte{3, 0}) // a final, empty fixed-Huffman block
	binary.Write(&out, binary.LittleEndian, crc)
	if isize < 0 {
		isize = int64(len(prefix) + n<<20)
	}
	binary.Write(&out, binary.LittleEndian, uint32(isize))
	return out.Bytes()
}

// TestIDXGzipBomb reads, under a 3 GiB address-space limit, a gzipped IDX
// of a few megabytes whose header claims, and whose stream really holds,
// 2 GiB of images: the claim is refused before anything is decompressed.
func TestIDXGzipBomb(t *testing.T) {
	if !memlimit.Child(t, 3<<30) {
		return
	}
	hdr := idxHeader(1<<15, 256, 256)
	bomb := zeroGzip(t, hdr, 2048, -1)
	t.Logf("the gzip file is %.1f MB", float64(len(bomb))/1e6)
	dir := t.TempDir()
	im := writeBytes(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), bomb)
	lb := writeBytes(t, filepath.Join(dir, "train-labels-idx1-ubyte.gz"), gz(idxBytes(make([]byte, 1<<15), 1<<15)))
	_, err := ReadIDX(im, lb)
	if err == nil || !strings.Contains(err.Error(), "more than the limit") || !strings.Contains(err.Error(), im) {
		t.Fatalf("got %v", err)
	}
	// Under a raised limit, a stream that holds only 64 MiB of the 2 GiB
	// its header and its (forged) trailer claim costs what it holds.
	defer func(m int64) { MaxDataBytes = m }(MaxDataBytes)
	MaxDataBytes = 4 << 30
	liar := writeBytes(t, filepath.Join(dir, "liar.gz"), zeroGzip(t, hdr, 64, int64(len(hdr))+1<<31))
	_, err = ReadIDX(liar, lb)
	if err == nil || !strings.Contains(err.Error(), "got 67108864 of 2147483648 bytes") {
		t.Fatalf("a lying trailer: %v", err)
	}
}

// TestCIFARBomb points the CIFAR-10 reader at sparse batch files of 6 GB
// each under a 3 GiB address-space limit.
func TestCIFARBomb(t *testing.T) {
	if !memlimit.Child(t, 3<<30) {
		return
	}
	dir := t.TempDir()
	for _, name := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(2_000_000 * cifarRecord); err != nil {
			t.Skipf("no sparse files here: %v", err)
		}
		f.Close()
	}
	_, _, err := LoadCIFAR10(dir)
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("got %v", err)
	}
}

// TestCIFARMetaFromDevice points batches.meta.txt at /dev/zero: one error,
// not a read without end.
func TestCIFARMetaFromDevice(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	if !memlimit.Child(t, 3<<30) {
		return
	}
	dir := t.TempDir()
	for _, name := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		writeBytes(t, filepath.Join(dir, name), make([]byte, cifarRecord))
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "batches.meta.txt")); err != nil {
		t.Skip(err)
	}
	_, _, err := LoadCIFAR10(dir)
	if err == nil || !strings.Contains(err.Error(), "batches.meta.txt: more than 65536 bytes") {
		t.Fatalf("got %v", err)
	}
}
