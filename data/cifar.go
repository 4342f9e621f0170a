package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR binary record layout: a label byte (CIFAR-100: coarse then fine)
// followed by 3×32×32 pixels in CHW order.
const cifarImage = 3 * 32 * 32

// cifar10Names are the CIFAR-10 classes in label order.
var cifar10Names = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// cifar100Names are the CIFAR-100 fine classes in label order.
var cifar100Names = strings.Fields(`apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle
bowl boy bridge bus butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud
cockroach couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster
house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle
mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree
plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew
skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank
telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf
woman worm`)

// cifarFiles returns the batch files of a CIFAR binary split in dir, or an
// error naming what was expected.
func cifarFiles(dir string, hundred, train bool) ([]string, error) {
	var names []string
	switch {
	case hundred && train:
		names = []string{"train.bin"}
	case hundred:
		names = []string{"test.bin"}
	case train:
		names = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	default:
		names = []string{"test_batch.bin"}
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
		if _, ok := findFile(paths[i]); !ok {
			return nil, fmt.Errorf("expected %s", strings.Join(paths, ", "))
		}
	}
	return paths, nil
}

// decodeCIFAR reads CIFAR-10 (hundred=false) or CIFAR-100 fine-label
// (hundred=true) binary batch files.
func decodeCIFAR(paths []string, hundred bool) (*Set, error) {
	rec, classes := 1+cifarImage, 10
	if hundred {
		rec, classes = 2+cifarImage, 100
	}
	s := &Set{C: 3, H: 32, W: 32, Classes: classes}
	total := 0
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			total += int(st.Size()) / rec
		}
	}
	s.Pixels = make([]uint8, 0, total*cifarImage)
	s.Labels = make([]int32, 0, total)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 || len(b)%rec != 0 {
			return nil, fmt.Errorf("%s: size %d is not a positive multiple of the %d-byte CIFAR record (truncated?)", p, len(b), rec)
		}
		for off := 0; off < len(b); off += rec {
			l := b[off+rec-cifarImage-1] // CIFAR-100: the fine label is the second byte
			if int(l) >= classes {
				return nil, fmt.Errorf("%s: record %d has label %d, want < %d", p, off/rec, l, classes)
			}
			s.Labels = append(s.Labels, int32(l))
			s.Pixels = append(s.Pixels, b[off+rec-cifarImage:off+rec]...)
		}
	}
	s.N = len(s.Labels)
	return s, nil
}

// readClassList reads one class name per non-empty line, or returns nil if
// the file is missing or does not list exactly want names.
func readClassList(path string, want int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	if len(out) != want {
		return nil
	}
	return out
}
