package imageio_test

import (
	"fmt"
	"log"

	"github.com/vitgo/vit/imageio"
)

func Example() {
	img, err := imageio.Load("testdata/in/chelsea.png")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("decoded %dx%d RGB\n", img.W, img.H)

	// Hugging Face ViTImageProcessor (google/vit-base-patch16-224).
	x, err := imageio.ViTProcessor().Preprocess(img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("HF tensor [3, 224, 224]:", len(x) == 3*224*224)

	// timm eval transform of a ViT with crop_pct 0.9 and bicubic resize.
	tf := imageio.TimmTransform{
		InputSize:     imageio.Size{H: 224, W: 224},
		CropPct:       0.9,
		Interpolation: imageio.Bicubic,
		Mean:          imageio.InceptionMean,
		Std:           imageio.InceptionStd,
	}
	w, h := tf.ScaleSize(img.W, img.H)
	fmt.Printf("timm resizes to %dx%d, then crops 224x224\n", w, h)
	y, err := tf.Preprocess(img)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("first value %.4f\n", y[0]) // Python: 0.21568632
	// Output:
	// decoded 401x280 RGB
	// HF tensor [3, 224, 224]: true
	// timm resizes to 355x248, then crops 224x224
	// first value 0.2157
}
