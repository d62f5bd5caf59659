"""LoRA linear layers as one autograd step each: fewer operations where the model is small.

PEFT computes a LoRA linear layer as ``base(x) + lora_B(lora_A(dropout(x))) * scaling``: three
linear modules, a dropout module, a multiply and an add, each its own operation forward and
its own autograd node backward. At a width of a few hundred (loralab's tiny models, and the
small end of real ones on a CPU) each of those costs about as much in dispatch and memory
traffic as in arithmetic. ``FusedLoraLinear`` does the same arithmetic in three matrix
products forward (the LoRA product added in place, scaled, by ``addmm_``) and at most five
backward, with one autograd node, and saves only the input and the rank-``r`` projection.

Only the forward is replaced, per module, and only while the layer is in its plain state: the
parameters, the adapter files and everything PEFT does (merging, disabling adapters, several
adapters, DoRA, dropout, a bias on ``lora_B``, quantized or autocast layers) stay PEFT's own;
``FusedForward`` hands any call it does not cover to PEFT's forward unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from loralab.training.builders import Choice

__all__ = [
    "FusedLoraLinear",
    "apply_fused_lora",
    "choose_fused_lora",
    "lora_linear",
    "lora_linear_backward",
    "lora_parts",
    "remove_fused_lora",
]


class FusedLoraLinear(torch.autograd.Function):
    """``x @ W.T + b + scaling * (x @ A.T) @ B.T`` with the gradients of ``x``, ``A`` and ``B``.

    ``W`` and ``b`` are the frozen base layer's (they get no gradient); ``A`` is ``[r, in]``,
    ``B`` is ``[out, r]``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, lora_a, lora_b, scaling):  # type: ignore[override]
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        out, projected = lora_linear(flat, weight, bias, lora_a, lora_b, scaling)
        ctx.save_for_backward(flat, projected, weight, lora_a, lora_b)
        ctx.scaling = scaling
        ctx.shape = shape
        return out.view(*shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        flat, projected, weight, lora_a, lora_b = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x, grad_a, grad_b = lora_linear_backward(
            grad.reshape(-1, grad.shape[-1]),
            flat,
            projected,
            weight,
            lora_a,
            lora_b,
            ctx.scaling,
            need_x=needs[0],
            need_a=needs[3],
            need_b=needs[4],
        )
        return (
            None if grad_x is None else grad_x.view(ctx.shape),
            None,
            None,
            grad_a,
            grad_b,
            None,
        )


def lora_linear(flat, weight, bias, lora_a, lora_b, scaling):
    """``flat @ weight.T + bias + scaling * (flat @ lora_a.T) @ lora_b.T`` on ``[tokens, in]``;
    returns it and the rank-r projection ``flat @ lora_a.T`` (None without a LoRA pair:
    ``lora_a`` None is a frozen linear layer alone)."""
    out = F.linear(flat, weight, bias)
    if lora_a is None:
        return out, None
    projected = flat @ lora_a.t()  # [tokens, r]
    out.addmm_(projected, lora_b.t(), alpha=scaling)
    return out, projected


def lora_linear_backward(
    grad, flat, projected, weight, lora_a, lora_b, scaling, *, need_x, need_a, need_b
):
    """The gradients of ``lora_linear`` for the input and the LoRA pair, from the output's
    ``grad`` ``[tokens, out]``; None where not needed (the base weight and bias are frozen)."""
    grad_x = grad_a = grad_b = None
    g_b = grad @ lora_b if lora_a is not None else None  # [tokens, r]
    if need_x:
        grad_x = grad @ weight
        if g_b is not None:
            grad_x.addmm_(g_b, lora_a, alpha=scaling)
    if need_a and g_b is not None:
        grad_a = (g_b.t() @ flat).mul_(scaling)
    if need_b and g_b is not None:
        grad_b = (grad.t() @ projected).mul_(scaling)
    return grad_x, grad_a, grad_b


class FusedForward:
    """The forward of one PEFT ``lora.Linear``: fused while the layer is plain, PEFT's otherwise.

    Set as the module's instance attribute ``forward`` (``apply_fused_lora``); a module's
    ``__call__`` looks there first, so hooks and the class stay PEFT's.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.peft_forward = type(module).forward.__get__(module)

    def __call__(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        parts = None if args or kwargs else lora_parts(self.module, x)
        if parts is None:
            return self.peft_forward(x, *args, **kwargs)
        return FusedLoraLinear.apply(x, *parts)


def lora_parts(m: torch.nn.Module, x: torch.Tensor) -> tuple | None:
    """``(weight, bias, lora_A, lora_B, scaling)`` of a PEFT ``lora.Linear`` in its plain state
    for input ``x``, or None where PEFT's own forward must run (``_plain``; a disabled, merged
    or mixed adapter)."""
    if m.disable_adapters or m.merged or len(m.active_adapters) != 1:
        return None
    name = m.active_adapters[0]
    if name not in m.lora_A or not _plain(m, name, x):
        return None
    base = m.base_layer
    return base.weight, base.bias, m.lora_A[name].weight, m.lora_B[name].weight, m.scaling[name]


def _plain(m: torch.nn.Module, name: str, x: torch.Tensor) -> bool:
    """Vanilla LoRA (no DoRA or other variant, no dropout, no ``lora_B`` bias) on a frozen float
    ``nn.Linear`` of the input's dtype, outside autocast."""
    if name in m.lora_variant or not isinstance(m.lora_dropout[name], torch.nn.Identity):
        return False
    if m.lora_B[name].bias is not None or getattr(m, "fan_in_fan_out", False):
        return False
    base = m.base_layer
    if type(base) is not torch.nn.Linear or torch.is_autocast_enabled(x.device.type):
        return False
    if base.weight.requires_grad or (base.bias is not None and base.bias.requires_grad):
        return False  # lora.bias "all" trains the base biases: PEFT's forward gives their grads
    dtype = x.dtype
    return (
        base.weight.dtype == dtype
        and m.lora_A[name].weight.dtype == dtype
        and dtype.is_floating_point
    )


