//go:build !unix

package fsfault

import "errors"

func limitFileSize(n uint64) (func(), error) {
	return nil, errors.New("no file-size limit on this platform")
}
