package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/checkpoint"
)

func testdata(name string) string {
	return filepath.Join("..", "..", "checkpoint", "testdata", name)
}

func TestConvert(t *testing.T) {
	dir := t.TempDir()
	var out, errOut strings.Builder
	to := filepath.Join(dir, "timm")
	if err := runCmd("convert", []string{"--from", testdata("hf"), "--to", to, "--format", "timm", "--image", "24"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range []string{"Hugging Face checkpoint", "dim 16, depth 2, 4 heads", "5 classes", "4×4 → 6×6 (bicubic)", "wrote " + to + ": timm folder"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	p, err := checkpoint.LoadPretrained(to)
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != checkpoint.FormatTimm || p.Model.Config.ImageHeight != 24 || p.Model.Config.Tokens() != 37 {
		t.Errorf("converted: format %s, config %+v", p.Format, p.Model.Config)
	}

	// Non-square target, JAX source (its own bilinear resampling), HF output.
	out.Reset()
	if err := runCmd("convert", []string{"--from", testdata("jax.npz"), "--to", filepath.Join(dir, "hf"), "--format", "hf", "--image", "24x20"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "4×4 → 6×5 (bilinear-jax)") {
		t.Errorf("output:\n%s", out.String())
	}
	m, err := checkpoint.Load(filepath.Join(dir, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.ImageHeight != 24 || m.Config.ImageWidth != 20 {
		t.Errorf("converted image %d×%d", m.Config.ImageHeight, m.Config.ImageWidth)
	}
}

func TestConvertPreLogits(t *testing.T) {
	dir := t.TempDir()
	var out, errOut strings.Builder
	args := []string{"--from", testdata("jax_prelogits.npz"), "--to", filepath.Join(dir, "m")}
	if err := runCmd("convert", append(args, "--format", "hf"), &out, &errOut); err == nil || !strings.Contains(err.Error(), "--drop-head") {
		t.Fatalf("pre-logits checkpoint to hf without --drop-head: %v", err)
	}
	out.Reset()
	if err := runCmd("convert", args, &out, &errOut); err != nil {
		t.Fatalf("pre-logits checkpoint to vit's format: %v", err)
	}
	if kept, err := checkpoint.Load(filepath.Join(dir, "m")); err != nil || kept.PreLogits == nil {
		t.Fatalf("vit's format did not keep the pre-logits layer: %v", err)
	}
	out.Reset()
	if err := runCmd("convert", append(args, "--drop-head"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	m, err := checkpoint.Load(filepath.Join(dir, "m"))
	if err != nil {
		t.Fatal(err)
	}
	if m.PreLogits != nil || m.Head.In != m.Config.Dim {
		t.Fatalf("--drop-head kept the pre-logits layer")
	}
	for _, v := range m.Head.W.Data {
		if v != 0 {
			t.Fatal("head is not zero after --drop-head")
		}
	}
}

func TestConvertErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--to", dir}, true, ""},
		{[]string{"--from", testdata("hf"), "--to", dir, "--format", "onnx"}, false, "--format onnx: must be"},
		{[]string{"--from", testdata("hf"), "--to", dir, "--image", "24", "--resize", "nearest"}, false, "--resize nearest: must be"},
		{[]string{"--from", testdata("hf"), "--to", dir, "--image", "big"}, false, "--image big: want N or HxW"},
		{[]string{"--from", testdata("hf"), "--to", dir, "--image", "25"}, false, "not divisible by patch 4"},
		{[]string{"--from", testdata("big_vision_gap.npz"), "--to", dir, "--format", "hf"}, false, "class token"},
		{[]string{"--from", filepath.Join(dir, "absent"), "--to", dir}, false, "no such file"},
	} {
		var out, errOut strings.Builder
		err := runCmd("convert", tc.args, &out, &errOut)
		switch {
		case tc.usage && !errors.Is(err, errUsage):
			t.Errorf("%v: %v, want a usage error", tc.args, err)
		case !tc.usage && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
