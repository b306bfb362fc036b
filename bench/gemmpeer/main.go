// Command gemmpeer measures vit's float32 GEMM (kernels.Sgemm, and
// kernels.SgemmSerial over the heads for attention) against OpenBLAS on the
// same shapes, with the same number of threads, in one run, and prints a
// Markdown table of GFLOP/s and the ratio.
//
//	bench/gemm_peer.sh [flags]     # or: go run ./bench/gemmpeer [flags]
//
// The OpenBLAS side is peer.py (embedded), run with -python: torch.mm and
// torch.bmm when torch is installed, else numpy.matmul (Debian: apt-get
// install python3-numpy libopenblas0-pthread, or python3-torch). The peer's
// environment fixes its thread count (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS
// = -threads), asks OpenMP to wait passively, and drops OPENBLAS_CORETYPE
// and OPENBLAS_L2_SIZE, which pin OpenBLAS to older kernels; -blas-path is
// put first on LD_LIBRARY_PATH to choose the OpenBLAS build (Debian:
// /usr/lib/x86_64-linux-gnu/openblas-pthread or openblas-openmp). The
// table's header names the library the peer loaded and its core type.
//
// Check that core type: OpenBLAS picks its kernels from the CPU's model
// number, and on a CPU newer than the build (Debian's 0.3.21 on recent
// Xeons) it falls back to generic SSE kernels ("Prescott") that run 4–8×
// below its AVX-512 ones, which would flatter vit. The table then carries a
// warning, and -coretype (OPENBLAS_CORETYPE: Cooperlake for AVX-512 with
// BF16, SkylakeX for AVX-512, Haswell or Zen for AVX2) gives the peer its
// proper kernels.
//
// Shapes are ViT-B/16 at batch 8 (1,576 = 8·197 tokens, width 768, MLP
// 3072, 12 heads of 64): C[m, n] = A[m, k]·B[k, n] for the attention
// output projection, the fused qkv projection, fc1 and fc2, and the two
// attention products of all 96 heads (QKᵀ with K stored as rows, P·V).
// Each side is timed for -seconds per shape, after a warm-up; the two sides
// alternate for -rounds rounds, and the table gives the median over rounds
// of each round's median call time. Run it on a quiet machine: nothing
// else may use the cores.
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/vitgo/vit/kernels"
)

//go:embed peer.py
var peerScript []byte

// shape is one product: batch independent C[m, n] = A[m, k]·op(B), op(B)
// = Bᵀ with B stored [n, k] when TransB. Field names are peer.py's.
type shape struct {
	Name   string `json:"name"`
	M      int    `json:"m"`
	N      int    `json:"n"`
	K      int    `json:"k"`
	Batch  int    `json:"batch"`
	TransB bool   `json:"trans_b"`
}

func (s shape) flop() float64 {
	return 2 * float64(s.Batch) * float64(s.M) * float64(s.N) * float64(s.K)
}

// vitB8 are the products of ViT-B/16 at batch 8.
var vitB8 = []shape{
	{"proj", 1576, 768, 768, 1, false},
	{"qkv", 1576, 2304, 768, 1, false},
	{"fc1", 1576, 3072, 768, 1, false},
	{"fc2", 1576, 768, 3072, 1, false},
	{"attn QKᵀ", 197, 197, 64, 96, true},
	{"attn PV", 197, 64, 197, 96, false},
}

// timing is one side's result on one shape in one round.
type timing struct {
	Name    string  `json:"name"`
	MedianS float64 `json:"median_s"`
	MinS    float64 `json:"min_s"`
	Calls   int     `json:"calls"`
}

