package data

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecords returns n CIFAR-10 records; record i has label i%10 and
// pixel j of the red, green and blue planes equal to i, j%256 and 255-i.
func cifarRecords(first, n int) []byte {
	var b []byte
	for i := first; i < first+n; i++ {
		b = append(b, byte(i%10))
		for c := range 3 {
			for j := range 1024 {
				v := []byte{byte(i), byte(j), byte(255 - i)}[c]
				b = append(b, v)
			}
		}
	}
	return b
}

func writeCIFAR(t *testing.T, dir string) {
	for k := 1; k <= 5; k++ {
		writeBytes(t, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", k)), cifarRecords((k-1)*3, 3))
	}
	writeBytes(t, filepath.Join(dir, "test_batch.bin"), cifarRecords(100, 4))
}

func TestLoadCIFAR10(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cifar-10-batches-bin")
	writeCIFAR(t, dir)
	names := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	writeBytes(t, filepath.Join(dir, "batches.meta.txt"), []byte(names+"\n"))
	train, test, err := LoadCIFAR10(root) // finds the sub-directory
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 15 || test.N != 4 || train.C != 3 || train.H != 32 || train.W != 32 || train.Classes[9] != "j" {
		t.Fatalf("got %v / %v", train, test)
	}
	for i := range train.N {
		img := train.Image(i)
		if train.Labels[i] != i%10 || img[0] != byte(i) || img[1024+77] != 77 || img[2048+5] != byte(255-i) {
			t.Fatalf("image %d decoded wrongly", i)
		}
	}
	if test.Labels[0] != 0 || test.Image(3)[0] != 103 {
		t.Fatal("test set decoded wrongly")
	}
	tr2, _, err := Open(dir)
	if err != nil || !bytes.Equal(tr2.Pixels, train.Pixels) {
		t.Fatalf("Open: %v", err)
	}
}

func TestHostileCIFAR10(t *testing.T) {
	tests := []struct {
		name, file string
		content    []byte
		want       string
	}{
		{"partial record", "data_batch_3.bin", cifarRecords(0, 2)[:5000], "multiple"},
		{"empty", "test_batch.bin", nil, "multiple"},
		{"label 10", "data_batch_2.bin", append([]byte{10}, cifarRecords(0, 1)[1:]...), "label 10 out of range"},
		{"too few names", "batches.meta.txt", []byte("cat\ndog\n"), "2 class names"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCIFAR(t, dir)
			p := writeBytes(t, filepath.Join(dir, tc.file), tc.content)
			_, _, err := LoadCIFAR10(dir)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q naming %s", err, tc.want, p)
			}
		})
	}
	if _, _, err := LoadCIFAR10(t.TempDir()); err == nil || !strings.Contains(err.Error(), "data_batch_1.bin") {
		t.Fatalf("empty dir: %v", err)
	}
}
