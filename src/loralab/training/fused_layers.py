"""RMSNorm and SwiGLU MLPs as one autograd step each: the same numbers, fewer tensors kept.

Without gradient checkpointing, a decoder layer of Llama, Qwen2/3 or Mistral keeps for its
backward pass every intermediate tensor autograd needs, and the MLP's are the largest: its
``down_proj(act_fn(gate_proj(x)) * up_proj(x))`` keeps ``gate``, ``up``, ``silu(gate)`` and
their product (down's input), four tensors of the intermediate size (1,536 on SmolLM2-135M,
against a hidden size of 576). ``FusedLoraMLP`` computes the three projections itself (frozen
``nn.Linear`` layers or plain PEFT LoRA layers, as ``fused_lora.py`` does) and keeps ``gate``
and ``up`` alone: silu and the product are recomputed in its backward, an elementwise pass
that costs little next to the matrix products. Measured on SmolLM2-135M with LoRA r16 on every
linear layer: 42.7 KB kept per token and layer before, 30.4 KB after (0.71x), the same logits
and gradients to 1e-8. Where the projections are not plain (PEFT's layers kept with
``train.fused_lora: false``, DoRA, dropout), ``SwiGLU`` still drops ``silu(gate)``.

``FusedRMSNorm`` is the norm as one node instead of six (autograd already keeps only the
input and the reciprocal RMS of a norm whose weight is frozen); with a trained weight it also
drops the normalised copy. This is what Liger-Kernel's Triton kernels do on a GPU
(``train.liger_kernel``), in plain PyTorch for the CPU.

Only the ``forward`` of each module instance is replaced, only for the classes whose code this
reproduces (``_NORMS``, ``_MLPS``), and only while the call is a plain float32 one outside
autocast: anything else (bf16, autocast, another activation) goes to the module's own forward.
"""

from __future__ import annotations

import torch

from loralab.training.builders import Choice
from loralab.training.fused_lora import lora_linear, lora_linear_backward, lora_parts

__all__ = [
    "FusedLoraMLP",
    "FusedRMSNorm",
    "SwiGLU",
    "apply_fused_layers",
    "choose_fused_layers",
    "remove_fused_layers",
]

# transformers classes whose forward is exactly ``weight * (x * rsqrt(mean(x²) + eps))`` and
# ``down_proj(act_fn(gate_proj(x)) * up_proj(x))`` (read in transformers 5's modeling files;
# Gemma's norm, ``(1 + weight)``, is deliberately absent).
_NORMS = frozenset({"LlamaRMSNorm", "Qwen2RMSNorm", "Qwen3RMSNorm", "MistralRMSNorm"})
_MLPS = frozenset({"LlamaMLP", "Qwen2MLP", "Qwen3MLP", "MistralMLP"})
_SILU = frozenset({"SiLU", "SiLUActivation"})


class FusedRMSNorm(torch.autograd.Function):
    """``weight * x * rsqrt(mean(x², -1) + eps)``, saving ``x`` and the reciprocal RMS only."""

    @staticmethod
    def forward(ctx, x, weight, eps):  # type: ignore[override]
        rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True).add_(eps))
        ctx.save_for_backward(x, rstd, weight)
        return (x * rstd).mul_(weight)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, rstd, weight = ctx.saved_tensors
        normed = x * rstd
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            g = grad * weight
            dot = (g * normed).mean(-1, keepdim=True)
            grad_x = g.sub_(normed.mul_(dot)).mul_(rstd)
            normed = None  # consumed in place above
        if ctx.needs_input_grad[1]:
            if normed is None:
                normed = x * rstd
            grad_w = (grad * normed).reshape(-1, normed.shape[-1]).sum(0)
        return grad_x, grad_w, None


