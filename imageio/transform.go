package imageio

import (
	"fmt"
	"math"
)

// Size is an image size in pixels, height first as in Hugging Face and
// timm configurations.
type Size struct{ H, W int }

// Common normalisation constants (per channel R, G, B).
var (
	ImageNetMean  = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd   = [3]float32{0.229, 0.224, 0.225}
	InceptionMean = [3]float32{0.5, 0.5, 0.5} // ViT (Google) and many timm ViTs
	InceptionStd  = [3]float32{0.5, 0.5, 0.5}
)

// CenterCrop returns the h×w window at the centre of src as torchvision's
// CenterCrop does: top = round((H-h)/2), left = round((W-w)/2), with
// Python's round-half-to-even. A crop larger than the image is first padded
// with black, torchvision-style (the extra (n+1)/2 on the bottom/right).
func CenterCrop(src *RGB, w, h int) *RGB {
	src = padTo(src, w, h)
	top := int(math.RoundToEven(float64(src.H-h) / 2))
	left := int(math.RoundToEven(float64(src.W-w) / 2))
	return crop(src, left, top, w, h)
}

// padTo pads src with black to at least w×h, left/top getting n/2 of the
// n missing pixels.
func padTo(src *RGB, w, h int) *RGB {
	if src.W >= w && src.H >= h {
		return src
	}
	pw, ph := max(w-src.W, 0), max(h-src.H, 0)
	out := NewRGB(src.W+pw, src.H+ph)
	for y := 0; y < src.H; y++ {
		copy(out.Pix[((y+ph/2)*out.W+pw/2)*3:], src.Pix[y*src.W*3:(y+1)*src.W*3])
	}
	return out
}

func crop(src *RGB, left, top, w, h int) *RGB {
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		copy(out.Pix[y*w*3:(y+1)*w*3], src.Pix[((top+y)*src.W+left)*3:])
	}
	return out
}

// ShortSideSize returns the size torchvision's Resize(size) (an int) and
// Hugging Face's shortest_edge resize give a w×h image: the short side
// becomes size and the long side int(size·long/short), truncated.
func ShortSideSize(w, h, size int) (nw, nh int) {
	if w <= h {
		return size, int(float64(size*h) / float64(w))
	}
	return int(float64(size*w) / float64(h)), size
}

// ToTensor converts src to a float32 tensor [3, H, W] (CHW) of
// (v/255 - mean[c]) / std[c], computed in float32 as torchvision's
// ToTensor followed by Normalize.
func ToTensor(src *RGB, mean, std [3]float32) []float32 {
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = (float32(v)/255 - mean[c]) / std[c]
		}
	}
	return planes(src, &lut)
}

// planes returns src as a float32 tensor [3, H, W] of lut[c][sample]: the
// per-channel normalisation of every 8-bit value computed once (256 values
// a channel, the same float32 operations) instead of once a pixel.
func planes(src *RGB, lut *[3][256]float32) []float32 {
	n := src.W * src.H
	out := make([]float32, 3*n)
	r, g, b := out[:n], out[n:2*n], out[2*n:3*n]
	pix := src.Pix[:3*n]
	for i := range r {
		p := pix[3*i : 3*i+3 : 3*i+3]
		r[i], g[i], b[i] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
	}
	return out
}

// HFProcessor reproduces Hugging Face's ViTImageProcessor (and DeiT-style
// processors when CropSize is set): resize the image straight to Size
// (aspect ratio not kept) with Resample, optionally centre-crop CropSize,
// multiply by RescaleFactor and normalise with Mean and Std. The fields
// mirror preprocessor_config.json; [ViTProcessor] returns the defaults.
type HFProcessor struct {
	Size          Size       // resize target ("size": {"height", "width"})
	ShortestEdge  int        // if positive, resize the short side to it instead, aspect kept ("size": {"shortest_edge"}, CLIP, DINOv2)
	Resample      Filter     // Pillow filter number ("resample"), Bilinear for ViT
	CropSize      Size       // if non-zero, centre crop to this size after resizing ("crop_size")
	RescaleFactor float64    // "rescale_factor", 1/255
	Mean, Std     [3]float32 // "image_mean", "image_std"
}

// ViTProcessor returns the processor of google/vit-base-patch16-224:
// 224×224, BILINEAR, 1/255, mean = std = 0.5.
func ViTProcessor() HFProcessor {
	return HFProcessor{Size: Size{224, 224}, Resample: Bilinear, RescaleFactor: 1.0 / 255,
		Mean: InceptionMean, Std: InceptionStd}
}

