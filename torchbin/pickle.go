package torchbin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
)

// The pickle subset: a stack machine over a handful of value kinds. It
// builds data (numbers, strings, tuples, lists, dicts) and recognises the
// few callables torch.save refers to; any other global is an error, so
// nothing a file says is ever executed.

type (
	global struct{ module, name string }
	tuple  []any
	list   struct{ items []any }
	dict   struct {
		keys []any
		vals []any
	}
	mark struct{}
	// storage is a persistent reference to data/<key> of the archive.
	storage struct {
		dtype string // F32, F16, BF16, F64 or the unsupported storage's name
		key   string
		numel int64
	}
	// tensor is a strided view of a storage.
	tensor struct {
		st     *storage
		offset int64
		shape  []int64
		stride []int64
	}
)

func (d *dict) set(k, v any) {
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

// Limits against hostile files.
const (
	maxPickle = 64 << 20 // bytes of data.pkl
	maxMemo   = 1 << 20  // memo entries
	maxStack  = 1 << 20  // stack depth
	maxDims   = 16       // tensor rank
)

var errTrunc = errors.New("pickle: truncated")

// storageTypes maps torch's typed-storage class names to dtypes.
var storageTypes = map[string]string{
	"FloatStorage":    "F32",
	"HalfStorage":     "F16",
	"BFloat16Storage": "BF16",
	"DoubleStorage":   "F64",
}

// unpickle runs the pickle program p and returns the object it builds.
func unpickle(p []byte) (any, error) {
	if len(p) > maxPickle {
		return nil, fmt.Errorf("pickle: %d bytes, more than a checkpoint's tensor index needs", len(p))
	}
	var (
		stack []any
		marks []int
		memo  = map[int]any{}
		pos   int
	)
	read := func(n int) ([]byte, error) {
		if n < 0 || n > len(p)-pos {
			return nil, errTrunc
		}
		b := p[pos : pos+n]
		pos += n
		return b, nil
	}
	push := func(v any) error {
		if len(stack) >= maxStack {
			return errors.New("pickle: stack too deep")
		}
		stack = append(stack, v)
		return nil
	}
	pop := func() (any, error) {
		if len(stack) == 0 || (len(marks) > 0 && len(stack) == marks[len(marks)-1]) {
			return nil, errors.New("pickle: pop from an empty stack")
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v, nil
	}
	popMark := func() ([]any, error) {
		if len(marks) == 0 {
			return nil, errors.New("pickle: no mark")
		}
		m := marks[len(marks)-1]
		marks = marks[:len(marks)-1]
		items := append([]any(nil), stack[m:]...)
		stack = stack[:m]
		return items, nil
	}
	put := func(i int) error {
		if len(stack) == 0 {
			return errors.New("pickle: memoize with an empty stack")
		}
		if len(memo) >= maxMemo {
			return errors.New("pickle: too many memo entries")
		}
		memo[i] = stack[len(stack)-1]
		return nil
	}
	get := func(i int) error {
		v, ok := memo[i]
		if !ok {
			return fmt.Errorf("pickle: memo entry %d is not set", i)
		}
		return push(v)
	}
	line := func() (string, error) {
		for i := pos; i < len(p); i++ {
			if p[i] == '\n' {
				s := string(p[pos:i])
				pos = i + 1
				return s, nil
			}
		}
		return "", errTrunc
	}

	for {
		if pos >= len(p) {
			return nil, errTrunc
		}
		op := p[pos]
		pos++
		var err error
		switch op {
		case 0x80: // PROTO
			var b []byte
			if b, err = read(1); err == nil && b[0] > 5 {
				err = fmt.Errorf("pickle: protocol %d", b[0])
			}
		case 0x95: // FRAME
			_, err = read(8)
		case '.': // STOP
			if len(stack) != 1 || len(marks) != 0 {
				return nil, fmt.Errorf("pickle: %d values left at STOP", len(stack))
			}
			return stack[0], nil
		case '(': // MARK
			if len(marks) >= maxStack {
				return nil, errors.New("pickle: too many marks")
			}
			marks = append(marks, len(stack))
		case '}': // EMPTY_DICT
			err = push(&dict{})
		case ']': // EMPTY_LIST
			err = push(&list{})
		case ')': // EMPTY_TUPLE
			err = push(tuple{})
		case 't': // TUPLE
			var items []any
			if items, err = popMark(); err == nil {
				err = push(tuple(items))
			}
		case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
			n := int(op - 0x84)
			if len(stack) < n || (len(marks) > 0 && len(stack)-n < marks[len(marks)-1]) {
				return nil, errors.New("pickle: tuple from an empty stack")
			}
			t := append(tuple(nil), stack[len(stack)-n:]...)
			stack = stack[:len(stack)-n]
			err = push(t)
		case 'q': // BINPUT
			var b []byte
			if b, err = read(1); err == nil {
				err = put(int(b[0]))
			}
		case 'r': // LONG_BINPUT
			var b []byte
			if b, err = read(4); err == nil {
				err = put(int(binary.LittleEndian.Uint32(b)))
			}
		case 0x94: // MEMOIZE
			err = put(len(memo))
		case 'h': // BINGET
			var b []byte
			if b, err = read(1); err == nil {
				err = get(int(b[0]))
			}
		case 'j': // LONG_BINGET
			var b []byte
			if b, err = read(4); err == nil {
				err = get(int(binary.LittleEndian.Uint32(b)))
			}
		case 'K': // BININT1
			var b []byte
			if b, err = read(1); err == nil {
				err = push(int64(b[0]))
			}
		case 'M': // BININT2
			var b []byte
			if b, err = read(2); err == nil {
				err = push(int64(binary.LittleEndian.Uint16(b)))
			}
		case 'J': // BININT
			var b []byte
			if b, err = read(4); err == nil {
				err = push(int64(int32(binary.LittleEndian.Uint32(b))))
			}
		case 0x8a: // LONG1
			var b []byte
			if b, err = read(1); err != nil {
				break
			}
			if b, err = read(int(b[0])); err != nil {
				break
			}
			var v int64
			if v, err = longLE(b); err == nil {
				err = push(v)
			}
		case 'G': // BINFLOAT
			var b []byte
			if b, err = read(8); err == nil {
				err = push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case 'N': // NONE
			err = push(nil)
		case 0x88: // NEWTRUE
			err = push(true)
		case 0x89: // NEWFALSE
			err = push(false)
		case 'X': // BINUNICODE
			var b []byte
			if b, err = read(4); err != nil {
				break
			}
			if b, err = read(int(binary.LittleEndian.Uint32(b))); err == nil {
				err = push(string(b))
			}
		case 0x8c: // SHORT_BINUNICODE
			var b []byte
			if b, err = read(1); err != nil {
				break
			}
			if b, err = read(int(b[0])); err == nil {
				err = push(string(b))
			}
		case 'T': // BINSTRING
			var b []byte
			if b, err = read(4); err != nil {
				break
			}
			if b, err = read(int(int32(binary.LittleEndian.Uint32(b)))); err == nil {
				err = push(string(b))
			}
		case 'U': // SHORT_BINSTRING
			var b []byte
			if b, err = read(1); err != nil {
				break
			}
			if b, err = read(int(b[0])); err == nil {
				err = push(string(b))
			}
		case 'c': // GLOBAL
			var mod, name string
			if mod, err = line(); err != nil {
				break
			}
			if name, err = line(); err == nil {
				err = push(global{mod, name})
			}
		case 0x93: // STACK_GLOBAL
			var n, m any
			if n, err = pop(); err != nil {
				break
			}
			if m, err = pop(); err != nil {
				break
			}
			ms, ok1 := m.(string)
			ns, ok2 := n.(string)
			if !ok1 || !ok2 {
				return nil, errors.New("pickle: STACK_GLOBAL of non-strings")
			}
			err = push(global{ms, ns})
		case 'Q': // BINPERSID
			var id any
			if id, err = pop(); err != nil {
				break
			}
			var st *storage
			if st, err = persistent(id); err == nil {
				err = push(st)
			}
		case 'R': // REDUCE
			var args, fn any
			if args, err = pop(); err != nil {
				break
			}
			if fn, err = pop(); err != nil {
				break
			}
			var v any
			if v, err = reduce(fn, args); err == nil {
				err = push(v)
			}
		case 'b': // BUILD: object state; a dict's (its _metadata) is dropped
			var obj any
			if _, err = pop(); err != nil {
				break
			}
			if obj, err = pop(); err != nil {
				break
			}
			if _, ok := obj.(*dict); !ok {
				return nil, fmt.Errorf("pickle: BUILD on %T", obj)
			}
			err = push(obj)
		case 's': // SETITEM
			var k, v, d any
			if v, err = pop(); err != nil {
				break
			}
			if k, err = pop(); err != nil {
				break
			}
			if d, err = pop(); err != nil {
				break
			}
			dd, ok := d.(*dict)
			if !ok {
				return nil, fmt.Errorf("pickle: SETITEM on %T", d)
			}
			dd.set(k, v)
			err = push(dd)
		case 'u': // SETITEMS
			var items []any
			if items, err = popMark(); err != nil {
				break
			}
			var d any
			if d, err = pop(); err != nil {
				break
			}
			dd, ok := d.(*dict)
			if !ok || len(items)%2 != 0 {
				return nil, fmt.Errorf("pickle: SETITEMS on %T with %d items", d, len(items))
			}
			for i := 0; i < len(items); i += 2 {
				dd.set(items[i], items[i+1])
			}
			err = push(dd)
		case 'a': // APPEND
			var v, l any
			if v, err = pop(); err != nil {
				break
			}
			if l, err = pop(); err != nil {
				break
			}
			ll, ok := l.(*list)
			if !ok {
				return nil, fmt.Errorf("pickle: APPEND to %T", l)
			}
			ll.items = append(ll.items, v)
			err = push(ll)
		case 'e': // APPENDS
			var items []any
			if items, err = popMark(); err != nil {
				break
			}
			var l any
			if l, err = pop(); err != nil {
				break
			}
			ll, ok := l.(*list)
			if !ok {
				return nil, fmt.Errorf("pickle: APPENDS to %T", l)
			}
			ll.items = append(ll.items, items...)
			err = push(ll)
		default:
			return nil, fmt.Errorf("pickle: opcode 0x%02x at byte %d is not part of a tensor checkpoint", op, pos-1)
		}
		if err != nil {
			return nil, err
		}
	}
}

// longLE decodes LONG1's little-endian two's-complement bytes.
func longLE(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if !v.IsInt64() {
		return 0, errors.New("pickle: integer out of range")
	}
	return v.Int64(), nil
}

// persistent resolves torch's persistent id ('storage', storage type, key,
// location, numel).
func persistent(id any) (*storage, error) {
	t, ok := id.(tuple)
	if !ok || len(t) != 5 || t[0] != "storage" {
		return nil, fmt.Errorf("pickle: persistent id %v is not a storage", id)
	}
	g, ok1 := t[1].(global)
	key, ok2 := t[2].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return nil, fmt.Errorf("pickle: malformed storage reference %v", id)
	}
	dtype := g.name
	if g.module == "torch" {
		if d, ok := storageTypes[g.name]; ok {
			dtype = d
		}
	}
	return &storage{dtype: dtype, key: key, numel: numel}, nil
}

// reduce applies one of the callables a tensor checkpoint uses.
func reduce(fn, args any) (any, error) {
	g, ok := fn.(global)
	if !ok {
		return nil, fmt.Errorf("pickle: REDUCE of %T", fn)
	}
	a, ok := args.(tuple)
	if !ok {
		return nil, fmt.Errorf("pickle: REDUCE of %s.%s with %T arguments", g.module, g.name, args)
	}
	switch g {
	case global{"collections", "OrderedDict"}:
		if len(a) != 0 {
			return nil, errors.New("pickle: OrderedDict with arguments")
		}
		return &dict{}, nil
	case global{"torch._utils", "_rebuild_tensor_v2"}:
		if len(a) < 4 {
			return nil, errors.New("pickle: _rebuild_tensor_v2 with too few arguments")
		}
		st, ok := a[0].(*storage)
		off, ok2 := a[1].(int64)
		shape, ok3 := ints(a[2])
		stride, ok4 := ints(a[3])
		if !ok || !ok2 || !ok3 || !ok4 || len(shape) != len(stride) || len(shape) > maxDims || off < 0 {
			return nil, errors.New("pickle: malformed _rebuild_tensor_v2 arguments")
		}
		return &tensor{st: st, offset: off, shape: shape, stride: stride}, nil
	case global{"torch._utils", "_rebuild_parameter"}:
		if len(a) < 1 {
			return nil, errors.New("pickle: _rebuild_parameter without a tensor")
		}
		t, ok := a[0].(*tensor)
		if !ok {
			return nil, errors.New("pickle: _rebuild_parameter of a non-tensor")
		}
		return t, nil
	}
	return nil, fmt.Errorf("pickle: the file calls %s.%s, which a checkpoint of tensors does not need (refusing to run it)", g.module, g.name)
}

// ints reads a tuple of integers.
func ints(v any) ([]int64, bool) {
	t, ok := v.(tuple)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}
