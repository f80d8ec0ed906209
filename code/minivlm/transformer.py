"""The pre-norm transformer encoder shared by ViT and both of CLIP's towers.

    z'_l = MSA(LN(z_{l-1})) + z_{l-1}
    z_l  = MLP(LN(z'_l)) + z'_l                    (Dosovitskiy et al., 2021, eqs. 2-3)

Normalising before each sublayer (pre-norm) keeps the residual path an identity, which is
what lets deep stacks train without a learning-rate warm-up trick (Xiong et al., 2020).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_int, check_tensor
from .attention import MultiHeadAttention, check_attn_implementation


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x): the sigmoid approximation of GELU OpenAI's CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the same function, as silu(z) = z sigmoid(z) with z = 1.702 x: one fused kernel
        # forward and one backward instead of three and five, twice as fast on a CPU
        return F.silu(1.702 * x) / 1.702


# A checkpoint must be run with the activation it was trained with: the two differ by ~1e-2.
ACTIVATIONS = {"gelu": nn.GELU, "quick_gelu": QuickGELU}


def check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")


class MLP(nn.Module):
    """Linear(D, D_mlp), activation, Linear(D_mlp, D_out), applied to each token on its own.

    D_out = out_width, D by default: the transformer's sublayer; the projectors of
    minivlm.projectors use it with another output width.
    """

    def __init__(
        self,
        width: int,
        mlp_dim: int,
        activation: str = "gelu",
        bias: bool = True,
        out_width: int | None = None,
    ):
        super().__init__()
        check_activation(activation)
        self.fc1 = nn.Linear(width, mlp_dim, bias=bias)
        self.act = ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(mlp_dim, width if out_width is None else out_width, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """One pre-norm encoder block: (B, n, D) -> (B, n, D)."""

    def __init__(
        self,
        width: int,
        n_heads: int,
        mlp_dim: int,
        activation: str = "gelu",
        eps: float = 1e-5,
        attn_implementation: str = "sdpa",
    ):
        super().__init__()
        check_attn_implementation(attn_implementation)
        # "eager" materialises the (n, n) weights, and self.attn returns them (a forward hook
        # reads them); "sdpa", the fused kernel, gives the same output without keeping them
        self.need_weights = attn_implementation == "eager"
        self.ln_1 = nn.LayerNorm(width, eps=eps)
        self.attn = MultiHeadAttention(width, n_heads)
        self.ln_2 = nn.LayerNorm(width, eps=eps)
        self.mlp = MLP(width, mlp_dim, activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask=mask, need_weights=self.need_weights)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of `depth` blocks.

    forward(x, mask=None, output_hidden_states=False): x (B, n, D) -> (B, n, D). With
    output_hidden_states it also returns a tuple of depth + 1 tensors (B, n, D): the input of
    the first block, then the output of every block, the layout of Hugging Face's
    `hidden_states` (LLaVA reads the penultimate entry). mask: boolean, True = may attend,
    broadcastable to (B, n_heads, n, n). attn_implementation: "sdpa" (fused) or "eager".
    """

    def __init__(
        self,
        width: int,
        depth: int,
        n_heads: int,
        mlp_dim: int,
        activation: str = "gelu",
        eps: float = 1e-5,
        attn_implementation: str = "sdpa",
    ):
        super().__init__()
        check_int(depth, "depth")
        self.width = width
        self.blocks = nn.ModuleList(
            Block(width, n_heads, mlp_dim, activation, eps, attn_implementation)
            for _ in range(depth)
        )

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, output_hidden_states: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        check_tensor(x, "x", dim=3, last=self.width, shape_doc="(B, n, D)")
        hidden_states = [x]
        for block in self.blocks:
            x = block(x, mask)
            hidden_states.append(x)
        return (x, tuple(hidden_states)) if output_hidden_states else x