def _lora_linears(model: torch.nn.Module):
    from peft.tuners.lora.layer import Linear as LoraLinear

    for module in model.modules():
        if type(module) is LoraLinear:  # subclasses (quantized layers) keep their own forward
            yield module


def apply_fused_lora(model: torch.nn.Module) -> int:
    """Give every plain PEFT ``lora.Linear`` of ``model`` the fused forward; returns how many.

    Calling it again changes nothing; ``remove_fused_lora`` undoes it.
    """
    count = 0
    for module in _lora_linears(model):
        if not isinstance(module.__dict__.get("forward"), FusedForward):
            module.forward = FusedForward(module)
        count += 1
    return count


def remove_fused_lora(model: torch.nn.Module) -> int:
    """PEFT's own forward back on every layer ``apply_fused_lora`` changed; returns how many."""
    count = 0
    for module in _lora_linears(model):
        if isinstance(module.__dict__.get("forward"), FusedForward):
            del module.forward
            count += 1
    return count


def choose_fused_lora(setting: bool | None, lora: Any) -> Choice:
    """Whether the run fuses its LoRA linear layers, and why.

    ``setting`` is ``train.fused_lora``; empty (auto) means on wherever it applies: vanilla LoRA
    without dropout (``lora.dropout: 0``, the default) and without DoRA. Layers it cannot cover
    (a quantized base, autocast) keep PEFT's forward either way.
    """
    if setting is False:
        return Choice(False, "train.fused_lora")
    blockers = []
    if lora.dropout:
        blockers.append(f"lora.dropout is {lora.dropout}")
    if lora.use_dora:
        blockers.append("lora.use_dora is on")
    if blockers:
        return Choice(False, f"off: {' and '.join(blockers)} (PEFT's own layers)")
    if setting:
        return Choice(True, "train.fused_lora")
    return Choice(True, "on: vanilla LoRA without dropout")
