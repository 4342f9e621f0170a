// Package importrules holds the test of the secure stack's layering
// (docs/ARCHITECTURE.md, "Layering"): which packages may depend on which,
// checked over `go list -deps`. It has no code of its own.
package importrules
