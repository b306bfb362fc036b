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
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	tmp := f.Name()
	closed, renamed := false, false
	defer func() {
		// Runs on error returns and on panics from write alike.
		if !renamed {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriterSize(f, 64<<10)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	renamed = true
	// The rename succeeded; the new file is in place. A failure to sync
	// the directory is reported but the temp file no longer exists.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("atomicfile: sync dir: %w", err)
	}
	return nil
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
