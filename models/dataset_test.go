package models

import (
	"strings"
	"testing"
)

func TestDatasetName(t *testing.T) {
	m := &Model{}
	if _, err := m.DatasetName("", "m.safetensors"); err == nil || !strings.Contains(err.Error(), "m.safetensors records no dataset") {
		t.Errorf("no dataset anywhere: %v", err)
	}
	m.Meta.Dataset = "mnist"
	for given, want := range map[string]string{"": "mnist", "fashion-mnist": "fashion-mnist"} {
		if got, err := m.DatasetName(given, "m.safetensors"); err != nil || got != want {
			t.Errorf("DatasetName(%q) = %q, %v; want %q", given, got, err, want)
		}
	}
}
