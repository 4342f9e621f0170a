// Package models builds the networks autorep trains, reduces and serves
// (LeNet-5, CIFAR ResNets, ResNet-18 and WideResNet-22-8) as nn.Graphs
// whose every ReLU call is a named *nn.Site, and loads/saves them as model
// files.
package models

import (
	"fmt"
	"math/rand"
	"sort"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/nn"
)

// Model is a network with the facts needed to rebuild it.
type Model struct {
	// Arch is the architecture name given to New.
	Arch string
	// Classes is the number of outputs.
	Classes int
	// Input is the image shape C, H, W.
	Input [3]int
	// Net is the executable graph.
	Net *nn.Graph
	// Sites are Net's ReLU call sites in execution order.
	Sites []*nn.Site
	// Meta is the model-file metadata (architecture, dataset, records).
	Meta modelfile.Meta
}

// builder is an architecture constructor.
type builder func(b *graphBuilder, classes int, in [3]int) error

var archs = map[string]struct {
	build builder
	doc   string
}{
	"lenet":         {buildLeNet, "LeNet-5 (conv 6@5x5 pad 2, pool, conv 16@5x5, pool, fc 120, fc 84), 4 ReLU sites"},
	"resnet20":      {cifarResNet(3), "CIFAR ResNet-20 (He et al., 16-32-64, 1x1-conv shortcuts), 19 ReLU sites"},
	"resnet32":      {cifarResNet(5), "CIFAR ResNet-32, 31 ReLU sites"},
	"resnet56":      {cifarResNet(9), "CIFAR ResNet-56, 55 ReLU sites"},
	"resnet18":      {resNet18(false), "ResNet-18 for small images (3x3 stem, no stem ReLU: resnet18_in of SNL/AutoReP), 16 ReLU sites"},
	"resnet18_relu": {resNet18(true), "ResNet-18 for small images with a stem ReLU, 17 ReLU sites"},
	"wrn22_8":       {buildWRN(22, 8), "pre-activation WideResNet-22-8 without the final ReLU, 18 ReLU sites"},
}

// Names returns the architecture names New accepts, sorted.
func Names() []string {
	out := make([]string, 0, len(archs))
	for n := range archs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Describe returns a one-line description of an architecture ("" if unknown).
func Describe(arch string) string { return archs[arch].doc }

// DefaultSeed is the initialisation seed New uses.
const DefaultSeed = 1

// New builds architecture arch for classes outputs and C,H,W inputs, with
// weights initialised from DefaultSeed, in training mode. Every Site's
// Shape is filled for that input size.
func New(arch string, classes int, in [3]int) (*Model, error) {
	return NewSeeded(arch, classes, in, DefaultSeed)
}

// Limits on New's arguments. They are far above every dataset here and keep
// a corrupt model file (whose metadata give classes and input) from making
// Load allocate gigabytes of parameters.
const (
	maxClasses  = 100_000
	maxChannels = 64
	maxSide     = 512
)

// NewSeeded is New with an explicit initialisation seed.
func NewSeeded(arch string, classes int, in [3]int, seed int64) (*Model, error) {
	a, ok := archs[arch]
	if !ok {
		return nil, fmt.Errorf("models: unknown architecture %q (have %v)", arch, Names())
	}
	if classes < 1 {
		return nil, fmt.Errorf("models: %s: need at least 1 class, got %d", arch, classes)
	}
	if in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return nil, fmt.Errorf("models: %s: bad input shape %v", arch, in)
	}
	if classes > maxClasses || in[0] > maxChannels || in[1] > maxSide || in[2] > maxSide {
		return nil, fmt.Errorf("models: %s: %d classes and input %v exceed the limits (%d classes, %d channels, %dx%d pixels)",
			arch, classes, in, maxClasses, maxChannels, maxSide, maxSide)
	}
	b := &graphBuilder{g: &nn.Graph{}, rng: rand.New(rand.NewSource(seed))}
	if err := a.build(b, classes, in); err != nil {
		return nil, fmt.Errorf("models: %s for input %v: %w", arch, in, err)
	}
	// Shape inference plays the role of a dry forward pass: it checks
	// every op against the input size and records each Site's shape.
	if err := b.g.FillSiteShapes([]int{1, in[0], in[1], in[2]}); err != nil {
		return nil, fmt.Errorf("models: %s for input %v: %w", arch, in, err)
	}
	m := &Model{Arch: arch, Classes: classes, Input: in, Net: b.g, Sites: nn.Sites(b.g)}
	m.Meta = modelfile.Meta{Arch: arch, Classes: classes, Input: in}
	return m, nil
}

// CheckInput reports whether a batch of the given shape fits the model:
// [N, C, H, W] with N ≥ 1 and C, H, W equal to Input.
func (m *Model) CheckInput(shape []int) error {
	if len(shape) != 4 || shape[0] < 1 || shape[1] != m.Input[0] || shape[2] != m.Input[1] || shape[3] != m.Input[2] {
		return fmt.Errorf("models: %s expects input [N,%d,%d,%d], got %v", m.Arch, m.Input[0], m.Input[1], m.Input[2], shape)
	}
	return nil
}

// Forward runs the network on a batch x [N, C, H, W] and returns the
// logits [N, Classes]; a wrongly shaped input is an error.
func (m *Model) Forward(x *autograd.Var) (*autograd.Var, error) {
	if x == nil || x.Value == nil {
		return nil, fmt.Errorf("models: %s: nil input", m.Arch)
	}
	if err := m.CheckInput(x.Value.Shape); err != nil {
		return nil, err
	}
	if x.Value.Len() != x.Value.Shape[0]*m.Input[0]*m.Input[1]*m.Input[2] {
		return nil, fmt.Errorf("models: %s: input has %d values for shape %v", m.Arch, x.Value.Len(), x.Value.Shape)
	}
	y, err := m.Net.Run(x)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", m.Arch, err)
	}
	return y, nil
}

// SetTraining puts the network in training (true) or evaluation mode.
func (m *Model) SetTraining(training bool) { nn.SetTraining(m.Net, training) }

// ReLUCount returns the number of ReLUs per image at each site (in Sites
// order) and their total: the site size for a plain ReLU, the number of
// kept ReLUs for a PolyMask or other counting activation.
func (m *Model) ReLUCount() (perSite []int, total int) {
	perSite = make([]int, len(m.Sites))
	for i, s := range m.Sites {
		perSite[i] = s.ReLUCount()
		total += perSite[i]
	}
	return perSite, total
}
