package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/fsfault"
)

// killSetup is the run of the kill tests: 200 embedded images in batches
// of 32 (6 steps an epoch), 3 epochs, mixed batches for the first two,
// dropout and drop-path, a checkpoint every 2 steps.
func killSetup(t *testing.T) (train, test *data.Dataset, o Options) {
	train, test = data.Embedded()
	train = train.Subset(seq(200))
	test = test.Subset(seq(50))
	o = recipe()
	o.Epochs, o.LogEvery, o.Replicas = 3, 1, 2
	o.Mix, o.MixOffEpoch = data.Mix{Mixup: 0.8, CutMix: 1}, 2
	o.SaveEvery = Interval{Steps: 2}
	return train, test, o
}

// stall stops a run in the Observer call of step at, after its update and
// before the checkpoint that follows it, so that the parent of
// TestKilledRunResumes kills it there; it does not change what is
// computed.
type stall struct{ at int }

func (stall) EpochStart(int, int, int) {}
func (s stall) Step(st StepStats) {
	if st.Step == s.at {
		time.Sleep(time.Hour)
	}
}
func (stall) EpochEnd(EpochStats) {}

// TestKilledRunChild is the child process of TestKilledRunResumes.
func TestKilledRunChild(t *testing.T) {
	dir := os.Getenv("VIT_TRAIN_KILL_CHILD")
	if dir == "" {
		t.Skip("run by TestKilledRunResumes")
	}
	train, test, o := killSetup(t)
	tr, err := New(tinyModel(t, train, 1), train, test, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	tr.Observer = stall{at: 9}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestKilledRunResumes trains in a child process, kills it with SIGKILL
// in the middle of an epoch after a mid-epoch checkpoint, resumes the run
// and checks that the weights, the optimizer's moments and the metrics log
// end as those of an uninterrupted run, bit for bit.
func TestKilledRunResumes(t *testing.T) {
	train, test, o := killSetup(t)
	whole := filepath.Join(t.TempDir(), "whole")
	tr, err := New(tinyModel(t, train, 1), train, test, o, whole)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	split := filepath.Join(t.TempDir(), "split")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VIT_TRAIN_KILL_CHILD="+split)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The child stalls in step 9 (of 6 an epoch), after its checkpoint of
	// step 8, and is killed there.
	for {
		select {
		case err := <-done:
			t.Fatalf("the child run ended (%v) before its checkpoint of step 8:\n%s", err, out.Bytes())
		case <-time.After(5 * time.Millisecond):
		}
		if st, err := readState(split); err == nil && st.Step == 8 {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Kill() // SIGKILL on Unix
	<-done
	const killedAt = 8

	tr, err = Resume(split, train, test)
	if err != nil {
		t.Fatal(err)
	}
	if s := tr.Step(); s != killedAt {
		t.Fatalf("resumed at step %d, want the mid-epoch checkpoint of step %d", s, killedAt)
	}
	got, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Steps != want.Steps || got.TrainLoss != want.TrainLoss || got.TestAccuracy != want.TestAccuracy || got.TestLoss != want.TestLoss {
		t.Fatalf("resumed run %+v, uninterrupted %+v", got, want)
	}
	sameRuns(t, whole, split)
}

// sameRuns fails unless the run folders a and b hold the same weights and
// optimizer moments, bit for bit, and the same metrics but for times and
// speeds.
func sameRuns(t *testing.T, a, b string) {
	t.Helper()
	for _, file := range []string{checkpoint.WeightsFile, momentsFile} {
		fa, fb := latest(t, a, file), latest(t, b, file)
		if !bytes.Equal(fa, fb) {
			t.Errorf("%s differs between %s and %s", file, a, b)
		}
	}
	ma, mb := metricsOf(t, a), metricsOf(t, b)
	if len(ma) != len(mb) {
		t.Fatalf("metrics logs have %d and %d lines", len(ma), len(mb))
	}
	for i := range ma {
		if !reflect.DeepEqual(ma[i], mb[i]) {
			t.Fatalf("metrics line %d: %v, want %v", i+1, mb[i], ma[i])
		}
	}
}

// latest reads file from the latest checkpoint of the run folder dir.
func latest(t *testing.T, dir, file string) []byte {
	t.Helper()
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, st.Dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metricsOf reads the metrics log of dir without times and speeds, which
// no two runs share; every line must be whole JSON.
func metricsOf(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q: %v", metricsFile, sc.Text(), err)
		}
		for _, k := range []string{"time", "images_per_s", "wall_s"} {
			delete(r, k)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestDivergenceKeepsGoodCheckpoint trains with a learning rate of 1e6:
// the run must stop with an error naming the step and the epoch, and the
// folder's checkpoint must be finite and load.
func TestDivergenceKeepsGoodCheckpoint(t *testing.T) {
	train, test, o := killSetup(t)
	o.LR, o.SaveEvery = 1e6, Interval{Steps: 1}
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(tinyModel(t, train, 1), train, test, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Run(context.Background())
	var d *DivergedError
	if !errors.As(err, &d) {
		t.Fatalf("a run at learning rate 1e6 ended with %v, want a DivergedError", err)
	}
	t.Log(err)
	msg := err.Error()
	if d.Step < 1 || !strings.Contains(msg, fmt.Sprintf("step %d (epoch %d)", d.Step, d.Epoch)) || !strings.Contains(msg, dir) {
		t.Fatalf("error %q does not name the step, the epoch and the checkpoint kept", msg)
	}
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Step >= d.Step {
		t.Fatalf("the checkpoint kept is of step %d, at or after the divergence at step %d", st.Step, d.Step)
	}
	m, err := checkpoint.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if what, v, bad := nonFinite(m.Params()); bad {
		t.Fatalf("the checkpoint kept holds %s = %v", what, v)
	}
	f, err := os.ReadFile(filepath.Join(dir, st.Dir, momentsFile))
	if err != nil || len(f) == 0 {
		t.Fatalf("moments of the checkpoint kept: %v", err)
	}
	if _, err := Resume(dir, train, test); err != nil {
		t.Fatalf("resuming the diverged run: %v", err)
	}
}

// TestFailedSaveKeepsPrevious makes checkpoint writes fail half-way (a
// file-size limit: root cannot bypass it, and it fails as a full disk
// does) after a first mid-epoch checkpoint: the run must stop with an
// error naming the checkpoint and the cause, keep the previous checkpoint
// whole and leave no partial checkpoint folder.
func TestFailedSaveKeepsPrevious(t *testing.T) {
	if !inChild(t) {
		return
	}
	train, test, o := killSetup(t)
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(tinyModel(t, train, 1), train, test, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	// After step 3, the model file (about 80 kB) no longer fits; the
	// metrics log (about 2 kB) still does.
	tr.Observer = limitAt{t: t, step: 3, size: 16 << 10}
	_, err = tr.Run(context.Background())
	if err == nil {
		t.Fatal("the run went on with checkpoints that cannot be written")
	}
	t.Log(err)
	want := filepath.Join(dir, checkpointName(4))
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "file too large") ||
		!strings.Contains(err.Error(), checkpointName(2)) {
		t.Fatalf("error %q does not say where (%s), why, and what is kept", err, want)
	}
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 2 || !slices.Equal(st.Kept, []string{checkpointName(2)}) {
		t.Fatalf("state after the failed save: step %d, checkpoints %v; want step 2 only", st.Step, st.Kept)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{checkpointName(2), metricsFile, stateFile}) {
		t.Fatalf("run folder holds %v after the failed save", names)
	}
	if _, err := Resume(dir, train, test); err != nil {
		t.Fatalf("the previous checkpoint does not resume: %v", err)
	}
}

// inChild reruns the test t in a child process, where a process-wide
// fault (a file-size limit) touches nothing else, such as the go command's
// test log; it reports whether this process is the child, which runs the
// test.
func inChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv("VIT_TEST_CHILD") == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "VIT_TEST_CHILD="+t.Name())
	out, err := cmd.CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("--- SKIP: "+t.Name())) {
		t.Skipf("skipped in the child process:\n%s", out)
	}
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the test in a child process: %v\n%s", err, out)
	}
	t.Logf("the test in a child process:\n%s", out)
	return false
}

// limitAt limits file sizes once the run reaches a step.
type limitAt struct {
	t    *testing.T
	step int
	size uint64
}

func (limitAt) EpochStart(int, int, int) {}
func (l limitAt) Step(s StepStats) {
	if s.Step == l.step {
		fsfault.LimitFileSize(l.t, l.size)
	}
}
func (limitAt) EpochEnd(EpochStats) {}

// TestRunFolderGuards: a new run refuses a folder that holds one; a
// folder killed before its first checkpoint resumes as ErrNoCheckpoint
// and takes a new run; Keep keeps that many checkpoints; Resume refuses
// other data.
func TestRunFolderGuards(t *testing.T) {
	train, test, o := killSetup(t)
	o.Epochs, o.Mix = 1, data.Mix{}
	o.Keep = 2
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(tinyModel(t, train, 1), train, test, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(dir, ckptPrefix+"*"))
	if want := []string{checkpointName(4), checkpointName(6)}; !slices.Equal(st.Kept, want) || len(dirs) != 2 {
		t.Fatalf("Keep 2: state lists %v, the folder holds %v; want %v", st.Kept, dirs, want)
	}
	before, _ := os.ReadFile(filepath.Join(dir, stateFile))
	if _, err := New(tinyModel(t, train, 1), train, test, o, dir); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("a new run into a finished run's folder: %v, want a refusal", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, stateFile)); !bytes.Equal(before, after) {
		t.Fatal("the refused run changed state.json")
	}
	if _, err := Resume(dir, train.Subset(seq(100)), test); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Fatalf("resuming on other data: %v, want a refusal", err)
	}

	early := filepath.Join(t.TempDir(), "early")
	os.MkdirAll(early, 0o755)
	os.WriteFile(filepath.Join(early, metricsFile), []byte(`{"type":"step","step":1}`+"\n{\"ty"), 0o644)
	if _, err := Resume(early, train, test); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("resuming a folder killed before its first checkpoint: %v, want ErrNoCheckpoint", err)
	}
	if _, err := Resume(filepath.Join(t.TempDir(), "absent"), train, test); err == nil || errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("resuming a missing folder: %v", err)
	}
	o.StopAt = 1
	tr, err = New(tinyModel(t, train, 1), train, test, o, early)
	if err != nil {
		t.Fatalf("a new run into a folder killed before its first checkpoint: %v", err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := metricsOf(t, early); len(m) != 1 || m[0]["step"] != 1.0 || m[0]["loss"] == nil {
		t.Fatalf("the new run's log holds %v, want its own first step only", m)
	}

	// A run folder that cannot be made is refused by New, before any training.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, out := range []string{file, filepath.Join(file, "run")} {
		if _, err := New(tinyModel(t, train, 1), train, test, o, out); err == nil || !strings.Contains(err.Error(), out) {
			t.Errorf("a new run into %s: %v, want a refusal naming it", out, err)
		}
	}
}

