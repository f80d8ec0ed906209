"""Projectors: how image features become tokens a language model can read.

LLaVA (Liu et al., 2023) turns the vision features Z_v = g(X_v) into language embeddings

    H_v = W . Z_v                      LLaVA 1.0: one linear map            LinearProjector
    H_v = W_2 GELU(W_1 Z_v)            LLaVA-1.5's "mlp2x_gelu"            MLPProjector

one token for each of the N patches. BLIP-2 (Li et al., 2023) instead lets a fixed number of
learned queries read the patches through cross-attention (the Q-Former), so the language
model sees n_queries tokens whatever N is                                  QFormerProjector

Between the two, Qwen2-VL's patch merger (Wang et al., 2024) concatenates each k x k block
of neighbouring patches before the MLP: k^2 times fewer tokens, nothing thrown away
before the projector has seen it                                           MergeProjector

Every projector maps patch features (B, N, vision_width) to (B, N_out, text_width), and
`n_tokens(N)` says what N_out is.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ._checks import check_int, check_tensor, is_number
from .attention import MultiHeadAttention
from .transformer import MLP


class Projector(nn.Module):
    """What the projectors share: the widths, the input check and n_tokens."""

    def __init__(self, vision_width: int, text_width: int):
        super().__init__()
        check_int(vision_width, "vision_width")
        check_int(text_width, "text_width")
        self.vision_width, self.text_width = vision_width, text_width

    def n_tokens(self, n_patches: int) -> int:
        """N_out, the number of visual tokens for N patch features: one per patch."""
        check_int(n_patches, "n_patches")
        return n_patches

    def _check(self, Z_v: torch.Tensor) -> None:
        check_tensor(
            Z_v, "patch features", dim=3, last=self.vision_width, shape_doc="(B, N, vision_width)"
        )


class LinearProjector(Projector):
    """H_v = W . Z_v (LLaVA 1.0): (B, N, vision_width) -> (B, N, text_width)."""

    def __init__(self, vision_width: int, text_width: int):
        super().__init__(vision_width, text_width)
        self.W = nn.Linear(vision_width, text_width)

    def forward(self, Z_v: torch.Tensor) -> torch.Tensor:
        self._check(Z_v)
        return self.W(Z_v)


class MLPProjector(Projector):
    """Linear, GELU, Linear, LLaVA-1.5's mlp2x_gelu: (B, N, vision_width) -> (B, N, text_width).

    The transformer's MLP with text_width as its hidden and output width; `from_hf` renames
    Hugging Face's linear_1 and linear_2 (LlavaMultiModalProjector) to mlp.fc1 and mlp.fc2.
    """

    def __init__(self, vision_width: int, text_width: int, bias: bool = True):
        super().__init__(vision_width, text_width)
        # W_1, the exact (erf) GELU of Hugging Face's "gelu", W_2
        self.mlp = MLP(vision_width, text_width, "gelu", bias=bias, out_width=text_width)

    def forward(self, Z_v: torch.Tensor) -> torch.Tensor:
        self._check(Z_v)
        return self.mlp(Z_v)


def merge_blocks(Z_v: torch.Tensor, k: int) -> torch.Tensor:
    """Each k x k block of a square grid of patches as one token, its patches side by side:
    (B, N, D) -> (B, N / k^2, k^2 D), blocks row by row and each block's patches row by row."""
    B, N, D = Z_v.shape
    m = _grid_side(N, k) // k  # blocks per side
    x = Z_v.reshape(B, m, k, m, k, D)  # (B, N, D) -> (B, rows, k, cols, k, D), row-major
    # (B, m, m, k, k, D) -> (B, m m, k k D)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, m * m, k * k * D)


def _grid_side(n_patches: int, k: int) -> int:
    side = math.isqrt(n_patches)
    if side * side != n_patches or side % k:
        raise ValueError(
            f"merge={k} needs a square grid of patches whose side it divides, got N={n_patches}"
        )
    return side


