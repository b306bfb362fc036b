package data

import (
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Logf, if not nil, receives progress notes such as "downloading ...".
// Set it before calling the loaders; it is not synchronised.
var Logf func(format string, args ...any)

func logf(format string, args ...any) {
	if Logf != nil {
		Logf(format, args...)
	}
}

// remoteFile is one file of a downloadable dataset and its checksums: MD5
// is the published checksum of the .gz file; RawSHA256, when set, is the
// SHA-256 of its decompressed content. A download passes if either matches.
type remoteFile struct {
	Name      string
	MD5       string
	RawSHA256 string
}

// idxSource describes an IDX dataset that may be installed or downloaded.
type idxSource struct {
	name    string   // sub-directory name under $VIT_DATA and the cache
	baseURL string   // official address; file names are appended
	sysDirs []string // system-wide install locations
	classes []string
	files   []remoteFile
}

// The Fashion-MNIST MD5 sums are those published by Zalando Research. The
// Debian package ships the same IDX content re-compressed (its .gz files
// lack the original file-name header field and so differ in MD5), which is
// why the SHA-256 of the decompressed content, computed from the Debian
// copies, is accepted too.
var fashionMNIST = &idxSource{
	name:    "fashion-mnist",
	baseURL: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
	sysDirs: []string{"/usr/share/datasets/fashion-mnist"},
	classes: FashionMNISTClasses,
	files: []remoteFile{
		{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
		{"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
		{"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
		{"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
	},
}

// The MNIST MD5 sums are the published ones of the original files, which
// the mirror serves unchanged.
var mnist = &idxSource{
	name:    "mnist",
	baseURL: "https://ossci-datasets.s3.amazonaws.com/mnist/",
	sysDirs: []string{"/usr/share/datasets/mnist"},
	classes: MNISTClasses,
	files: []remoteFile{
		{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", ""},
		{"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", ""},
		{"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", ""},
		{"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", ""},
	},
}

// FashionMNIST loads Fashion-MNIST: 60,000 training and 10,000 test
// images [N, 1, 28, 28] of 10 classes ([FashionMNISTClasses]).
//
// If dir is not empty, the IDX files are read from dir only. Otherwise
// FashionMNIST looks in $VIT_DATA/fashion-mnist,
// /usr/share/datasets/fashion-mnist (Debian's package) and
// $XDG_CACHE_HOME/vit/fashion-mnist (usually ~/.cache/vit/fashion-mnist),
// and failing those downloads the four files from the official address
// into the cache directory, verifying their checksums. The error, if all
// fail, says where to put the files.
func FashionMNIST(dir string) (train, test *Dataset, err error) {
	return fashionMNIST.load(dir, true)
}

// MNIST loads MNIST the way [FashionMNIST] loads Fashion-MNIST, from dir,
// $VIT_DATA/mnist, /usr/share/datasets/mnist, the cache directory
// ~/.cache/vit/mnist, or a download. Classes are "0" to "9".
func MNIST(dir string) (train, test *Dataset, err error) {
	return mnist.load(dir, true)
}

// cacheDir returns the directory the source downloads into.
func (s *idxSource) cacheDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "vit", s.name), nil
}

// searchDirs returns the directories looked in when no dir is given.
func (s *idxSource) searchDirs() []string {
	var dirs []string
	if v := os.Getenv("VIT_DATA"); v != "" {
		dirs = append(dirs, filepath.Join(v, s.name))
	}
	dirs = append(dirs, s.sysDirs...)
	if c, err := s.cacheDir(); err == nil {
		dirs = append(dirs, c)
	}
	return dirs
}

// findLocal loads the dataset from the first search directory that holds
// it. found is false if none does.
func (s *idxSource) findLocal() (train, test *Dataset, found bool, err error) {
	for _, d := range s.searchDirs() {
		if hasIDX(d) {
			train, test, err = s.loadDir(d)
			return train, test, true, err
		}
	}
	return nil, nil, false, nil
}

func (s *idxSource) loadDir(dir string) (train, test *Dataset, err error) {
	train, test, err = loadIDXDir(dir, s.classes)
	if err != nil {
		return nil, nil, err
	}
	train.Name, test.Name = s.name+" (train)", s.name+" (test)"
	return train, test, nil
}

func (s *idxSource) load(dir string, download bool) (train, test *Dataset, err error) {
	if dir != "" {
		return s.loadDir(dir)
	}
	train, test, found, err := s.findLocal()
	if found || !download {
		return train, test, err
	}
	cache, err := s.cacheDir()
	if err == nil {
		err = s.download(http.DefaultClient, cache)
	}
	if err == nil {
		return s.loadDir(cache)
	}
	names := make([]string, len(s.files))
	for i, f := range s.files {
		names[i] = f.Name
	}
	return nil, nil, fmt.Errorf("data: %s not found (looked in %s) and the download failed: %w\n"+
		"Download %s from %s into one of those directories, or set VIT_DATA to a directory holding a %s/ sub-directory with them",
		s.name, strings.Join(s.searchDirs(), ", "), err, strings.Join(names, ", "), s.baseURL, s.name)
}

// maxDownload bounds the size of one downloaded file.
const maxDownload = 128 << 20

// download fetches every file of s missing from dir, verifies it and
// renames it into place.
func (s *idxSource) download(client *http.Client, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range s.files {
		dst := filepath.Join(dir, f.Name)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		logf("downloading %s%s", s.baseURL, f.Name)
		if err := downloadFile(client, s.baseURL+f.Name, dst, f); err != nil {
			return err
		}
	}
	return nil
}

// downloadFile fetches url into a temporary file beside dst, checks it
// against f's checksums and renames it to dst.
func downloadFile(client *http.Client, url, dst string, f remoteFile) (err error) {
	c := *client
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Minute
	}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".*.part")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if n > maxDownload {
		return fmt.Errorf("GET %s: more than %d bytes", url, maxDownload)
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = verify(tmp.Name(), h, f); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return os.Rename(tmp.Name(), dst)
}

// verify checks the file at path, whose MD5 state is h, against f.
func verify(path string, h hash.Hash, f remoteFile) error {
	got := hex.EncodeToString(h.Sum(nil))
	if strings.EqualFold(got, f.MD5) {
		return nil
	}
	if f.RawSHA256 == "" {
		return fmt.Errorf("checksum mismatch: MD5 %s, want %s", got, f.MD5)
	}
	raw, err := rawSHA256(path)
	if err != nil {
		return fmt.Errorf("checksum mismatch: MD5 %s, want %s, and content unreadable: %w", got, f.MD5, err)
	}
	if !strings.EqualFold(raw, f.RawSHA256) {
		return fmt.Errorf("checksum mismatch: MD5 %s, want %s; content SHA-256 %s, want %s", got, f.MD5, raw, f.RawSHA256)
	}
	return nil
}

// rawSHA256 returns the SHA-256 of the decompressed content of a gzip file.
func rawSHA256(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(zr, 8<<30)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