// peerOut is peer.py's output.
type peerOut struct {
	Info struct {
		Peer     string   `json:"peer"`
		Threads  int      `json:"threads"`
		BLASLibs []string `json:"blas_libs"`
		OpenBLAS *struct {
			Config   string `json:"config"`
			Corename string `json:"corename"`
			Threads  int    `json:"threads"`
		} `json:"openblas"`
	} `json:"info"`
	Rows []timing `json:"rows"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gemmpeer: ")
	threads := flag.Int("threads", runtime.NumCPU(), "threads on both sides (GOMAXPROCS and kernels.Workers; OMP/OpenBLAS threads)")
	seconds := flag.Float64("seconds", 3, "time each shape on each side for about this long per round")
	rounds := flag.Int("rounds", 3, "rounds, each timing every shape on both sides")
	python := flag.String("python", "/usr/bin/python3", "the Python that runs the peer")
	peer := flag.String("peer", "auto", "the peer's library: torch, numpy, or auto (torch if installed)")
	blasPath := flag.String("blas-path", "", "a folder put first on the peer's LD_LIBRARY_PATH to choose its BLAS (Debian: /usr/lib/x86_64-linux-gnu/openblas-pthread)")
	coretype := flag.String("coretype", "", "OPENBLAS_CORETYPE for the peer, when OpenBLAS does not recognise the CPU (see the table's warning); empty lets OpenBLAS choose")
	jsonOut := flag.String("json", "", "also write every timing to this JSON file")
	flag.Parse()
	if *threads < 1 || *seconds <= 0 || *rounds < 1 {
		log.Fatal("-threads and -rounds must be at least 1, -seconds positive")
	}
	runtime.GOMAXPROCS(*threads)
	kernels.Workers = *threads

	script := filepath.Join(os.TempDir(), fmt.Sprintf("vit-gemmpeer-%d.py", os.Getpid()))
	if err := os.WriteFile(script, peerScript, 0o644); err != nil {
		log.Fatal(err)
	}
	defer os.Remove(script)

	ours := map[string][]timing{}
	theirs := map[string][]timing{}
	var info peerOut
	for r := range *rounds {
		fmt.Fprintf(os.Stderr, "round %d/%d: vit\n", r+1, *rounds)
		for _, s := range vitB8 {
			t := timeOurs(s, *seconds)
			ours[s.Name] = append(ours[s.Name], t)
			fmt.Fprintf(os.Stderr, "  %-10s %7.1f GFLOP/s\n", s.Name, s.flop()/t.MedianS/1e9)
		}
		fmt.Fprintf(os.Stderr, "round %d/%d: peer\n", r+1, *rounds)
		out, err := runPeer(*python, script, *peer, *blasPath, *coretype, *threads, *seconds)
		if err != nil {
			log.Fatal(err)
		}
		info = out
		for _, t := range out.Rows {
			theirs[t.Name] = append(theirs[t.Name], t)
		}
	}
	fmt.Print(table(info, ours, theirs, *threads, *seconds, *rounds))
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"threads": *threads, "seconds": *seconds, "shapes": vitB8,
			"vit": ours, "peer": theirs, "peer_info": info.Info, "cpu": cpuName()}, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// timeOurs times vit's product s for about seconds after a warm-up, the
// way the model calls it: Sgemm for one product, SgemmSerial per head
// spread over the workers for a batch. It checks a few entries of C
// against a float64 dot product first.
func timeOurs(s shape, seconds float64) timing {
	r := rand.New(rand.NewPCG(1, 1))
	a, b := randn(r, s.Batch*s.M*s.K), randn(r, s.Batch*s.K*s.N)
	c := make([]float32, s.Batch*s.M*s.N)
	ldb := s.N
	if s.TransB {
		ldb = s.K
	}
	call := func() {
		if s.Batch == 1 {
			kernels.Sgemm(false, s.TransB, s.M, s.N, s.K, 1, a, s.K, b, ldb, 0, c, s.N)
			return
		}
		kernels.ParallelFor(s.Batch, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.SgemmSerial(false, s.TransB, s.M, s.N, s.K, 1, a[i*s.M*s.K:], s.K, b[i*s.K*s.N:], ldb, 0, c[i*s.M*s.N:], s.N)
			}
		})
	}
	call()
	if err := check(s, a, b, c, ldb); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		call()
	}
	var ts []float64
	end := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	for {
		t0 := time.Now()
		call()
		t1 := time.Now()
		ts = append(ts, t1.Sub(t0).Seconds())
		if !t1.Before(end) && len(ts) >= 3 {
			break
		}
	}
	sort.Float64s(ts)
	return timing{Name: s.Name, MedianS: ts[len(ts)/2], MinS: ts[0], Calls: len(ts)}
}

// check compares 64 random entries of C with float64 dot products.
func check(s shape, a, b, c []float32, ldb int) error {
	r := rand.New(rand.NewPCG(2, 2))
	for range 64 {
		p, i, j := r.IntN(s.Batch), r.IntN(s.M), r.IntN(s.N)
		var want, scale float64
		for l := range s.K {
			bv := b[p*s.K*s.N+l*ldb+j]
			if s.TransB {
				bv = b[p*s.K*s.N+j*ldb+l]
			}
			x := float64(a[p*s.M*s.K+i*s.K+l]) * float64(bv)
			want += x
			scale += math.Abs(x)
		}
		if got := float64(c[p*s.M*s.N+i*s.N+j]); math.Abs(got-want) > 1e-5*scale+1e-6 {
			return fmt.Errorf("%s: C[%d][%d][%d] = %g, want %g: the product is wrong", s.Name, p, i, j, got, want)
		}
	}
	return nil
}

func randn(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// runPeer runs peer.py once over every shape.
func runPeer(python, script, peer, blasPath, coretype string, threads int, seconds float64) (peerOut, error) {
	shapes, _ := json.Marshal(vitB8)
	cmd := exec.Command(python, script, "--shapes", string(shapes), "--peer", peer,
		"--threads", fmt.Sprint(threads), "--seconds", fmt.Sprint(seconds))
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY":
			continue
		case "LD_LIBRARY_PATH":
			if blasPath != "" {
				continue
			}
		}
		env = append(env, kv)
	}
	n := fmt.Sprint(threads)
	if coretype != "" {
		env = append(env, "OPENBLAS_CORETYPE="+coretype)
	}
	env = append(env, "OMP_NUM_THREADS="+n, "OPENBLAS_NUM_THREADS="+n, "MKL_NUM_THREADS="+n, "OMP_WAIT_POLICY=PASSIVE")
	if blasPath != "" {
		env = append(env, "LD_LIBRARY_PATH="+strings.Join(slices.DeleteFunc([]string{blasPath, os.Getenv("LD_LIBRARY_PATH")}, func(s string) bool { return s == "" }), ":"))
	}
	cmd.Env = env
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return peerOut{}, fmt.Errorf("the peer (%s %s): %v", python, script, err)
	}
	var out peerOut
	if err := json.Unmarshal(b, &out); err != nil {
		return peerOut{}, fmt.Errorf("the peer's output %q: %v", b, err)
	}
	if len(out.Rows) != len(vitB8) {
		return peerOut{}, fmt.Errorf("the peer timed %d shapes, want %d", len(out.Rows), len(vitB8))
	}
	return out, nil
}

// table is the Markdown report: a header naming both sides, then per shape
// the median GFLOP/s of each side (best in parentheses) and their ratio.
func table(info peerOut, ours, theirs map[string][]timing, threads int, seconds float64, rounds int) string {
	var b strings.Builder
	blas := strings.Join(info.Info.BLASLibs, ", ")
	if ob := info.Info.OpenBLAS; ob != nil {
		blas = fmt.Sprintf("%s (core %s, %d threads)", ob.Config, ob.Corename, ob.Threads)
	}
	fmt.Fprintf(&b, "GEMM, float32, %d threads each side, %s; %d rounds of %gs per shape per side (go run ./bench/gemmpeer)\n\n", threads, cpuName(), rounds, seconds)
	fmt.Fprintf(&b, "- vit: kernels.Sgemm (attention: SgemmSerial per head over kernels.ParallelFor), %s, %s\n", runtime.Version(), simd())
	fmt.Fprintf(&b, "- peer: %s, BLAS %s\n\n", info.Info.Peer, blas)
	if ob := info.Info.OpenBLAS; ob != nil {
		if want := properCore(); want != "" && slices.Contains(genericCores, strings.ToLower(ob.Corename)) {
			fmt.Fprintf(&b, "**WARNING: OpenBLAS runs its generic %s kernels (no AVX2), though the %s: the peer is handicapped. Rerun with -coretype %s.**\n\n",
				ob.Corename, simd(), want)
		}
	}
	b.WriteString("| product | m×n×k | batch | vit GFLOP/s | OpenBLAS GFLOP/s | vit / OpenBLAS |\n|---|---|---:|---:|---:|---:|\n")
	for _, s := range vitB8 {
		om, ob := medianOf(ours[s.Name])
		pm, pb := medianOf(theirs[s.Name])
		fmt.Fprintf(&b, "| %s | %d×%d×%d%s | %d | %.1f (%.1f) | %.1f (%.1f) | %.2f |\n", s.Name, s.M, s.N, s.K, map[bool]string{true: " (Bᵀ)"}[s.TransB], s.Batch,
			s.flop()/om/1e9, s.flop()/ob/1e9, s.flop()/pm/1e9, s.flop()/pb/1e9, pm/om)
	}
	b.WriteString("\nGFLOP/s: median over rounds of each round's median call (best call in parentheses).\n")
	return b.String()
}

// medianOf returns the median over rounds of the median call time, and
// the best call time.
func medianOf(ts []timing) (median, best float64) {
	var m []float64
	best = math.Inf(1)
	for _, t := range ts {
		m = append(m, t.MedianS)
		best = min(best, t.MinS)
	}
	sort.Float64s(m)
	return m[len(m)/2], best
}

// genericCores are OpenBLAS core types without AVX2, lower-cased.
var genericCores = []string{"prescott", "katmai", "coppermine", "northwood", "core2", "penryn", "dunnington", "nehalem", "atom", "barcelona", "opteron", "generic"}

// properCore is the OPENBLAS_CORETYPE that suits this CPU, or "" if it has
// no AVX2.
func properCore() string {
	switch {
	case cpu.X86.HasAVX512BF16:
		return "Cooperlake"
	case cpu.X86.HasAVX512F:
		return "SkylakeX"
	case cpu.X86.HasAVX2:
		return "Haswell"
	}
	return ""
}

func simd() string {
	switch {
	case cpu.X86.HasAVX512F:
		return "CPU has AVX-512"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "CPU has AVX2+FMA, no AVX-512"
	}
	return "CPU has neither AVX2 nor AVX-512 (portable Go kernel)"
}

// cpuName is the CPU's model name from /proc/cpuinfo, or GOARCH.
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
