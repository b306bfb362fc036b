package vit_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// A program that only wants labels imports vit (and imageio, checkpoint,
// serve) without the plotting stack of package viz.
func TestNoPlotDependency(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	for _, pkg := range []string{".", "./imageio", "./checkpoint", "./serve"} {
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

// go.mod asks for the oldest Go the module needs: a release line's first
// version (its dependencies, golang.org/x/..., need go 1.26.0), not the
// patch release it happened to be written with.
func TestGoModVersion(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "go ")
		if !ok {
			continue
		}
		if !regexp.MustCompile(`^1\.\d+(\.0)?$`).MatchString(v) {
			t.Fatalf("go.mod says go %s; ask for the release line (go 1.N or go 1.N.0), not a patch release", v)
		}
		return
	}
	t.Fatal("go.mod has no go line")
}
