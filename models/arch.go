package models

import (
	"fmt"
	"math/rand"

	"github.com/autorep/autorep/nn"
)

// graphBuilder appends named nodes to a graph.
type graphBuilder struct {
	g   *nn.Graph
	rng *rand.Rand
}

// add appends op applied to from (the previous node if none) and returns
// the new node's index.
func (b *graphBuilder) add(name string, op nn.Module, from ...int) int {
	return b.g.Add(name, op, from...)
}

// last is the index of the most recent node (-1 = graph input).
func (b *graphBuilder) last() int { return len(b.g.Nodes) - 1 }

func (b *graphBuilder) conv(name string, from, in, out, k, stride, pad int, bias bool) int {
	return b.add(name, nn.NewConv2d(b.rng, in, out, k, stride, pad, 1, bias), from)
}

func (b *graphBuilder) bn(name string, from, c int) int {
	return b.add(name, nn.NewBatchNorm2d(c), from)
}

func (b *graphBuilder) relu(name string, from int) int {
	return b.add(name, &nn.Site{Name: name}, from)
}

// head appends global average pooling, flatten and the classifier.
func (b *graphBuilder) head(from, c, classes int) {
	b.add("avgpool", &nn.GlobalAvgPool{}, from)
	b.add("flatten", &nn.Flatten{})
	b.add("fc", nn.NewLinear(b.rng, c, classes, true))
}

// buildLeNet is LeNet-5: conv 6@5x5 pad 2 → ReLU → maxpool 2 → conv
// 16@5x5 → ReLU → maxpool 2 → flatten → fc 120 → ReLU → fc 84 → ReLU → fc.
func buildLeNet(b *graphBuilder, classes int, in [3]int) error {
	h, w := in[1]/2-4, in[2]/2-4 // after pool1 and the unpadded conv2
	if h < 2 || w < 2 {
		return fmt.Errorf("lenet needs inputs of at least 12x12")
	}
	b.add("conv1", nn.NewConv2d(b.rng, in[0], 6, 5, 1, 2, 1, true), -1)
	b.relu("relu1", b.last())
	b.add("pool1", &nn.MaxPool2d{Kernel: 2, Stride: 2})
	b.add("conv2", nn.NewConv2d(b.rng, 6, 16, 5, 1, 0, 1, true))
	b.relu("relu2", b.last())
	b.add("pool2", &nn.MaxPool2d{Kernel: 2, Stride: 2})
	b.add("flatten", &nn.Flatten{})
	b.add("fc1", nn.NewLinear(b.rng, 16*(h/2)*(w/2), 120, true))
	b.relu("relu3", b.last())
	b.add("fc2", nn.NewLinear(b.rng, 120, 84, true))
	b.relu("relu4", b.last())
	b.add("fc3", nn.NewLinear(b.rng, 84, classes, true))
	return nil
}

// basicBlock appends a post-activation ResNet basic block named prefix
// (conv-BN-ReLU-conv-BN, plus the shortcut, add, ReLU) reading node from,
// with a 1x1-conv + BN projection shortcut when the shape changes.
func (b *graphBuilder) basicBlock(prefix string, from, in, out, stride int) int {
	b.conv(prefix+".conv1", from, in, out, 3, stride, 1, false)
	b.bn(prefix+".bn1", b.last(), out)
	b.relu(prefix+".relu1", b.last())
	b.conv(prefix+".conv2", b.last(), out, out, 3, 1, 1, false)
	main := b.bn(prefix+".bn2", b.last(), out)
	short := from
	if stride != 1 || in != out {
		b.conv(prefix+".shortcut.0", from, in, out, 1, stride, 0, false)
		short = b.bn(prefix+".shortcut.1", b.last(), out)
	}
	b.add(prefix+".add", &nn.Add{}, main, short)
	return b.relu(prefix+".relu2", b.last())
}

