package vit_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A program that only wants labels imports vit (and imageio, checkpoint)
// without the plotting stack of package viz.
func TestNoPlotDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	for _, pkg := range []string{".", "./imageio", "./checkpoint"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "gonum.org/v1/plot") || dep == "github.com/vitgo/vit/viz" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