class SwiGLU(torch.autograd.Function):
    """``silu(gate) * up``, saving ``gate`` and ``up`` (``silu(gate)`` is recomputed)."""

    @staticmethod
    def forward(ctx, gate, up):  # type: ignore[override]
        ctx.save_for_backward(gate, up)
        return torch.nn.functional.silu(gate).mul_(up)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        gate, up = ctx.saved_tensors
        sig = torch.sigmoid(gate)
        silu = gate * sig
        grad_up = grad * silu if ctx.needs_input_grad[1] else None
        grad_gate = None
        if ctx.needs_input_grad[0]:
            # d silu/d gate = sig * (1 + gate * (1 - sig)) = sig + silu * (1 - sig)
            grad_gate = (grad * up).mul_(sig.add_(silu.mul_(1 - sig)))
        return grad_gate, grad_up


def _plain(x: torch.Tensor, *params: torch.Tensor) -> bool:
    if x.dtype != torch.float32 or torch.is_autocast_enabled(x.device.type):
        return False
    return all(p.dtype == torch.float32 for p in params)


class _NormForward:
    """The forward of one transformers RMSNorm: fused while plain, the module's own otherwise."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.own = type(module).forward.__get__(module)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m = self.module
        if not _plain(x, m.weight):
            return self.own(x)
        return FusedRMSNorm.apply(x, m.weight, m.variance_epsilon)


class FusedLoraMLP(torch.autograd.Function):
    """``down(silu(gate(x)) * up(x))`` for three frozen linear layers, each with or without a
    LoRA pair, saving ``x``, ``gate(x)``, ``up(x)`` and the rank-``r`` projections: the product
    ``silu(gate) * up``, down's input, is recomputed in the backward instead of kept.

    Each projection is ``(weight, bias, lora_A, lora_B, scaling)``, ``lora_A``/``lora_B`` None
    for a layer without LoRA, flattened into the arguments (autograd gives gradients per
    argument): ``x, *gate, *up, *down``.
    """

    @staticmethod
    def forward(ctx, x, *parts):  # type: ignore[override]
        gate_p, up_p, down_p = parts[0:5], parts[5:10], parts[10:15]
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        gate, gate_r = lora_linear(flat, *gate_p)
        up, up_r = lora_linear(flat, *up_p)
        out, down_r = lora_linear(torch.nn.functional.silu(gate).mul_(up), *down_p)
        tensors = [p for i, p in enumerate(parts) if i % 5 != 4]  # each (weight, bias, A, B)
        ctx.save_for_backward(flat, gate, up, gate_r, up_r, down_r, *tensors)
        ctx.scalings = (gate_p[4], up_p[4], down_p[4])
        ctx.shape = shape
        return out.view(*shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        flat, gate, up, gate_r, up_r, down_r, *saved = ctx.saved_tensors
        gw, _, ga, gb, uw, _, ua, ub, dw, _, da, db = saved
        needs = ctx.needs_input_grad
        g_s, u_s, d_s = ctx.scalings
        grad = grad.reshape(-1, grad.shape[-1])
        sig = torch.sigmoid(gate)
        silu = gate * sig
        hidden = silu * up  # down's input, recomputed
        grad_h, grad_da, grad_db = lora_linear_backward(
            grad, hidden, down_r, dw, da, db, d_s, need_x=True, need_a=needs[13], need_b=needs[14]
        )
        del hidden
        grad_up = grad_h * silu
        grad_gate = grad_h.mul_(up).mul_(sig.add_(silu.mul_(1 - sig)))
        del sig, silu
        grad_x, grad_ga, grad_gb = lora_linear_backward(
            grad_gate, flat, gate_r, gw, ga, gb, g_s, need_x=needs[0], need_a=needs[3],
            need_b=needs[4],
        )  # fmt: skip
        grad_x_up, grad_ua, grad_ub = lora_linear_backward(
            grad_up, flat, up_r, uw, ua, ub, u_s, need_x=needs[0], need_a=needs[8],
            need_b=needs[9],
        )  # fmt: skip
        grad_x = grad_x.add_(grad_x_up).view(ctx.shape) if needs[0] else None
        return (
            grad_x,
            *(None, None, grad_ga, grad_gb, None),
            *(None, None, grad_ua, grad_ub, None),
            *(None, None, grad_da, grad_db, None),
        )


def _projection(m: torch.nn.Module, x: torch.Tensor, lora_class: type | None) -> tuple | None:
    """``(weight, bias, lora_A, lora_B, scaling)`` of one MLP projection for ``FusedLoraMLP``:
    a frozen ``nn.Linear``, or a plain PEFT LoRA layer (``lora_class``, None when LoRA layers
    are not to be fused); None for
    anything else (hooks, quantized or trainable base weights, DoRA, dropout, ...)."""
    if m._forward_hooks or m._forward_pre_hooks:
        return None
    if type(m) is torch.nn.Linear:
        frozen = not m.weight.requires_grad and (m.bias is None or not m.bias.requires_grad)
        return (m.weight, m.bias, None, None, 0.0) if frozen and _plain(x, m.weight) else None
    return lora_parts(m, x) if lora_class is not None and type(m) is lora_class else None


class _MLPForward:
    """The forward of one SwiGLU MLP: ``FusedLoraMLP`` when its three projections allow it,
    else the projections as they are (LoRA or not) around ``SwiGLU``, else the module's own."""

    def __init__(self, module: torch.nn.Module, lora: bool) -> None:
        self.module = module
        self.own = type(module).forward.__get__(module)
        self.lora_class: type | None = None
        if lora:
            from peft.tuners.lora.layer import Linear as LoraLinear

            self.lora_class = LoraLinear

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m = self.module
        if not _plain(x):
            return self.own(x)
        parts = [_projection(p, x, self.lora_class) for p in (m.gate_proj, m.up_proj, m.down_proj)]
        if all(part is not None for part in parts):
            return FusedLoraMLP.apply(x, *parts[0], *parts[1], *parts[2])
        gate, up = m.gate_proj(x), m.up_proj(x)
        if not _plain(gate, up):
            return m.down_proj(m.act_fn(gate) * up)
        return m.down_proj(SwiGLU.apply(gate, up))


