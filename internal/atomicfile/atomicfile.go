// Package atomicfile writes files atomically: readers of the destination
// path observe either the complete old contents or the complete new
// contents, never a partial write.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteFile writes the data produced by write to path atomically.
// The writer passed to write is buffered; write need not add its own
// buffering.
//
// The data is written to a temporary file in the same directory as path,
// flushed to stable storage with fsync, and then renamed over path. The
// containing directory is synced afterwards so the rename itself is
// durable. The final file has mode perm; unlike os.WriteFile, the umask
// is not applied. If path is a symbolic link, the link itself is replaced.
//
// If write returns an error (or panics), or any step before the rename
// fails, the temporary file is removed and any existing file at path is
// left untouched. Errors returned by write are returned unwrapped.
func WriteFile(path string, write func(w io.Writer) error, perm os.FileMode) error {
	if write == nil {
		return errors.New("atomicfile: nil write function")
	}
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort() // on error returns and on panics from write alike
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}

// File is a file being written atomically, for writers that stream into it
// over a long time (a shard of results): its bytes go to a temporary file
// beside path, and Commit puts them at path as WriteFile does. Until then
// path is untouched; Abort (or a crash) leaves at most the temporary file,
// named "."+base(path)+".tmp*". A File belongs to one goroutine.
type File struct {
	path, tmp string
	perm      os.FileMode
	f         *os.File
	w         *bufio.Writer
	done      bool
}

// Create starts writing path atomically with mode perm: Write to the
// returned File, then Commit, or Abort to give up.
func Create(path string, perm os.FileMode) (*File, error) {
	f, err := os.CreateTemp(dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("atomicfile: %w", err)
	}
	return &File{path: path, tmp: f.Name(), perm: perm, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Write writes p, buffered, to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.done {
		return 0, fmt.Errorf("atomicfile: write to %s after Commit or Abort", f.path)
	}
	return f.w.Write(p)
}

// Commit flushes what was written to stable storage and renames it over
// the path, then syncs the folder so that the rename is durable. After an
// error before the rename the temporary file is removed and path is
// untouched.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("atomicfile: %s committed or aborted already", f.path)
	}
	err := f.w.Flush()
	if err == nil {
		err = f.f.Chmod(f.perm)
	}
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.tmp, f.path)
	}
	f.done = true
	if err != nil {
		os.Remove(f.tmp)
		return fmt.Errorf("atomicfile: %w", err)
	}
	// The rename succeeded; the new file is in place. A failure to sync
	// the directory is reported but the temp file no longer exists.
	if err := syncDir(dir(f.path)); err != nil {
		return fmt.Errorf("atomicfile: sync dir: %w", err)
	}
	return nil
}

// Abort removes the temporary file, leaving path as it was. It does
// nothing after Commit or a first Abort, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	os.Remove(f.tmp)
}

// IsTemp reports whether name (a base name) is a temporary file Create
// left beside target (a base name) when it was neither committed nor
// aborted, as after a crash.
func IsTemp(name, target string) bool {
	return strings.HasPrefix(name, "."+target+".tmp")
}

// dir is path's folder, "." for a bare name.
func dir(path string) string {
	d, _ := filepath.Split(path)
	if d == "" {
		return "."
	}
	return d
}

// CheckWritable reports, before any long work, whether WriteFile could
// write path: path is not a folder, and its folder exists and takes a new
// file (a temporary one, created and removed). The error names path and
// says what is wrong.
func CheckWritable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a folder: name a file", path)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("cannot write %s: its folder %s does not exist (create it first)", path, dir)
	} else if !st.IsDir() {
		return fmt.Errorf("cannot write %s: %s is not a folder", path, dir)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// CheckDir reports, before any long work, whether files could be written
// into the folder dir: dir is a folder that takes a new file, or does not
// exist yet and could be created (its nearest existing parent is a folder
// that takes a new entry). It creates nothing that it leaves behind. The
// error names dir and says what is wrong.
func CheckDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	probe := dir // the nearest folder that exists: dir or a parent
	for {
		st, err := os.Stat(probe)
		if err == nil {
			if !st.IsDir() {
				if probe == dir {
					return fmt.Errorf("%s is a file: name a folder", dir)
				}
				return fmt.Errorf("cannot create the folder %s: %s is a file", dir, probe)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot write into %s: %w", dir, err)
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			return fmt.Errorf("cannot create the folder %s: %w", dir, err)
		}
		probe = parent
	}
	f, err := os.CreateTemp(probe, ".vit-check*")
	if err != nil {
		if probe == dir {
			return fmt.Errorf("cannot write into %s: %w", dir, err)
		}
		return fmt.Errorf("cannot create the folder %s: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// SyncDir fsyncs the directory dir so that the creation, renaming or
// removal of its entries is durable. Platforms that cannot open or sync
// directories are tolerated.
func SyncDir(dir string) error { return syncDir(dir) }

// syncDir is SyncDir.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return err
	}
	return nil
}

func isUnsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || isSyncDirUnsupported(err)
}
