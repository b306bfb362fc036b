package main

import (
	"io"
	"strings"
)

// runCmd runs vit's command name with args, as the command line
// "vit name args..." does with an empty stdin, and returns its error.
func runCmd(name string, args []string, stdout, stderr io.Writer) error {
	_, err := execute(append([]string{name}, args...), strings.NewReader(""), stdout, stderr)
	return err
}
