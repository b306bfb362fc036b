package npz

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/memlimit"
)

// TestArrayBombs reads, under a 3 GiB address-space limit, archives of a
// few hundred bytes that claim arrays of gigabytes: in the zip directory,
// in the .npy header, or in both, agreeing. Each must be refused from the
// sizes, before the claim is allocated.
func TestArrayBombs(t *testing.T) {
	if !memlimit.Child(t, 3<<30) {
		return
	}
	raw := func(name string, usize uint64, npyData []byte) []byte {
		var comp bytes.Buffer
		w, _ := flate.NewWriter(&comp, flate.BestCompression)
		w.Write(npyData)
		w.Close()
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		fw, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CompressedSize64: uint64(comp.Len()), UncompressedSize64: usize})
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(comp.Bytes())
		zw.Close()
		return buf.Bytes()
	}
	hdr := npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }", nil)
	for _, tc := range []struct {
		name, want string
		archive    []byte
	}{
		{"directory claims 4 GiB", "impossible", raw("a.npy", 4<<30, f32bytes(1, 2))},
		{"header claims 4 GiB", "holds", zipOf(t, member{"a.npy", append(hdr, f32bytes(1, 2)...), true})},
		{"both claim 4 GiB", "impossible", raw("a.npy", uint64(len(hdr))+4<<30, hdr)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := openBytes(tc.archive)
			if err == nil {
				_, _, err = a.Float32("a")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}
