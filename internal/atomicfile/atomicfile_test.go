package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	err := WriteFile(p, func(w io.Writer) error {
		_, err := io.WriteString(w, "hello")
		return err
	}, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello" {
		t.Fatalf("content = %q, want %q", got, "hello")
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
		}
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("directory has %v, want only out.bin", names)
	}
}

func TestWriteFileReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(p, []byte("old contents that are longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(p, func(w io.Writer) error {
		_, err := io.WriteString(w, "new")
		return err
	}, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "new" {
		t.Fatalf("content = %q, want %q", got, "new")
	}
}

func TestWriteFileFailMidway(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ckpt")
	const old = "precious old checkpoint"
	if err := os.WriteFile(p, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFile(p, func(w io.Writer) error {
		if _, err := io.WriteString(w, strings.Repeat("partial", 10000)); err != nil {
			return err
		}
		return boom
	}, 0o644)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != old {
		t.Fatalf("old file modified: %q", got)
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "ckpt" {
		t.Errorf("temporary file left behind: %v", names)
	}
}

func TestWriteFilePanicLeavesNoTemp(t *testing.T) {
	// A panic in write propagates, but the temporary file must still be
	// removed and the old file left intact.
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o644)
	func() {
		defer func() { recover() }()
		WriteFile(p, func(w io.Writer) error {
			io.WriteString(w, "x")
			panic("write panicked")
		}, 0o644)
	}()
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("old file modified: %q", got)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("temporary file left behind: %v", names)
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "dir", "f")
	err := WriteFile(p, func(w io.Writer) error { return nil }, 0o644)
	if err == nil {
		t.Fatal("expected error for missing directory")
	}
}

func TestWriteFileNilFunc(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(p, nil, 0o644); err == nil {
		t.Fatal("expected error for nil write function")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("file created despite error: %v", err)
	}
}

func TestWriteFileRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := WriteFile("rel.txt", func(w io.Writer) error {
		_, err := io.WriteString(w, "ok")
		return err
	}, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "rel.txt"))
	if string(got) != "ok" {
		t.Fatalf("content = %q", got)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if err := CheckWritable(filepath.Join(dir, "out.jsonl")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{dir, filepath.Join(dir, "no", "out.jsonl"), filepath.Join(file, "out.jsonl")} {
		if err := CheckWritable(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("CheckWritable(%s) = %v, want an error naming it", bad, err)
		}
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("CheckWritable left %v", names)
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, good := range []string{dir, filepath.Join(dir, "new"), filepath.Join(dir, "new", "deeper")} {
		if err := CheckDir(good); err != nil {
			t.Errorf("CheckDir(%s): %v", good, err)
		}
	}
	for _, bad := range []string{file, filepath.Join(file, "out"), filepath.Join(file, "out", "deeper")} {
		if err := CheckDir(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("CheckDir(%s) = %v, want an error naming it", bad, err)
		}
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("CheckDir left %v", names)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		for _, bad := range []string{ro, filepath.Join(ro, "out")} {
			if err := CheckDir(bad); err == nil || !strings.Contains(err.Error(), bad) {
				t.Errorf("CheckDir(%s) = %v, want an error naming it", bad, err)
			}
		}
		os.Chmod(ro, 0o755)
	}
}

// A File streams into a temporary file: the path is untouched until
// Commit, and Abort leaves it as it was, with no temporary file.
func TestCreateCommitAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shard.jsonl")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new\n"))
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Fatalf("before Commit the path holds %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 || !IsTemp(ents[0].Name(), "shard.jsonl") || IsTemp("shard.jsonl", "shard.jsonl") {
		t.Fatalf("while writing the folder holds %v", ents)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Fatalf("after Commit the path holds %q", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", st.Mode().Perm())
	}
	if _, err := f.Write([]byte("late")); err == nil {
		t.Fatal("a write after Commit was taken")
	}
	f.Abort() // no effect after Commit

	g, err := Create(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	g.Write([]byte("dropped\n"))
	g.Abort()
	if err := g.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Fatalf("after Abort the path holds %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("after Abort the folder holds %v", ents)
	}
}
