//go:build s3

package main

// Built with -tags s3, vit-beam reads and writes s3:// paths (credentials
// and region from the AWS SDK's usual environment and files).
import _ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
