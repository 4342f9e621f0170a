package models

import "fmt"

// DatasetName returns the dataset to use with m, loaded from file path:
// name if given, else the one the file records.
func (m *Model) DatasetName(name, path string) (string, error) {
	if name != "" {
		return name, nil
	}
	if m.Meta.Dataset == "" {
		return "", fmt.Errorf("%s records no dataset; pass --dataset", path)
	}
	return m.Meta.Dataset, nil
}