func TestParseInterval(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Interval
	}{{"500", Interval{Steps: 500}}, {"10m", Interval{Every: 10 * time.Minute}}, {" 90s", Interval{Every: 90 * time.Second}}} {
		got, err := ParseInterval(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseInterval(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if back, err := ParseInterval(got.String()); err != nil || back != got {
			t.Errorf("ParseInterval(%q) = %+v, %v; want %+v", got.String(), back, err, got)
		}
	}
	for _, bad := range []string{"", "0", "-3", "1ms", "soon", "NaN", "1e3"} {
		if _, err := ParseInterval(bad); err == nil {
			t.Errorf("ParseInterval(%q) gave no error", bad)
		}
	}
	if s := (Interval{}).String(); s != "10m0s" {
		t.Errorf("the zero Interval reads %q, want the default 10m0s", s)
	}
	if !(Interval{}).due(1, DefaultSaveEvery) || (Interval{}).due(1, time.Minute) || !(Interval{Steps: 3}).due(6, 0) {
		t.Error("Interval.due")
	}
}

// TestEmptySets: an empty test set is refused before training, not met
// by a panic in the evaluation after the first epoch.
func TestEmptySets(t *testing.T) {
	train, test, o := killSetup(t)
	if _, err := New(tinyModel(t, train, 1), train, test.Subset(nil), o, ""); err == nil || !strings.Contains(err.Error(), "test set") {
		t.Fatalf("an empty test set: %v, want an error", err)
	}
	if _, err := New(tinyModel(t, train, 1), train.Subset(nil), test, o, ""); err == nil {
		t.Fatal("an empty training set gave no error")
	}
}

// Resume refuses a state.json no run writes, naming it, before it trains or
// prunes anything: a checkpoint that is not the one of the step (a negative
// step trained at a learning rate of −Inf), kept checkpoints outside the
// run (pruning would delete them), negative counts, an augmentation the
// loader panics on.
func TestResumeRefusesCorruptState(t *testing.T) {
	train, test, o := killSetup(t)
	o.Epochs, o.Mix = 1, data.Mix{}
	dir := filepath.Join(t.TempDir(), "run")
	tr, err := New(tinyModel(t, train, 1), train, test, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(filepath.Dir(dir), "victim")
	os.MkdirAll(victim, 0o755)
	good, _ := os.ReadFile(filepath.Join(dir, stateFile))
	for name, mutate := range map[string]func(st map[string]any){
		"negative step":   func(st map[string]any) { st["step"] = -5 },
		"step past ckpt":  func(st map[string]any) { st["step"] = 50 },
		"kept outside":    func(st map[string]any) { st["checkpoints"] = []string{"../victim", st["checkpoint"].(string)} },
		"kept later":      func(st map[string]any) { st["checkpoints"] = []string{checkpointName(99), st["checkpoint"].(string)} },
		"negative images": func(st map[string]any) { st["images"] = -1 },
		"negative log":    func(st map[string]any) { st["metrics_bytes"] = -10 },
		"negative pad": func(st map[string]any) {
			st["options"].(map[string]any)["augment"] = map[string]any{"PadCrop": -3}
		},
		"erasing 5": func(st map[string]any) {
			st["options"].(map[string]any)["augment"] = map[string]any{"RandomErasing": 5}
		},
	} {
		var st map[string]any
		if err := json.Unmarshal(good, &st); err != nil {
			t.Fatal(err)
		}
		mutate(st)
		b, _ := json.Marshal(st)
		os.WriteFile(filepath.Join(dir, stateFile), b, 0o644)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic %v", name, p)
				}
			}()
			r, err := Resume(dir, train, test)
			if err == nil {
				_, err = r.Run(context.Background())
				t.Errorf("%s: resumed (run: %v), want a refusal", name, err)
			}
		}()
		if _, err := os.Stat(victim); err != nil {
			t.Fatalf("%s: a folder outside the run was removed", name)
		}
	}
}
