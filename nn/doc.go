// Package nn provides neural-network layers as Modules, functional ops on
// autograd Vars with their backward passes, losses, and Graph, the
// executable form of every model in autorep.
//
// Conventions follow PyTorch: tensors are NCHW float32, parameter names are
// dotted ("layer1.0.conv1.weight"), BatchNorm uses momentum 0.1, eps 1e-5 and
// an unbiased running variance, Linear uses PyTorch's default init and
// Conv2d the Kaiming-normal (fan_out) init of torchvision's ResNets.
//
// Every ReLU call of a model is its own named *Site so that ReLU reduction
// (package reduce) and secure inference (package pi) can address it. A Site
// applies a plain ReLU, or the Activation installed on it (PolyMask is the
// frozen mixed ReLU/polynomial activation).
//
// Ops panic with a *ShapeError on inputs of the wrong shape; Graph.Run
// recovers those into ordinary errors, so code running whole models never
// sees the panic. Modules are not safe for concurrent use.
package nn
