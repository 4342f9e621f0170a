package data

// ShapeOf returns the image shape (C, H, W) and class count of dataset
// name: from its Info without touching the disk when the name is known,
// else (folder:PATH) by loading its test split from dir.
func ShapeOf(dir, name string) ([3]int, int, error) {
	if info, ok := Lookup(name); ok {
		return info.Shape, info.Classes, nil
	}
	s, err := Load(dir, name, false)
	if err != nil {
		return [3]int{}, 0, err
	}
	return s.Shape(), s.Classes, nil
}
