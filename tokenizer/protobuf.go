package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A minimal reader of the protobuf wire format, enough for SentencePiece's
// ModelProto: it walks the fields of one message, hands out varints,
// fixed32 values and length-delimited byte slices (sub-slices of the
// input, so nothing is allocated per field), and skips what it does not
// know. Every length is checked against the bytes that remain.

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

var errTruncated = errors.New("truncated protobuf")

// pbField is one field of a message.
type pbField struct {
	num   int
	wire  int
	u     uint64 // varint and fixed values
	bytes []byte // length-delimited values
}

// pbFields calls fn for each field of the message b, in order.
func pbFields(b []byte, fn func(f pbField) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		f := pbField{num: int(key >> 3), wire: int(key & 7)}
		if key>>3 == 0 || key>>3 > math.MaxInt32 {
			return fmt.Errorf("protobuf field number %d", key>>3)
		}
		switch f.wire {
		case wireVarint:
			f.u, n = binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return errTruncated
			}
			f.u, b = binary.LittleEndian.Uint64(b), b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return errTruncated
			}
			f.u, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errTruncated
			}
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("protobuf wire type %d (groups are not supported)", f.wire)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}
