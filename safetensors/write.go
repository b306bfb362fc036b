package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/vitgo/vit/internal/atomicfile"
)

// Tensor is a named float32 tensor to be written by Write.
type Tensor struct {
	Name  string
	Shape []int     // dimensions, outermost first; empty for a scalar
	Data  []float32 // row-major elements; len(Data) must equal the product of Shape

	// DType selects the stored element type: "F32" (the default when
	// empty), "F16" or "BF16". Conversion to 16-bit types rounds to
	// nearest even.
	DType string
}

// headerEntry is the JSON form of a tensor entry; field order matches the
// reference implementation.
type headerEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// Write writes tensors and metadata to w in safetensors format.
//
// The output is deterministic: header keys appear in sorted order (with
// "__metadata__" first, omitted if metadata is empty), tensor data is laid
// out with wider dtypes first and then by name, and the header is padded
// with spaces to a multiple of 8 bytes so that the data buffer is 8-byte
// aligned, as the reference implementation does.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	type item struct {
		t     *Tensor
		dtype string
		size  int
	}
	items := make([]item, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i := range tensors {
		t := &tensors[i]
		if t.Name == "" {
			return errors.New("safetensors: tensor with empty name")
		}
		if t.Name == metadataKey {
			return fmt.Errorf("safetensors: tensor %q: reserved name", t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("safetensors: tensor %q: duplicate name", t.Name)
		}
		seen[t.Name] = true
		dtype := t.DType
		if dtype == "" {
			dtype = "F32"
		}
		if dtype != "F32" && dtype != "F16" && dtype != "BF16" {
			return fmt.Errorf("safetensors: tensor %q: unsupported output dtype %q", t.Name, t.DType)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			if d != 0 && n > math.MaxInt/d {
				return fmt.Errorf("safetensors: tensor %q: shape %v overflows", t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v needs %d elements, have %d", t.Name, t.Shape, n, len(t.Data))
		}
		items[i] = item{t, dtype, dtypeSizes[dtype]}
	}

	// Data layout: wider dtypes first (keeps every tensor aligned to its
	// element size), then by name.
	slices.SortFunc(items, func(a, b item) int {
		if a.size != b.size {
			return b.size - a.size
		}
		return strings.Compare(a.t.Name, b.t.Name)
	})
	entries := make(map[string]headerEntry, len(items))
	off := 0
	for _, it := range items {
		n := len(it.t.Data) * it.size
		shape := it.t.Shape
		if shape == nil {
			shape = []int{}
		}
		entries[it.t.Name] = headerEntry{it.dtype, shape, [2]int{off, off + n}}
		off += n
	}

	hdr, err := encodeHeader(entries, metadata)
	if err != nil {
		return err
	}
	if len(hdr) > MaxHeaderSize {
		return fmt.Errorf("safetensors: header size %d exceeds limit of %d bytes", len(hdr), MaxHeaderSize)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	buf := make([]byte, 0, 32<<10)
	for _, it := range items {
		for chunk := range slices.Chunk(it.t.Data, cap(buf)/4) {
			buf = buf[:0]
			le := binary.LittleEndian
			switch it.dtype {
			case "F32":
				for _, v := range chunk {
					buf = le.AppendUint32(buf, math.Float32bits(v))
				}
			case "F16":
				for _, v := range chunk {
					buf = le.AppendUint16(buf, f32ToF16(v))
				}
			case "BF16":
				for _, v := range chunk {
					buf = le.AppendUint16(buf, f32ToBF16(v))
				}
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// encodeHeader produces the space-padded JSON header with sorted keys.
func encodeHeader(entries map[string]headerEntry, metadata map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Encoder.Encode appends a newline; strip it after each value.
	put := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("safetensors: encoding header: %w", err)
		}
		buf.Truncate(buf.Len() - 1)
		return nil
	}
	buf.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		buf.WriteString(`"` + metadataKey + `":`)
		if err := put(metadata); err != nil { // maps are encoded with sorted keys
			return nil, err
		}
		first = false
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		if err := put(name); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := put(entries[name]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes(), nil
}

// WriteFile writes tensors and metadata to the named file in safetensors
// format, as Write does. The file is replaced atomically: on error, any
// existing file at path is left unchanged.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		return Write(w, tensors, metadata)
	}, 0o644)
}
