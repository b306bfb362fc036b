package data

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

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
//
// FashionMNIST downloads with the default client (see [NewHTTPClient]) and
// cannot be cancelled; [FashionMNISTContext] can.
func FashionMNIST(dir string) (train, test *Dataset, err error) {
	return FashionMNISTContext(context.Background(), nil, dir)
}

// FashionMNISTContext is [FashionMNIST] with the download, if there is
// one, made by client (nil: [NewHTTPClient]) and stopped when ctx is done.
func FashionMNISTContext(ctx context.Context, client *http.Client, dir string) (train, test *Dataset, err error) {
	return fashionMNIST.load(ctx, client, dir, true)
}

// MNIST loads MNIST the way [FashionMNIST] loads Fashion-MNIST, from dir,
// $VIT_DATA/mnist, /usr/share/datasets/mnist, the cache directory
// ~/.cache/vit/mnist, or a download. Classes are "0" to "9".
func MNIST(dir string) (train, test *Dataset, err error) {
	return MNISTContext(context.Background(), nil, dir)
}

// MNISTContext is [MNIST] with the download, if there is one, made by
// client (nil: [NewHTTPClient]) and stopped when ctx is done.
func MNISTContext(ctx context.Context, client *http.Client, dir string) (train, test *Dataset, err error) {
	return mnist.load(ctx, client, dir, true)
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

// load loads the dataset from dir, else from the search directories, else
// (if download) downloads it into the cache directory with client under
// ctx.
func (s *idxSource) load(ctx context.Context, client *http.Client, dir string, download bool) (train, test *Dataset, err error) {
	if dir != "" {
		return s.loadDir(dir)
	}
	train, test, found, err := s.findLocal()
	if found || !download {
		return train, test, err
	}
	cache, err := s.cacheDir()
	if err == nil {
		err = s.download(ctx, client, cache)
	}
	if err == nil {
		return s.loadDir(cache)
	}
	names := make([]string, len(s.files))
	for i, f := range s.files {
		names[i] = f.Name
	}
	return nil, nil, fmt.Errorf("data: %s not found (looked in %s) and the download failed: %w; "+
		"download %s from %s into one of those directories, or set VIT_DATA to a directory holding a %s/ sub-directory with them",
		s.name, strings.Join(s.searchDirs(), ", "), err, strings.Join(names, ", "), s.baseURL, s.name)
}
