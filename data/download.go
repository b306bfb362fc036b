package data

import (
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxDownload bounds the size of one downloaded file, in bytes (the
// largest file, Fashion-MNIST's training images, is 26 MB).
var maxDownload int64 = 128 << 20 // a variable for the tests

// NewHTTPClient returns the client downloads use when given none: the
// settings of http.DefaultTransport (proxies from the environment
// included), with 30 s to connect, 30 s for TLS, 60 s for the response
// header and 30 minutes for the whole of each file.
func NewHTTPClient() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		// Replaced by the program (or a test's guard): use it as it is.
		return &http.Client{Transport: http.DefaultTransport, Timeout: 30 * time.Minute}
	}
	t = t.Clone()
	if t.DialContext == nil {
		t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.TLSHandshakeTimeout = 30 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	return &http.Client{Transport: t, Timeout: 30 * time.Minute}
}

// download fetches every file of s missing from dir with client (nil:
// NewHTTPClient) under ctx, verifies it and renames it into place.
func (s *idxSource) download(ctx context.Context, client *http.Client, dir string) error {
	if client == nil {
		client = NewHTTPClient()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range s.files {
		dst := filepath.Join(dir, f.Name)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		slog.InfoContext(ctx, "downloading", "url", s.baseURL+f.Name, "to", dst)
		if err := downloadFile(ctx, client, s.baseURL+f.Name, dst, f); err != nil {
			return err
		}
	}
	return nil
}

// downloadFile fetches url into a temporary file beside dst, reading at
// most maxDownload bytes, checks it against f's checksums and renames it
// to dst. On failure it leaves nothing behind.
func downloadFile(ctx context.Context, client *http.Client, url, dst string, f remoteFile) (err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if resp.ContentLength > maxDownload {
		return fmt.Errorf("GET %s: %d bytes, more than the %d bytes a dataset file may have", url, resp.ContentLength, maxDownload)
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
		return fmt.Errorf("GET %s: more than the %d bytes a dataset file may have", url, maxDownload)
	}
	if err = tmp.Sync(); err != nil {
		return err
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

// rawSHA256 returns the SHA-256 of the decompressed content of a gzip
// file, reading at most maxIDXBytes of it.
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
	if _, err := io.Copy(h, io.LimitReader(zr, maxIDXBytes)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
