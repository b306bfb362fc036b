package imageio

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkDecodePreprocess decodes a real photo and prepares it for a
// 224×224 model, as a served request does.
func BenchmarkDecodePreprocess(b *testing.B) {
	for _, name := range []string{"chelsea.png", "chelsea420.jpg"} {
		data, err := os.ReadFile("testdata/in/" + name)
		if err != nil {
			b.Fatal(err)
		}
		in, p := vitInput(b)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				img, err := Decode(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := in.Tensor(img, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPNGDecode compares the fast path with image/png and FromImage
// on a real photo.
func BenchmarkPNGDecode(b *testing.B) {
	data, err := os.ReadFile("testdata/in/chelsea.png")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodePNG(data, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image-png", func(b *testing.B) {
		for b.Loop() {
			if _, err := stdlibRGB(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPreprocess prepares a decoded photo for a 224×224 model.
func BenchmarkPreprocess(b *testing.B) {
	img, err := Load("testdata/in/chelsea.png")
	if err != nil {
		b.Fatal(err)
	}
	in, p := vitInput(b)
	for b.Loop() {
		if _, err := in.Tensor(img, p); err != nil {
			b.Fatal(err)
		}
	}
}

// vitInput is the input of a 224×224 ViT that resizes like Hugging Face's
// ViTImageProcessor.
func vitInput(b *testing.B) (Input, Preprocessor) {
	in := Input{Size: Size{224, 224}, Channels: 3, Mean: InceptionMean[:], Std: InceptionStd[:]}
	p, err := in.Preprocessor()
	if err != nil {
		b.Fatal(err)
	}
	return in, p
}
