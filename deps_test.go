package vit_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
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

// go.work joins the Beam module (beam/) to this one, so that
// `go run ./beam/cmd/vit-beam` works from the repository root. In workspace
// mode the build list is the union of both modules' requirements: this
// module's packages must still build with the versions its own go.mod names
// (raise them here when the Beam module needs newer ones), and ./... must
// not reach into the Beam module.
func TestWorkspaceKeepsVersions(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	if _, err := os.Stat("go.work"); err != nil {
		t.Skip("no go.work")
	}
	list := func(gowork string) string {
		cmd := exec.Command(goTool, "list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}@{{.Version}}{{end}}", "./...")
		cmd.Env = append(os.Environ(), "GOWORK="+gowork)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOWORK=%s go list: %v\n%s", gowork, err, out)
		}
		mods := map[string]bool{}
		for _, m := range strings.Fields(string(out)) {
			mods[m] = true
		}
		delete(mods, "github.com/vitgo/vit@")
		keys := make([]string, 0, len(mods))
		for m := range mods {
			keys = append(keys, m)
		}
		slices.Sort(keys)
		return strings.Join(keys, "\n")
	}
	work, alone := list(""), list("off")
	if work != alone {
		t.Errorf("this module builds with other versions in the workspace (go.work) than alone (GOWORK=off):\nworkspace:\n%s\nalone:\n%s", work, alone)
	}
	if strings.Contains(work, "apache/beam") {
		t.Errorf("./... reaches into the Beam module:\n%s", work)
	}
}