class MergeProjector(Projector):
    """Concatenate each k x k block of neighbouring patches (merge_blocks), then Linear, GELU,
    Linear: (B, N, vision_width) -> (B, N / k^2, text_width). The N patches must form a square
    grid (no class token) whose side k divides.
    """

    def __init__(self, vision_width: int, text_width: int, merge: int = 2):
        super().__init__(vision_width, text_width)
        check_int(merge, "merge")
        self.k = merge
        self.mlp = MLP(merge * merge * vision_width, text_width, "gelu", out_width=text_width)

    def n_tokens(self, n_patches: int) -> int:
        check_int(n_patches, "n_patches")
        return (_grid_side(n_patches, self.k) // self.k) ** 2

    def forward(self, Z_v: torch.Tensor) -> torch.Tensor:
        self._check(Z_v)
        return self.mlp(merge_blocks(Z_v, self.k))


class QFormerBlock(nn.Module):
    """Queries read the patches, then think on their own: (B, n_q, d) -> (B, n_q, d).

    BLIP-2's Q-Former blocks also let the queries attend to each other; over learned
    constants in a one-block model that would compute a constant, so this small version
    keeps the two parts that matter: cross-attention to the patches and an MLP.
    """

    def __init__(self, width: int, n_heads: int, mlp_ratio: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.cross_attn = MultiHeadAttention(width, n_heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width, round(width * mlp_ratio))

    def forward(
        self, queries: torch.Tensor, patches: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(queries, the cross-attention weights (B, h, n_q, N) or None without need_weights)."""
        # pre-norm residuals, as in the vision tower: queries (B, n_q, d), patches (B, N, d)
        read, weights = self.cross_attn(self.ln_1(queries), patches, need_weights=need_weights)
        queries = queries + read
        return queries + self.mlp(self.ln_2(queries)), weights


class QFormerProjector(Projector):
    """n_queries learned queries cross-attend to the patch features (BLIP-2, small version).

    (B, N, vision_width) -> (B, n_queries, text_width), whatever N is: the language model's
    sequence no longer grows with the image's resolution. width: the queries' internal width
    d (None: text_width); it must be divisible by n_heads.
    """

    def __init__(
        self,
        vision_width: int,
        text_width: int,
        n_queries: int = 8,
        n_heads: int = 4,
        depth: int = 1,
        width: int | None = None,
        mlp_ratio: float = 4.0,
    ):
        super().__init__(vision_width, text_width)
        for value, name in ((n_queries, "n_queries"), (n_heads, "n_heads"), (depth, "depth")):
            check_int(value, name)
        d = text_width if width is None else width
        check_int(d, "width")
        if not is_number(mlp_ratio) or not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be a positive number, got {mlp_ratio!r}")
        self.n_queries = n_queries
        self.queries = nn.Parameter(torch.randn(n_queries, d) * 0.02)  # learned, BLIP-2's std
        # BLIP-2 normalises the frozen encoder's output (ln_vision) before the Q-Former reads it
        self.ln_vision = nn.LayerNorm(vision_width)
        self.W_in = nn.Linear(vision_width, d)  # patches into the queries' width
        self.blocks = nn.ModuleList(QFormerBlock(d, n_heads, mlp_ratio) for _ in range(depth))
        self.ln_out = nn.LayerNorm(d)
        self.W_out = nn.Linear(d, text_width)  # BLIP-2's language projection

    def n_tokens(self, n_patches: int) -> int:
        """N_out = n_queries, whatever the number of patches."""
        check_int(n_patches, "n_patches")
        return self.n_queries

    def _read(self, Z_v: torch.Tensor, need_weights: bool) -> tuple[torch.Tensor, list]:
        """The queries after the last block, (B, n_q, d), and each block's weights."""
        self._check(Z_v)
        patches = self.W_in(self.ln_vision(Z_v))  # (B, N, vision_width) -> (B, N, d)
        x = self.queries.expand(Z_v.shape[0], -1, -1)  # (n_q, d) -> (B, n_q, d), shared by images
        maps = []
        for block in self.blocks:
            x, weights = block(x, patches, need_weights)
            maps.append(weights)
        return x, maps

    def forward(self, Z_v: torch.Tensor) -> torch.Tensor:
        x, _ = self._read(Z_v, need_weights=False)  # the fused kernel: no weights to keep
        return self.W_out(self.ln_out(x))  # (B, n_q, d) -> (B, n_q, text_width)

    @torch.no_grad()
    def attention_weights(self, Z_v: torch.Tensor) -> torch.Tensor:
        """Where the queries look: each block's cross-attention weights over the patches,
        (depth, B, n_heads, n_queries, N); every row sums to 1."""
        return torch.stack(self._read(Z_v, need_weights=True)[1])


PROJECTORS = {
    "linear": LinearProjector,
    "mlp": MLPProjector,
    "merge": MergeProjector,
    "qformer": QFormerProjector,
}


def make_projector(kind: str, vision_width: int, text_width: int, **kw) -> Projector:
    """A projector by name: "linear", "mlp", "merge" or "qformer"; kw go to its constructor."""
    if kind not in PROJECTORS:
        raise ValueError(f"kind must be one of {sorted(PROJECTORS)}, got {kind!r}")
    return PROJECTORS[kind](vision_width, text_width, **kw)
