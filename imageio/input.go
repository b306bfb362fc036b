package imageio

import (
	"fmt"
)

// Input describes the images a model takes and how its checkpoint prepares
// them: the fields of a vit.Config that concern pixels (vit.Config.Input
// fills it). The zero Mean and Std normalise with 0 and 1.
type Input struct {
	Size     Size   // the model's input, pixels
	Channels int    // 1 (grey, Pillow's "L") or 3 (RGB)
	Resample string // Pillow filter name; "" is bilinear
	// CropPct > 0 selects timm's evaluation transform (short side to
	// Size/CropPct, centre crop); 0 Hugging Face's (resize to Size).
	CropPct float64
	// ResizeShort > 0 (with CropPct 0) resizes the short side to it and
	// centre-crops Size, as Hugging Face's CLIP and DINOv2 processors do.
	ResizeShort int
	// ResizeTo > 0 (with CropPct 0) resizes the image to ResizeTo×ResizeTo
	// and centre-crops Size, as Hugging Face's DeiT processor does.
	ResizeTo int
	// Mean and Std normalise pixels scaled to [0, 1], per channel: one
	// value per channel, or one for all; nil Mean means 0 and nil Std 1.
	Mean, Std []float32
}

// channel returns v's value for channel ch: v[ch], v[0] when v has one
// value for all channels, def when v is empty.
func channel(v []float32, ch int, def float32) float32 {
	switch {
	case len(v) == 0:
		return def
	case ch < len(v):
		return v[ch]
	}
	return v[0]
}

func (in Input) check() error {
	if in.Channels != 1 && in.Channels != 3 {
		return fmt.Errorf("imageio: a model input of %d channels (1 or 3 are supported)", in.Channels)
	}
	if in.Size.H <= 0 || in.Size.W <= 0 {
		return fmt.Errorf("imageio: a model input of %dx%d pixels", in.Size.W, in.Size.H)
	}
	return nil
}

// Preprocessor returns the Pillow-exact pipeline the model expects
// ([ForModel] with Size, Resample, CropPct, Mean and Std).
func (in Input) Preprocessor() (Preprocessor, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	var mean, std [3]float32
	for i := range 3 {
		mean[i], std[i] = channel(in.Mean, i, 0), channel(in.Std, i, 1)
	}
	if (in.ResizeShort > 0 || in.ResizeTo > 0) && in.CropPct == 0 {
		return resizeCrop(in.Size, in.ResizeShort, in.ResizeTo, in.Resample, mean, std)
	}
	return ForModel(in.Size, in.Resample, in.CropPct, mean, std)
}

// Tensor prepares img for the model with p (from in.Preprocessor): Pillow's
// "L" conversion for a grey model, then p's resize, crop and
// normalisation. It returns [Channels, Size.H, Size.W] float32. img is not
// changed.
func (in Input) Tensor(img *RGB, p Preprocessor) ([]float32, error) {
	if in.Channels == 1 {
		img = img.Clone()
		img.ToLuma()
	}
	x, err := p.Preprocess(img)
	if err != nil {
		return nil, err
	}
	return x[:in.Channels*in.Size.H*in.Size.W], nil
}

// Planar resizes (and crops) img as the model's preprocessing does, in the
// model's channels (grey as Pillow's "L"), and returns planar bytes
// [Channels, Size.H, Size.W], before normalisation: what figures draw.
// [Input.Normalize] turns them into the model's input.
func (in Input) Planar(img *RGB) ([]uint8, error) {
	p, err := in.Preprocessor()
	if err != nil {
		return nil, err
	}
	if in.Channels == 1 {
		img = img.Clone()
		img.ToLuma()
	}
	r, err := p.Prepare(img)
	if err != nil {
		return nil, err
	}
	hw := r.W * r.H
	out := make([]uint8, in.Channels*hw)
	for o := range hw {
		for ch := range in.Channels {
			out[ch*hw+o] = r.Pix[3*o+ch]
		}
	}
	return out, nil
}

// Normalize converts planar bytes [n, Channels, Size.H, Size.W] to the
// model's input: (p/255 − Mean[c]) / Std[c], in float32.
func (in Input) Normalize(pixels []uint8) []float32 {
	hw := in.Size.H * in.Size.W
	lut := make([][256]float32, in.Channels)
	for ch := range lut {
		for v := range 256 {
			lut[ch][v] = (float32(v)/255 - channel(in.Mean, ch, 0)) / channel(in.Std, ch, 1)
		}
	}
	out := make([]float32, len(pixels))
	for i, p := range pixels {
		out[i] = lut[(i/hw)%in.Channels][p]
	}
	return out
}

// Misfit says why img does not look like what the model takes, or returns
// "" when it does: a colour image given to a grey model (it sees only the
// luma), or an image resized by more than [MisfitScale] into a model whose
// input is at most [SmallInput] pixels on a side (models trained on
// thumbnails, such as 28×28 Fashion-MNIST, see little of a photo), or one
// enlarged by more than MisfitScale. Predictions on such images are
// usually meaningless; callers warn.
func (in Input) Misfit(img *RGB) string {
	var why string
	if in.Channels == 1 && !img.IsGrey() {
		why = "a colour image given to a model of grey images (it sees only the luma)"
	}
	side := max(in.Size.H, in.Size.W)
	down := max(float64(img.W)/float64(in.Size.W), float64(img.H)/float64(in.Size.H))
	up := min(float64(in.Size.W)/float64(img.W), float64(in.Size.H)/float64(img.H))
	var size string
	switch {
	case side <= SmallInput && down > MisfitScale:
		size = fmt.Sprintf("a %dx%d image shrunk to the model's %dx%d input", img.W, img.H, in.Size.W, in.Size.H)
	case up > MisfitScale:
		size = fmt.Sprintf("a %dx%d image enlarged to the model's %dx%d input", img.W, img.H, in.Size.W, in.Size.H)
	}
	switch {
	case why == "":
		return size
	case size == "":
		return why
	}
	return why + "; " + size
}

// Thresholds of [Input.Misfit].
const (
	SmallInput  = 64 // pixels on the longer side
	MisfitScale = 2  // resize factor
)

// IsGrey reports whether every pixel of m has equal R, G and B samples.
func (m *RGB) IsGrey() bool {
	for i := 0; i+2 < len(m.Pix); i += 3 {
		if m.Pix[i] != m.Pix[i+1] || m.Pix[i+1] != m.Pix[i+2] {
			return false
		}
	}
	return true
}