def _targets(model: torch.nn.Module):
    for module in model.modules():
        cls = type(module)
        if not cls.__module__.startswith("transformers.models."):
            continue
        if cls.__name__ in _NORMS and hasattr(module, "variance_epsilon"):
            yield module, _NormForward
        elif cls.__name__ in _MLPS and type(getattr(module, "act_fn", None)).__name__ in _SILU:
            yield module, _MLPForward


def apply_fused_layers(model: torch.nn.Module, *, lora: bool = True) -> int:
    """Give every RMSNorm and SwiGLU MLP of ``model`` the fused forward; returns how many.

    ``lora``: whether an MLP may compute its PEFT LoRA projections itself (``FusedLoraMLP``);
    False (``train.fused_lora: false``) leaves them PEFT's layers around ``SwiGLU``. Calling it
    again replaces nothing but that choice; ``remove_fused_layers`` undoes it.
    """
    count = 0
    for module, forward in _targets(model):
        module.forward = forward(module, lora) if forward is _MLPForward else forward(module)
        count += 1
    return count


def remove_fused_layers(model: torch.nn.Module) -> int:
    """The modules' own forward back on every one ``apply_fused_layers`` changed."""
    count = 0
    for module, forward in _targets(model):
        if isinstance(module.__dict__.get("forward"), forward):
            del module.forward
            count += 1
    return count


def choose_fused_layers(setting: bool | None, device: str, *, liger_kernel: bool) -> Choice:
    """Whether the run fuses its RMSNorm and SwiGLU MLP layers, and why.

    ``setting`` is ``train.fused_layers``; empty (auto) means on, except where Liger-Kernel's
    kernels already replace those layers (``train.liger_kernel`` on CUDA). Only float32 layers
    are fused, so a bf16 or fp16 model keeps its own layers either way.
    """
    if setting is False:
        return Choice(False, "train.fused_layers")
    if liger_kernel:
        return Choice(False, "off: Liger-Kernel's kernels replace these layers")
    if setting:
        return Choice(True, "train.fused_layers")
    return Choice(True, "on: fewer activations kept")
