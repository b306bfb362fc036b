// Package imageio decodes common image formats into 8-bit RGB and
// preprocesses them into normalised float32 tensors exactly as the Python
// stack used to train and publish Vision Transformer checkpoints does
// (Pillow, Hugging Face image processors, timm / torchvision transforms).
//
// # Decoding
//
// [Decode] and [Load] read PNG, JPEG, GIF, BMP, TIFF and WebP and return an
// [RGB] image: a [H, W, 3] array of uint8, row-major, channels interleaved.
// The colour conversion follows Pillow's Image.convert("RGB"): grey is
// replicated, palettes are looked up, and alpha is dropped without
// compositing over any background. JPEG chroma is upsampled and converted
// with libjpeg's "fancy" triangular upsampling and integer colour tables,
// and lossy WebP with libwebp's, so that decoded pixels stay close to what
// Pillow returns (JPEG: see the package tests for the measured difference
// that remains from the different inverse DCTs). EXIF orientation is not
// applied, as Pillow does not apply it on open.
//
// PNG, the format most images sent to a server come in, has a decoder of
// its own that writes RGB directly (with its own zlib inflate; see
// png.go): pixel for pixel what image/png and the conversion above give,
// without an image.Image in between. It holds the file in memory, so it takes files
// of up to 4 bytes a pixel plus 1 MiB; larger ones, and any file it does
// not accept, go to image/png, whose answer stands.
//
// Input is untrusted. The format is told from the first bytes (anything
// else fails at once, without reading on), the input is streamed (but for
// the PNG fast path's bounded read), and no more than a byte limit
// ([MaxImageBytes], 256 MiB by default) is read. Before any pixel is
// decoded the header's dimensions are checked against a pixel limit ([MaxImagePixels], by default Pillow's
// MAX_IMAGE_PIXELS, 89,478,485) and larger images are refused with a
// [*TooLargeError]; of an animated GIF only the first frame is decoded. A
// [Decoder] carries its own limits. Decoder panics on hostile input are
// turned into errors.
//
// # Resizing
//
// [Resize] reproduces Pillow's Image.resize for 8-bit RGB bit for bit: a
// separable convolution, horizontal pass first, whose filter support is
// widened by the downscale factor (antialiasing), with 22-bit fixed-point
// coefficients and rounding and clipping to uint8 after each pass.
// [Nearest] reproduces Pillow's nearest-neighbour scaler.
//
// # Preprocessing
//
// [HFProcessor] reproduces Hugging Face's ViTImageProcessor (and, with a
// crop size, DeiT-style processors), [TimmTransform] timm's evaluation
// transform (resize the short side to floor(input/crop_pct), centre crop,
// normalise) and [ResizeNormalize] a plain resize and normalise. All return
// float32 tensors laid out [3, H, W] (CHW), ready to be stacked into the
// [batch, 3, H, W] input of a ViT. [Input] describes what one model takes
// (size, channels, resize, crop and normalisation, from its config) and
// prepares images for it, grey models included.
package imageio
