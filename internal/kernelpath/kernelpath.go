// Package kernelpath is a test hook: it lets this module's tests run the
// whole model on each set of kernel paths the build can choose, not only on
// the set package kernels picks for this CPU.
//
// Package kernels chooses at run time, per family of operations, between
// assembly paths (AVX-512, AVX512_BF16, AVX2+FMA) and portable Go. A CPU
// makes one choice for all families at once: a set, such as "avx2" for a
// machine with AVX2 and FMA but no AVX-512. Package kernels registers its
// sets here when it initialises; tests list them with Sets and switch to
// one with Force (package kernelpathtest wraps both for tests).
//
// Nothing but tests may call Force: it changes what every caller of
// package kernels runs, and must never happen while a kernel runs.
package kernelpath

// Set is a choice of path for every kernel family, as one kind of CPU
// makes it.
type Set struct {
	// Name is the set's name: "avx512bf16", "avx512", "avx2", "go", or
	// "default" for a choice of this CPU that no named set makes.
	Name string
	// Paths names the path of each family in the set, such as
	// "gemm/avx2", "bf16/fp32-kernel", "elementwise/go".
	Paths []string
	// Default reports whether package kernels makes this choice by itself
	// on this CPU (exactly one set has it).
	Default bool
	// Lacks lists the CPU features the set needs and this CPU lacks
	// ("AVX512_BF16", comma-separated), or is "" when the set runs here.
	Lacks string
	// NotBuilt reports whether this build leaves the set's assembly out
	// (the purego tag, or not amd64); then Lacks is "" and the set does not
	// run.
	NotBuilt bool
}

// Runs reports whether the set can be forced on this CPU and build.
func (s Set) Runs() bool { return s.Lacks == "" && !s.NotBuilt }

// Hooks are what package kernels registers.
type Hooks struct {
	// Sets lists every set of the build, the default first.
	Sets func() []Set
	// Force makes package kernels choose the paths of the named set until
	// restore is called. It panics if another set is forced, or if a
	// kernel is running on the worker pool.
	Force func(name string) (restore func(), err error)
}

var hooks *Hooks

// Register installs package kernels' hooks; only package kernels calls it,
// once, from an init function.
func Register(h Hooks) {
	if hooks != nil {
		panic("kernelpath: registered twice")
	}
	hooks = &h
}

// Sets lists the kernel path sets of this build, the default one first.
func Sets() []Set {
	return registered().Sets()
}

// Force makes package kernels choose the paths of the set named name, until
// restore is called. It returns an error for an unknown set or one that
// cannot run here (Set.Runs).
//
// Force and restore must not be called while any kernel runs, in any
// goroutine, and sets cannot be nested: a test that forces a set must not
// run in parallel with any other test of its package (no t.Parallel). Force
// panics when it finds a set forced already or the worker pool busy.
// Values made under one set keep its paths: weights packed with
// kernels.PackB run on the set of the PackB call, so pack after Force.
func Force(name string) (restore func(), err error) {
	return registered().Force(name)
}

// Default returns the set package kernels chooses by itself on this CPU.
func Default() Set {
	for _, s := range Sets() {
		if s.Default {
			return s
		}
	}
	panic("kernelpath: no default set registered")
}

func registered() *Hooks {
	if hooks == nil {
		panic("kernelpath: package kernels is not linked into this program; import it")
	}
	return hooks
}
