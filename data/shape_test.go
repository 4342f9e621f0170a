package data

import (
	"path/filepath"
	"testing"
)

func TestShapeOf(t *testing.T) {
	empty := t.TempDir() // known names need no files
	for name, want := range map[string]struct {
		shape   [3]int
		classes int
	}{
		"mnist": {[3]int{1, 28, 28}, 10}, "fashion_mnist": {[3]int{1, 28, 28}, 10}, "cifar-10": {[3]int{3, 32, 32}, 10},
		"cifar100": {[3]int{3, 32, 32}, 100}, "tiny-imagenet": {[3]int{3, 64, 64}, 200},
	} {
		s, c, err := ShapeOf(empty, name)
		if err != nil || s != want.shape || c != want.classes {
			t.Errorf("%s: %v %d %v, want %v %d", name, s, c, err, want.shape, want.classes)
		}
	}
	useTempCache(t)
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "imgs"), folderFiles(false))
	if s, c, err := ShapeOf(dir, "folder:imgs"); err != nil || s != [3]int{3, 5, 6} || c != 3 {
		t.Errorf("folder: %v %d %v", s, c, err)
	}
	if _, _, err := ShapeOf(empty, "folder:absent"); err == nil {
		t.Error("an absent folder has a shape")
	}
}
