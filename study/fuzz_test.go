package study

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzResume feeds resume arbitrary study.json bytes: it must return the
// runs or an error, never panic, and refuse another study's file.
func FuzzResume(f *testing.F) {
	f.Add([]byte(`{"kind":"data-size","data":"d","budget":"quick","validation_images":10,"runs":[{"id":"a","config":{"arch":"resnet","depth":26,"width":8}}]}`))
	f.Add([]byte(`{"kind":"compute"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, JSONFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		st := &Study{Kind: "data-size", Data: "d", Budget: "quick", Validation: 10}
		if err := st.resume(dir); err == nil {
			st.selectRecipes()
			st.Points()
		}
	})
}