// OutputSize returns the size of the tensors Preprocess returns.
func (p HFProcessor) OutputSize() Size {
	if p.CropSize != (Size{}) {
		return p.CropSize
	}
	return p.Size
}

// resizeCrop returns the processor of a Hugging Face checkpoint that
// resizes the short side to short (CLIP's, DINOv2's BitImageProcessor) or,
// with short 0, the whole image to square×square (DeiT's), then
// centre-crops size.
func resizeCrop(size Size, short, square int, resample string, mean, std [3]float32) (Preprocessor, error) {
	filter, err := filterOrBilinear(resample)
	if err != nil {
		return nil, err
	}
	resize := size
	if short == 0 {
		resize = Size{W: square, H: square}
	}
	return HFProcessor{Size: resize, ShortestEdge: short, CropSize: size, Resample: filter, RescaleFactor: 1.0 / 255, Mean: mean, Std: std}, nil
}

// Preprocess returns img as a float32 tensor [3, H, W]. The resize is
// Pillow's (see [Resize]); the rescale is computed in float64 and stored
// as float32, and the normalisation in float32, as transformers does with
// NumPy. Hugging Face's centre crop puts the top-left corner at
// ((H-h)//2, (W-w)//2), rounding down (unlike torchvision).
func (p HFProcessor) Preprocess(img *RGB) ([]float32, error) {
	if p.RescaleFactor == 0 {
		return nil, fmt.Errorf("imageio: HFProcessor RescaleFactor is zero (use 1/255)")
	}
	r, err := p.Prepare(img)
	if err != nil {
		return nil, err
	}
	var lut [3][256]float32
	for c := range 3 {
		for v := range 256 {
			lut[c][v] = (float32(float64(v)*p.RescaleFactor) - p.Mean[c]) / p.Std[c]
		}
	}
	return planes(r, &lut), nil
}

// Prepare is the geometric part of Preprocess: the resized (and, with
// CropSize, cropped) 8-bit image, before rescaling and normalisation.
func (p HFProcessor) Prepare(img *RGB) (*RGB, error) {
	if (p.Size.H <= 0 || p.Size.W <= 0) && p.ShortestEdge <= 0 {
		return nil, fmt.Errorf("imageio: HFProcessor size %dx%d", p.Size.W, p.Size.H)
	}
	if img.W <= 0 || img.H <= 0 {
		return nil, fmt.Errorf("imageio: empty %dx%d image", img.W, img.H)
	}
	w, h := p.Size.W, p.Size.H
	if p.ShortestEdge > 0 {
		// transformers' get_resize_output_image_size(default_to_square=False).
		w, h = ShortSideSize(img.W, img.H, p.ShortestEdge)
		if w <= 0 || h <= 0 {
			return nil, fmt.Errorf("imageio: %dx%d image resizes to %dx%d", img.W, img.H, w, h)
		}
	}
	r := Resize(img, w, h, p.Resample)
	if c := p.CropSize; c != (Size{}) {
		if c.H <= 0 || c.W <= 0 {
			return nil, fmt.Errorf("imageio: HFProcessor crop size %dx%d", c.W, c.H)
		}
		r = padTo(r, c.W, c.H)
		r = crop(r, (r.W-c.W)/2, (r.H-c.H)/2, c.W, c.H)
	}
	return r, nil
}

// TimmTransform reproduces timm's evaluation transform
// (timm.data.create_transform(..., is_training=False), crop_mode
// "center"), which is torchvision's
//
//	Resize(floor(input / crop_pct), interpolation)  # short side, aspect kept
//	CenterCrop(input)
//	ToTensor()
//	Normalize(mean, std)
//
// on a Pillow image. For a non-square InputSize the resize goes to
// (floor(H/crop_pct), floor(W/crop_pct)) exactly, as in timm.
type TimmTransform struct {
	InputSize     Size    // e.g. 224×224 (pretrained_cfg "input_size" [3, H, W])
	CropPct       float64 // e.g. 0.875 or 0.9; zero means timm's default 0.875
	Interpolation Filter  // e.g. Bicubic for most ViTs
	Mean, Std     [3]float32
}

// ScaleSize returns the size of the intermediate resize for a w×h image.
func (t TimmTransform) ScaleSize(w, h int) (nw, nh int) {
	pct := t.CropPct
	if pct == 0 {
		pct = 0.875
	}
	sh := int(math.Floor(float64(t.InputSize.H) / pct))
	sw := int(math.Floor(float64(t.InputSize.W) / pct))
	if sh == sw {
		return ShortSideSize(w, h, sh)
	}
	return sw, sh
}