// cifarResNet is He et al.'s CIFAR ResNet-(6n+2): 3x3 conv 16 + BN + ReLU,
// three stages of n basic blocks (16, 32, 64 channels; strides 1, 2, 2),
// global average pooling and a linear classifier. Shortcuts are 1x1
// convolutions + BN where the shape changes (as in the reference anchor
// script anchors/torch_resnet20_speed.py).
func cifarResNet(n int) builder {
	return func(b *graphBuilder, classes int, in [3]int) error {
		b.conv("conv1", -1, in[0], 16, 3, 1, 1, false)
		b.bn("bn1", b.last(), 16)
		x := b.relu("relu", b.last())
		c := 16
		for s, width := range []int{16, 32, 64} {
			for j := 0; j < n; j++ {
				stride := 1
				if s > 0 && j == 0 {
					stride = 2
				}
				x = b.basicBlock(fmt.Sprintf("layer%d.%d", s+1, j), x, c, width, stride)
				c = width
			}
		}
		b.head(x, c, classes)
		return nil
	}
}

// resNet18 is ResNet-18 for small images: 3x3 stride-1 stem conv 64 + BN
// (ReLU only if stemReLU), no max pooling, four stages of two basic blocks
// (64, 128, 256, 512; strides 1, 2, 2, 2), global average pooling, fc.
func resNet18(stemReLU bool) builder {
	return func(b *graphBuilder, classes int, in [3]int) error {
		b.conv("conv1", -1, in[0], 64, 3, 1, 1, false)
		x := b.bn("bn1", b.last(), 64)
		if stemReLU {
			x = b.relu("relu", x)
		}
		c := 64
		for s, width := range []int{64, 128, 256, 512} {
			for j := 0; j < 2; j++ {
				stride := 1
				if s > 0 && j == 0 {
					stride = 2
				}
				x = b.basicBlock(fmt.Sprintf("layer%d.%d", s+1, j), x, c, width, stride)
				c = width
			}
		}
		b.head(x, c, classes)
		return nil
	}
}

// preActBlock appends a pre-activation wide block (BN-ReLU-conv-BN-ReLU-
// conv + shortcut); when the shape changes the shortcut is a 1x1 conv of
// the pre-activated input, as in the WideResNet reference code.
func (b *graphBuilder) preActBlock(prefix string, from, in, out, stride int) int {
	b.bn(prefix+".bn1", from, in)
	act := b.relu(prefix+".relu1", b.last())
	b.conv(prefix+".conv1", act, in, out, 3, stride, 1, false)
	b.bn(prefix+".bn2", b.last(), out)
	b.relu(prefix+".relu2", b.last())
	main := b.conv(prefix+".conv2", b.last(), out, out, 3, 1, 1, false)
	short := from
	if stride != 1 || in != out {
		short = b.conv(prefix+".convShortcut", act, in, out, 1, stride, 0, false)
	}
	return b.add(prefix+".add", &nn.Add{}, main, short)
}

// buildWRN is the pre-activation WideResNet-depth-k (Zagoruyko &
// Komodakis): 3x3 conv 16, three groups of (depth−4)/6 wide blocks (16k,
// 32k, 64k channels; strides 1, 2, 2), a final BN without ReLU, global
// average pooling and fc. Dropping the final ReLU gives the 18 sites and
// 1,359,872 ReLUs (32x32) of DESIGN §1.4 for WRN-22-8.
func buildWRN(depth, k int) builder {
	return func(b *graphBuilder, classes int, in [3]int) error {
		n := (depth - 4) / 6
		b.conv("conv1", -1, in[0], 16, 3, 1, 1, false)
		x, c := b.last(), 16
		for g, width := range []int{16 * k, 32 * k, 64 * k} {
			for j := 0; j < n; j++ {
				stride := 1
				if g > 0 && j == 0 {
					stride = 2
				}
				x = b.preActBlock(fmt.Sprintf("block%d.layer.%d", g+1, j), x, c, width, stride)
				c = width
			}
		}
		x = b.bn("bn1", x, c)
		b.head(x, c, classes)
		return nil
	}
}
