package records

import (
	"encoding/json"
	"testing"

	"github.com/vitgo/vit"
)

// The lines are a format scripts rely on: an Embedding encodes exactly as
// the map vit embed wrote before the type existed, and the others with
// their keys in this order.
func TestLines(t *testing.T) {
	feats := []float32{0.5, -1.25e-7, 3}
	old, _ := json.Marshal(map[string]any{"file": "a<b>.png", "features": feats})
	for _, c := range []struct {
		v    any
		want string
	}{
		{Embedding{File: "a<b>.png", Features: feats}, string(old)},
		{Embedding{File: "a.png", Features: feats}, `{"features":[0.5,-1.25e-7,3],"file":"a.png"}`},
		{Prediction{File: "a.png", Top: []vit.Class{{Index: 3, Label: "cat", Prob: 0.5}}}, `{"file":"a.png","top":[{"index":3,"label":"cat","prob":0.5}]}`},
		{Prediction{File: "a.png", Top: []vit.Class{{Index: 0, Label: "a dog", Prob: 1}}, Probs: []float32{1}}, `{"file":"a.png","top":[{"index":0,"label":"a dog","prob":1}],"probs":[1]}`},
		{Prediction{File: "b.png", Error: "bad"}, `{"file":"b.png","error":"bad"}`},
		{Failure{File: "b.png", Error: "bad"}, `{"file":"b.png","error":"bad"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%#v encodes as\n%s\nwant\n%s", c.v, b, c.want)
		}
	}
}
