// Package data loads image-classification datasets and feeds them to a
// model in shuffled, augmented, normalised mini-batches.
//
// A [Dataset] keeps every image as bytes, laid out [N, C, H, W], the way
// the files store them; conversion to float32 happens per batch. Datasets
// come from IDX files (MNIST, Fashion-MNIST: [ReadIDX], [LoadIDXDir],
// [FashionMNIST], [MNIST]), the CIFAR-10 binary release ([LoadCIFAR10]),
// folders of images, one sub-folder per class ([LoadImageFolder]), or a
// small real Fashion-MNIST subset compiled into the binary ([Embedded]).
// [Open] picks the right loader from one command-line string.
//
// A [Loader] cuts a dataset into batches of float32 tensors [B, C, H, W].
// Its worker goroutines decode, augment ([Augment]) and normalise
// ([Normalize]) batches ahead of the consumer. The order of an epoch and
// every random choice of augmentation are derived from (seed, epoch,
// position) only, so a run is reproducible whatever the goroutine
// scheduling, and an epoch can be resumed at any batch.
//
// Loading functions never trust the files they read: truncated or corrupt
// files, hostile headers and out-of-range labels give errors that name the
// file, not panics or huge allocations.
package data