// Preprocess returns img as a float32 tensor [3, InputSize.H, InputSize.W].
func (t TimmTransform) Preprocess(img *RGB) ([]float32, error) {
	r, err := t.Prepare(img)
	if err != nil {
		return nil, err
	}
	return ToTensor(r, t.Mean, t.Std), nil
}

// Prepare is the geometric part of Preprocess: the resized and cropped
// 8-bit image, before normalisation.
func (t TimmTransform) Prepare(img *RGB) (*RGB, error) {
	if t.InputSize.H <= 0 || t.InputSize.W <= 0 {
		return nil, fmt.Errorf("imageio: TimmTransform input size %dx%d", t.InputSize.W, t.InputSize.H)
	}
	if t.CropPct < 0 {
		return nil, fmt.Errorf("imageio: TimmTransform crop_pct %v", t.CropPct)
	}
	if img.W <= 0 || img.H <= 0 {
		return nil, fmt.Errorf("imageio: empty %dx%d image", img.W, img.H)
	}
	w, h := t.ScaleSize(img.W, img.H)
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("imageio: %dx%d image resizes to %dx%d", img.W, img.H, w, h)
	}
	return CenterCrop(Resize(img, w, h, t.Interpolation), t.InputSize.W, t.InputSize.H), nil
}

// ResizeNormalize resizes straight to Size (aspect ratio not kept) and
// normalises: torchvision's Compose([Resize((H, W)), ToTensor(),
// Normalize(mean, std)]), e.g. for training data already augmented.
type ResizeNormalize struct {
	Size      Size
	Resample  Filter
	Mean, Std [3]float32
}

// Preprocess returns img as a float32 tensor [3, Size.H, Size.W].
func (t ResizeNormalize) Preprocess(img *RGB) ([]float32, error) {
	r, err := t.Prepare(img)
	if err != nil {
		return nil, err
	}
	return ToTensor(r, t.Mean, t.Std), nil
}

// Prepare is the geometric part of Preprocess: the resized 8-bit image.
func (t ResizeNormalize) Prepare(img *RGB) (*RGB, error) {
	if t.Size.H <= 0 || t.Size.W <= 0 {
		return nil, fmt.Errorf("imageio: ResizeNormalize size %dx%d", t.Size.W, t.Size.H)
	}
	if img.W <= 0 || img.H <= 0 {
		return nil, fmt.Errorf("imageio: empty %dx%d image", img.W, img.H)
	}
	return Resize(img, t.Size.W, t.Size.H, t.Resample), nil
}

// Preprocessor is implemented by [HFProcessor], [TimmTransform] and
// [ResizeNormalize]. Preprocess returns the normalised tensor [3, H, W];
// Prepare only its geometric part, the resized and cropped 8-bit image
// (what figures overlay).
type Preprocessor interface {
	Preprocess(img *RGB) ([]float32, error)
	Prepare(img *RGB) (*RGB, error)
}

// ForModel returns the pipeline a model's checkpoint expects, from the
// settings stored with it: with cropPct > 0 timm's evaluation transform
// (short side to size/cropPct, centre crop), else Hugging Face's processor
// (resize to size). resample is a Pillow filter name ("" for bilinear).
func ForModel(size Size, resample string, cropPct float64, mean, std [3]float32) (Preprocessor, error) {
	filter, err := filterOrBilinear(resample)
	if err != nil {
		return nil, err
	}
	if cropPct > 0 {
		return TimmTransform{InputSize: size, CropPct: cropPct, Interpolation: filter, Mean: mean, Std: std}, nil
	}
	return HFProcessor{Size: size, Resample: filter, RescaleFactor: 1.0 / 255, Mean: mean, Std: std}, nil
}

// filterOrBilinear parses a Pillow filter name, "" meaning bilinear.
func filterOrBilinear(resample string) (Filter, error) {
	if resample == "" {
		return Bilinear, nil
	}
	return ParseFilter(resample)
}

// ToLuma converts img in place to grey as Pillow's convert("L") does
// (ITU-R 601-2 luma in 16-bit fixed point, rounded), keeping three equal
// channels.
func (img *RGB) ToLuma() {
	for i := 0; i+2 < len(img.Pix); i += 3 {
		r, g, b := uint32(img.Pix[i]), uint32(img.Pix[i+1]), uint32(img.Pix[i+2])
		l := uint8((r*19595 + g*38470 + b*7471 + 0x8000) >> 16)
		img.Pix[i], img.Pix[i+1], img.Pix[i+2] = l, l, l
	}
}
