package kernels

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vitgo/vit/internal/kernelpath"
)

// A pathSet is a choice of path for every kernel family, as one kind of
// CPU makes it: the fp32 microkernel (Sgemm, SgemmSerial, attention heads,
// F32 packed products), the bf16-pair kernel of BF16 packed products (nil:
// they run on mk with bf16-rounded operands), and whether bf16 conversion,
// the elementwise operations and LayerNorm take their AVX2 loops.
//
// The tests of the module run the whole model on every set of the build
// that the CPU can run, through package internal/kernelpath.
type pathSet struct {
	name                        string
	needs                       []cpuFeature // CPU features the set runs on
	mk                          *microKernel
	bk                          *bf16Kernel
	avx2BF16, avx2Act, avx2Norm bool
}

// cpuFeature is one CPU feature a path needs, as the CPU vendors name it.
type cpuFeature struct {
	name string
	have bool
}

// missingFeatures lists the features of needs this CPU lacks,
// comma-separated, "" when it has them all.
func missingFeatures(needs []cpuFeature) string {
	var lack []string
	for _, f := range needs {
		if !f.have {
			lack = append(lack, f.name)
		}
	}
	return strings.Join(lack, ", ")
}

// paths names the path of each family in s.
func (s pathSet) paths() []string {
	bf16 := "bf16/fp32-kernel"
	if s.bk != nil {
		bf16 = "bf16/" + s.bk.name
	}
	return []string{"gemm/" + s.mk.name, bf16, onOff("bf16-convert", s.avx2BF16),
		onOff("elementwise", s.avx2Act), onOff("layernorm", s.avx2Norm)}
}

func onOff(family string, avx2 bool) string {
	if avx2 {
		return family + "/avx2"
	}
	return family + "/go"
}

// same reports whether s and o choose the same paths.
func (s pathSet) same(o pathSet) bool {
	return s.mk == o.mk && s.bk == o.bk && s.avx2BF16 == o.avx2BF16 && s.avx2Act == o.avx2Act && s.avx2Norm == o.avx2Norm
}

// goPaths is the set of a CPU without AVX2: portable Go everywhere.
var goPaths = pathSet{name: "go", mk: kernelGo}

// startPaths are the paths the dispatchers choose at start-up, but for
// the bf16 kernel, which they choose by timing on first use.
var startPaths = currentSwitches()

// defaultPaths returns the path set the dispatchers choose by themselves
// on this CPU, named "default".
func defaultPaths() pathSet {
	defaultOnce.Do(func() {
		s := startPaths
		s.name, s.bk = "default", nativeBF16Kernel()
		defaultSet = s
	})
	return defaultSet
}

var (
	defaultOnce sync.Once
	defaultSet  pathSet
)

// forced is set while a path set is forced.
var forced atomic.Bool

func init() {
	kernelpath.Register(kernelpath.Hooks{Sets: listPathSets, Force: forcePathSet})
}

// listPathSets lists the sets of this build for package kernelpath: the
// default first (under the name of the named set it equals, or "default"),
// then the others, each with the features this CPU lacks for it.
func listPathSets() []kernelpath.Set {
	def := defaultPaths()
	entry := func(s pathSet) kernelpath.Set {
		return kernelpath.Set{Name: s.name, Paths: s.paths(), Default: s.same(def), Lacks: missingFeatures(s.needs)}
	}
	var first kernelpath.Set
	var rest []kernelpath.Set
	found := false
	for _, s := range buildPathSets() {
		e := entry(s)
		if e.Default && !found {
			first, found = e, true
			continue
		}
		e.Default = false
		rest = append(rest, e)
	}
	if !found {
		first = entry(def)
	}
	for _, name := range pathSetsNotBuilt {
		rest = append(rest, kernelpath.Set{Name: name, NotBuilt: true})
	}
	return append([]kernelpath.Set{first}, rest...)
}

// findPathSet returns the set of this build named name.
func findPathSet(name string) (pathSet, bool) {
	if name == "default" {
		return defaultPaths(), true
	}
	for _, s := range buildPathSets() {
		if s.name == name {
			return s, true
		}
	}
	return pathSet{}, false
}

// forcePathSet makes the dispatchers choose the paths of the set named
// name until restore is called (see kernelpath.Force).
func forcePathSet(name string) (restore func(), err error) {
	s, ok := findPathSet(name)
	if !ok {
		for _, n := range pathSetsNotBuilt {
			if n == name {
				return nil, fmt.Errorf("kernels: path set %s is not in this build (%s)", name, buildTags)
			}
		}
		return nil, fmt.Errorf("kernels: no path set %q", name)
	}
	if lack := missingFeatures(s.needs); lack != "" {
		return nil, fmt.Errorf("kernels: path set %s needs %s, which this CPU lacks", name, lack)
	}
	defaultPaths()
	if !forced.CompareAndSwap(false, true) {
		panic("kernels: a kernel path set is forced already: tests that force path sets must not run in parallel")
	}
	if poolBusy() {
		forced.Store(false)
		panic("kernels: path set " + name + " forced while kernels run on the worker pool")
	}
	old := currentSwitches()
	old.bk = nativeBF16.bk
	setPaths(s)
	return func() {
		if poolBusy() {
			panic("kernels: paths restored after set " + name + " while kernels run on the worker pool")
		}
		setPaths(old)
		forced.Store(false)
	}, nil
}

// poolBusy reports whether a kernel is running on the worker pool, where
// a change of paths would race with it: a helper at work, or a Partition.
func poolBusy() bool {
	if partitions.Load() > 0 {
		return true
	}
	if hs := helpers.Load(); hs != nil {
		for _, h := range *hs {
			if !h.idle.Load() {
				return true
			}
		}
	}
	return false
}
