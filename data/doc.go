// Package data loads the image classification datasets autorep trains and
// evaluates on, caches their decoded pixels, and feeds them to training as
// normalised, optionally augmented float32 batches.
//
// # Where datasets are found
//
// The data directory is chosen by [Dir]: the --data flag, else
// $AUTOREP_DATA, else ~/.cache/autorep/data. [Load] looks there for each
// dataset under its standard name and layout:
//
//	mnist, fashion-mnist  mnist/, fashion-mnist/ with the four IDX files (.gz or not)
//	cifar10               cifar-10-batches-bin/ (binary batches), else an ImageFolder
//	                      tree cifar-10-jpg/ or its archive cifar-10-jpg.tar.gz
//	cifar100              cifar-100-binary/ (train.bin, test.bin; fine labels)
//	tiny-imagenet         tiny-imagenet-200/, else tiny-imagenet-200-subset20/ or its
//	                      .tar.gz (train/<wnid>/images/*.JPEG, val/images +
//	                      val/val_annotations.txt, classes from wnids.txt, sorted)
//	folder:PATH           any ImageFolder directory or .tar.gz: train/<class>/*.jpg|png
//	                      and test/<class>/... (or val/<class>/...)
//
// Classes of ImageFolder trees are the sorted subdirectories of train/;
// images are in sorted path order, so loading is deterministic. Errors for
// missing or corrupt data name the paths that were expected.
//
// # Decoding and caching
//
// JPEGs are decoded in parallel on all cores, with libjpeg's chroma
// upsampling and colour conversion so that pixels agree with PIL and
// torchvision to within a couple of levels. The decoded uint8 pixels are
// cached under [CacheDir] (os.UserCacheDir()/autorep/decoded, or
// $AUTOREP_CACHE; "off" disables it) in a file with a header and a CRC-32C,
// keyed by the source files' paths, sizes and modification times, so the
// data directory may be read-only and a second load takes a fraction of a
// second. A corrupt or stale cache file is simply rebuilt.
//
// # Batches
//
// [NewLoader] turns a [Set] into batches of [B,C,H,W] normalised tensors.
// Shuffling and augmentation (random crop with zero padding 4, horizontal
// flip) are determined by (Seed, epoch), so a resumed run sees the same
// batches; a goroutine prepares the next batches while the caller trains.
//
// # Downloading
//
// [Fetch] (the `autorep data fetch NAME` command) downloads a dataset from
// its canonical source with a progress bar, verifies its checksum, renames
// the file into place only when complete, and unpacks archives.
package data
