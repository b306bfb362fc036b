package batchrun

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/vitgo/vit/imageio"
)

// imageExts are the file name extensions taken as images in folders
// without opening the file.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true, ".webp": true}

// ImageExts lists the extensions of image files: ".bmp, .gif, …".
func ImageExts() string {
	exts := make([]string, 0, len(imageExts))
	for e := range imageExts {
		exts = append(exts, e)
	}
	slices.Sort(exts)
	return strings.Join(exts, ", ")
}

// isImage reports whether the file at path, met in a folder, is an
// image: its extension is an image one, or else its first bytes are those
// of an image format (imageio.Sniff).
func isImage(path string) bool {
	if imageExts[strings.ToLower(filepath.Ext(path))] {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, imageio.SniffLen)
	n, _ := io.ReadFull(f, head)
	return imageio.Sniff(head[:n]) != ""
}

// Expand turns one command-line argument into image files, in a stable
// order:
//   - a folder: its image files (isImage), walked recursively in lexical
//     order; a folder without any is an error;
//   - a glob (an argument that names no file and holds *, ? or [): the
//     matches, in lexical order, folders among them walked as above; a
//     glob matching nothing is an error (filepath.Match's syntax: * does
//     not cross folders, and there is no **; name the folder to recurse);
//   - anything else: itself, as a file (a missing file is reported when
//     it is read, with the other images that cannot be).
func Expand(arg string) ([]string, error) {
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.IsDir():
		return walk(arg)
	case err == nil || !strings.ContainsAny(arg, "*?["):
		return []string{arg}, nil
	}
	matches, err := filepath.Glob(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: a bad glob pattern (%v): use *, ? and [...] as filepath.Match does", arg, err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s matches no files", arg)
	}
	var out []string
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			found, err := walk(m)
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// walk returns the image files under the folder dir, in lexical order.
func walk(dir string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && isImage(p) {
			found = append(found, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s is a folder without images (%s, or files that start as images do)", dir, ImageExts())
	}
	return found, nil
}

// MaxListLine is the longest line ReadList takes, in bytes (a path).
const MaxListLine = 4096

// ReadList reads a list file: one path per line, in order, as written
// (relative paths are relative to the current folder, not the list's);
// blank lines are skipped and a final "\r" is dropped, so lists written on
// Windows read the same. A line longer than MaxListLine bytes, or holding
// a NUL byte, is an error naming its number: such a file is no list of
// paths. name is what errors call the list.
func ReadList(r io.Reader, name string) ([]string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []string
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, errLongLine) {
			return nil, fmt.Errorf("%s: line %d is longer than %d bytes: a list file holds one path per line", name, n, MaxListLine)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(line) > MaxListLine: // a last line, without "\n", of MaxListLine+2 bytes
			return nil, fmt.Errorf("%s: line %d is longer than %d bytes: a list file holds one path per line", name, n, MaxListLine)
		case bytes.IndexByte(line, 0) >= 0:
			return nil, fmt.Errorf("%s: line %d holds a NUL byte: a list file holds one path per line, as text", name, n)
		case len(bytes.TrimSpace(line)) > 0:
			out = append(out, string(line))
		}
		if err == io.EOF {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no files: write one path per line", name)
	}
	return out, nil
}

var errLongLine = errors.New("line too long")

// readLine reads one line without its "\n", of at most MaxListLine+1
// bytes (the "\r" ReadList drops); io.EOF with the last line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxListLine+2 {
			return nil, errLongLine
		}
		line = append(line, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return line, err
		}
		return line[:len(line)-1], nil
	}
}

// key is how a file name is compared with those a manifest holds: JSON
// strings hold valid UTF-8 only, so a name that is not comes back from a
// manifest with U+FFFD in place of its bad bytes.
func key(file string) string {
	if utf8.ValidString(file) {
		return file
	}
	return strings.ToValidUTF8(file, "\uFFFD")
}
