"""fp32 Linear layers through oneDNN instead of the BLAS PyTorch links (MKL).

Why: MKL picks its kernels by CPU vendor, oneDNN by instruction set, so on some AMD CPUs oneDNN
runs the same IEEE fp32 products much faster and on others slower (docs/design.md, "Measured";
bench/update.py shows both): `cpu_matmul: auto` (agent/matmul_choice.py) picks per machine.
The forward and both backward products (input and weight gradients) go through
`torch.ops.mkldnn._linear_pointwise`, which takes ordinary strided tensors, so no layout
conversion is paid.
Only fp32 on the CPU outside autocast takes this path; bf16 autocast already reaches oneDNN
(and AMX where present) through PyTorch's own matmul.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_linear_pointwise = torch.ops.mkldnn._linear_pointwise


def onednn_available() -> bool:
    return torch.backends.mkldnn.is_available()


def onednn_product(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x @ W^T + b in oneDNN (`x` contiguous: see _OneDnnLinear)."""
    return _linear_pointwise(x, weight, bias, "none", [], "")


def onednn_input_grad(grad: Tensor, weight: Tensor) -> Tensor:
    """grad @ W: W.t() is a [in, out] view used as oneDNN's [N, K] weight, no copy."""
    return _linear_pointwise(grad, weight.t(), None, "none", [], "")


def onednn_weight_grad(grad: Tensor, x: Tensor) -> Tensor:
    """grad^T @ x: the batch is the reduction dim; x.t() is again a free weight view."""
    return _linear_pointwise(grad.t().contiguous(), x.t(), None, "none", [], "")


class _OneDnnLinear(torch.autograd.Function):
    """y = x @ W^T + b with all three products in oneDNN; gradients as nn.Linear's."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        # A strided input (a column slice of a replay batch) sends oneDNN's weight-gradient
        # product down a reorder path many times slower (docs/design.md): copy it once.
        x = x.contiguous()
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return onednn_product(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = onednn_input_grad(grad, weight)
        if ctx.needs_input_grad[1]:
            grad_w = onednn_weight_grad(grad, x)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(0)
        return grad_x, grad_w, grad_b


def onednn_applies(x: Tensor, onednn: bool) -> bool:
    """Whether a product with input `x` of a layer flagged `onednn` runs in oneDNN: fp32 on the
    CPU outside autocast and compilation, and enough rows to pay oneDNN's fixed cost."""
    return (
        onednn
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.dim() == 2
        and x.shape[0] >= ONEDNN_MIN_ROWS
        and not torch.is_autocast_enabled("cpu")
        # Inductor lowers _linear_pointwise only for frozen (constant) weights.
        and not torch.compiler.is_compiling()
    )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None, onednn: bool) -> Tensor:
    """F.linear, through oneDNN when asked and when it applies."""
    if onednn_applies(x, onednn):
        return _OneDnnLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)


class FastLinear(nn.Linear):
    """nn.Linear (same parameters, same state_dict keys) that can run through oneDNN."""

    onednn: bool = False

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias, self.onednn)


# oneDNN pays a fixed cost per call before any arithmetic, so it loses on small weights and on
# few rows (docs/design.md, "Measured", gives the figures behind both thresholds).
ONEDNN_MIN_WEIGHT_ELEMENTS = 16_384
ONEDNN_MIN_ROWS = 32


def set_onednn(module: nn.Module, enabled: bool) -> None:
    """Route the FastLinear layers of `module` that gain from it through oneDNN."""
    for layer in module.modules():
        if isinstance(layer, FastLinear):
            big_enough = layer.in_features * layer.out_features >= ONEDNN_MIN_WEIGHT_ELEMENTS
            layer.onednn = enabled and big_enough and onednn_available()
