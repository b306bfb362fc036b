// Package zeroshot classifies images by label text with a CLIP or SigLIP
// model: the image embeddings (from the model's image tower) are compared
// with the text tower's embeddings of a prompt per label, "a photo of a
// {}." by default.
//
//   - CLIP: the probabilities are the softmax over the labels of
//     exp(logit_scale)·cos(image, label) (CLIPModel's logits_per_image).
//   - SigLIP: each label's probability is on its own,
//     sigmoid(exp(logit_scale)·cos(image, label) + logit_bias).
package zeroshot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/vitgo/vit/text"
)

// DefaultTemplate is the prompt of CLIP's and SigLIP's zero-shot examples.
const DefaultTemplate = "a photo of a {}."

// Placeholder marks where a template takes the label.
const Placeholder = "{}"

// Prompt puts label into template at each {}.
func Prompt(template, label string) string {
	return strings.ReplaceAll(template, Placeholder, label)
}

// CheckTemplate refuses a template without a {} for the label.
func CheckTemplate(template string) error {
	if !strings.Contains(template, Placeholder) {
		return fmt.Errorf("template %q has no %s where the label goes", template, Placeholder)
	}
	return nil
}

// Classifier holds the label embeddings of one set of labels.
type Classifier struct {
	Kind        text.Kind
	Labels      []string
	Scale, Bias float32 // exp(logit_scale) and logit_bias
	dim         int
	classes     []float32 // [labels, dim], unit rows
}

// New embeds the labels with the text tower, through each of templates
// (none: DefaultTemplate). With several templates a label's vector is the
// mean of its unit prompt embeddings, normalised again (CLIP's prompt
// ensembling). The tower must come with its logit scale (a CLIPModel or
// SiglipModel, not a lone text model).
func New(ctx context.Context, tower *text.Tower, labels, templates []string) (*Classifier, error) {
	if len(labels) == 0 {
		return nil, errors.New("zero-shot classification needs at least one label")
	}
	if !tower.HasLogits {
		return nil, errors.New("the model has no logit_scale (a CLIPModel or SiglipModel has one; a lone text model does not): zero-shot probabilities need it")
	}
	if len(templates) == 0 {
		templates = []string{DefaultTemplate}
	}
	for _, t := range templates {
		if err := CheckTemplate(t); err != nil {
			return nil, err
		}
	}
	dim := tower.OutDim()
	c := &Classifier{Kind: tower.Kind, Labels: labels, Scale: tower.Scale(), Bias: tower.LogitBias, dim: dim,
		classes: make([]float32, len(labels)*dim)}
	for _, t := range templates {
		prompts := make([]string, len(labels))
		for i, l := range labels {
			prompts[i] = Prompt(t, l)
		}
		e, err := tower.EmbedTexts(ctx, prompts)
		if err != nil {
			return nil, err
		}
		normalize(e, dim)
		for i, v := range e {
			c.classes[i] += v
		}
	}
	normalize(c.classes, dim)
	return c, nil
}

// Dim is the width of the embeddings Classify takes.
func (c *Classifier) Dim() int { return c.dim }

// Classify returns the probabilities of the labels for n image
// embeddings images: [n, Dim()], not necessarily normalised; the result is
// [n, len(Labels)].
func (c *Classifier) Classify(images []float32, n int) ([]float32, error) {
	return Probabilities(c.Kind, images, n, c.classes, len(c.Labels), c.dim, c.Scale, c.Bias)
}

// Probabilities compares n image embeddings images: [n, dim] with k label
// embeddings labels: [k, dim] (neither need be normalised) and returns
// [n, k]: for CLIP the softmax over the labels of scale·cos, for SigLIP
// sigmoid(scale·cos + bias) per label.
func Probabilities(kind text.Kind, images []float32, n int, labels []float32, k, dim int, scale, bias float32) ([]float32, error) {
	if len(images) != n*dim || len(labels) != k*dim {
		return nil, fmt.Errorf("zero-shot: %d image values for %d embeddings and %d label values for %d labels of width %d", len(images), n, len(labels), k, dim)
	}
	out := make([]float32, n*k)
	lab := make([]float64, k) // 1/‖label‖
	for j := range k {
		lab[j] = invNorm(labels[j*dim : (j+1)*dim])
	}
	for i := range n {
		img := images[i*dim : (i+1)*dim]
		inv := invNorm(img)
		logits := make([]float64, k)
		for j := range k {
			var dot float64
			for x, v := range labels[j*dim : (j+1)*dim] {
				dot += float64(v) * float64(img[x])
			}
			logits[j] = float64(scale) * dot * inv * lab[j]
		}
		row := out[i*k : (i+1)*k]
		if kind == text.SigLIP {
			for j, l := range logits {
				row[j] = float32(1 / (1 + math.Exp(-(l + float64(bias)))))
			}
			continue
		}
		m := math.Inf(-1)
		for _, l := range logits {
			m = max(m, l)
		}
		var sum float64
		for _, l := range logits {
			sum += math.Exp(l - m)
		}
		for j, l := range logits {
			row[j] = float32(math.Exp(l-m) / sum)
		}
	}
	return out, nil
}

// invNorm is 1/‖x‖ (0 for a zero vector).
func invNorm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	if s == 0 {
		return 0
	}
	return 1 / math.Sqrt(s)
}

// normalize scales each row of x: [rows, dim] to unit length.
func normalize(x []float32, dim int) {
	for r := 0; r+dim <= len(x); r += dim {
		inv := invNorm(x[r : r+dim])
		for i := r; i < r+dim; i++ {
			x[i] = float32(float64(x[i]) * inv)
		}
	}
}
