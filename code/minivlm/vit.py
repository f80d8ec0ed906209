"""The Vision Transformer (Dosovitskiy et al., 2021): an image as a sequence of patches.

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos,    E: (P^2 C, D), E_pos: (N + 1, D)
    z_l = transformer blocks (minivlm.transformer),    l = 1..L
    y   = LN(z_L^0)                                    the class token's output

N = HW / P^2 patches of P x P pixels. Multiplying each flattened patch by E is the same as a
Conv2d with kernel P and stride P, which is how E is stored (one matrix product per patch,
without cutting the image into patches first).

The presets match timm's vit_{tiny,small,base,large}_patch16_224 parameter for parameter.
CLIP's image tower is this class with `ln_pre=True`, `patch_bias=False` and no head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ._checks import check_heads, check_int, check_tensor, pair
from .attention import check_attn_implementation
from .transformer import Transformer, check_activation


@dataclass
class ViTConfig:
    """Hyper-parameters of a ViT. Defaults: ViT-B/16 at 224 x 224 with an ImageNet-1k head."""

    image_size: int | tuple[int, int] = 224  # H, W (an int means square)
    patch_size: int | tuple[int, int] = 16  # P
    in_channels: int = 3  # C
    width: int = 768  # D, the token width
    depth: int = 12  # L, the number of blocks
    n_heads: int = 12
    mlp_ratio: float = 4.0  # D_mlp / D
    n_classes: int = 1000  # 0: no head, forward returns the normalised pooled token
    activation: str = "gelu"  # "gelu" or "quick_gelu" (OpenAI CLIP)
    ln_eps: float = 1e-6  # timm's ViT uses 1e-6, CLIP 1e-5
    ln_pre: bool = False  # CLIP normalises z_0 before the first block
    patch_bias: bool = True  # CLIP's E has no bias
    # "cls": the class token's output (ViT, CLIP); "mean": the mean of the N patch tokens,
    # global average pooling, which ViT's authors found as good (Dosovitskiy et al., app. D.3)
    pool: str = "cls"
    # "sdpa": PyTorch's fused attention kernel; "eager": the from-scratch one, for comparison
    attn_implementation: str = "sdpa"

    def __post_init__(self):
        (H, W), (P_h, P_w) = self.image_hw, self.patch_hw
        if H % P_h or W % P_w:
            raise ValueError(
                f"image_size must be a multiple of patch_size, "
                f"got image_size {(H, W)} and patch_size {(P_h, P_w)}"
            )
        for name in ("in_channels", "width", "depth", "n_heads"):
            check_int(getattr(self, name), name)
        check_heads(self.width, self.n_heads)
        check_int(self.n_classes, "n_classes", minimum=0)
        if not self.mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be positive, got {self.mlp_ratio!r}")
        check_activation(self.activation)
        if self.pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {self.pool!r}")
        check_attn_implementation(self.attn_implementation)

    @property
    def image_hw(self) -> tuple[int, int]:
        """(H, W), whether image_size is one int or a pair."""
        return pair(self.image_size, "image_size", 1)

    @property
    def patch_hw(self) -> tuple[int, int]:
        """(P_h, P_w), whether patch_size is one int or a pair."""
        return pair(self.patch_size, "patch_size", 1)

    @property
    def grid(self) -> tuple[int, int]:
        """(H / P, W / P): patches per column and per row."""
        (H, W), (P_h, P_w) = self.image_hw, self.patch_hw
        return H // P_h, W // P_w

    @property
    def n_patches(self) -> int:
        """N = HW / P^2."""
        return self.grid[0] * self.grid[1]

    @property
    def mlp_dim(self) -> int:
        # round, not int: a ratio read from a checkpoint (37 / 32) must give back 37 exactly
        return round(self.width * self.mlp_ratio)

    @classmethod
    def ti16(cls, **kw) -> ViTConfig:
        """ViT-Ti/16 (Touvron et al., 2021): 5,717,416 parameters. (The book's own small
        models are the `tiny` presets of CLIPConfig, LlamaConfig and LLaVAConfig.)"""
        return cls(**{"width": 192, "depth": 12, "n_heads": 3, **kw})

    @classmethod
    def small16(cls, **kw) -> ViTConfig:
        """ViT-S/16: 22,050,664 parameters."""
        return cls(**{"width": 384, "depth": 12, "n_heads": 6, **kw})

    @classmethod
    def base16(cls, **kw) -> ViTConfig:
        """ViT-B/16: 86,567,656 parameters."""
        return cls(**{"width": 768, "depth": 12, "n_heads": 12, **kw})

    @classmethod
    def large16(cls, **kw) -> ViTConfig:
        """ViT-L/16: 304,326,632 parameters."""
        return cls(**{"width": 1024, "depth": 24, "n_heads": 16, **kw})


def patchify(image: torch.Tensor, P: int) -> torch.Tensor:
    """An image (C, H, W) as its N = HW / P^2 patches (N, P P C), row by row, each flattened as
    a (C, P, P) block: patchify(x, P) @ E.flatten(1).T is ViT's strided convolution."""
    check_tensor(image, "image", dim=3, shape_doc="(C, H, W)")
    check_int(P, "P")
    C, H, W = image.shape
    if H % P or W % P:
        raise ValueError(f"H and W must be multiples of P={P}, got {H} x {W}")
    blocks = image.reshape(C, H // P, P, W // P, P)  # (C, H, W) -> (C, H/P, P, W/P, P)
    # (H/P, W/P, C, P, P): patch rows, then patch columns, then each patch's own (C, P, P)
    return blocks.permute(1, 3, 0, 2, 4).reshape(-1, C * P * P)  # -> (N, C P P)


class ViT(nn.Module):
    """Vision Transformer.

    forward(pixel_values (B, C, H, W)) -> logits (B, n_classes), or the normalised pooled
    token (B, D) when n_classes == 0: the class token's output, or the patches' mean with
    pool="mean". forward_features gives every token.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        if not isinstance(config, ViTConfig):
            raise TypeError(f"config must be a ViTConfig, got {type(config).__name__}")
        self.config = c = config
        D = c.width
        P = c.patch_hw
        # E: a P x P convolution with stride P is patchify(x, P) @ E, every patch at once
        self.patch_embed = nn.Conv2d(c.in_channels, D, kernel_size=P, stride=P, bias=c.patch_bias)
        self.class_token = nn.Parameter(torch.zeros(D))  # x_class
        self.pos_embed = nn.Parameter(torch.zeros(c.n_patches + 1, D))  # E_pos, learned
        self.ln_pre = nn.LayerNorm(D, eps=c.ln_eps) if c.ln_pre else nn.Identity()
        self.transformer = Transformer(
            D, c.depth, c.n_heads, c.mlp_dim, c.activation, c.ln_eps, c.attn_implementation
        )
        self.ln_post = nn.LayerNorm(D, eps=c.ln_eps)
        self.head = nn.Linear(D, c.n_classes) if c.n_classes else nn.Identity()
        self.apply(_init_weights)
        nn.init.normal_(self.class_token, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)

    @property
    def n_patches(self) -> int:
        """N = HW / P^2, the number of patch tokens (the class token not counted)."""
        return self.config.n_patches

    def _check_pixels(self, pixel_values: torch.Tensor) -> None:
        check_tensor(pixel_values, "pixel_values", dim=4, shape_doc="(B, C, H, W)")
        c = self.config
        _, C, H, W = pixel_values.shape
        if C != c.in_channels:
            raise ValueError(
                f"pixel_values must have {c.in_channels} channels (B, C, H, W), "
                f"got shape {tuple(pixel_values.shape)}"
            )
        H_0, W_0 = c.image_hw
        if (H, W) != (H_0, W_0):
            P_h, P_w = c.patch_hw
            why = ""
            if H % P_h or W % P_w:
                why = f", which is not even a multiple of the patch size {(P_h, P_w)}"
            # E_pos holds exactly N + 1 rows, so another resolution has no position embeddings
            raise ValueError(f"images must be {H_0} x {W_0} (H x W), got {H} x {W}{why}")

    def embed(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """z_0: (B, C, H, W) -> (B, 1 + N, D), class token first."""
        self._check_pixels(pixel_values)
        pixel_values = pixel_values.to(self.patch_embed.weight.dtype)
        x = self.patch_embed(pixel_values)  # (B, C, H, W) -> (B, D, H/P, W/P)
        # (B, D, H/P, W/P) -> (B, N, D), patches in row-major order
        x = x.flatten(2).transpose(1, 2)
        cls = self.class_token.expand(x.shape[0], 1, -1)  # (D,) -> (B, 1, D)
        return torch.cat([cls, x], dim=1) + self.pos_embed  # (B, 1 + N, D)

    def forward_features(
        self, pixel_values: torch.Tensor, output_hidden_states: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Every token after the final LayerNorm: (B, C, H, W) -> (B, 1 + N, D).

        With output_hidden_states, also a tuple of depth + 1 tensors (B, 1 + N, D): the input
        of the first block (after ln_pre) and the output of each block, before ln_post.
        LLaVA takes hidden_states[-2][:, 1:], the penultimate block's patch tokens.
        """
        x, hidden_states = self.transformer(
            self.ln_pre(self.embed(pixel_values)), output_hidden_states=True
        )
        x = self.ln_post(x)
        return (x, hidden_states) if output_hidden_states else x

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.transformer(self.ln_pre(self.embed(pixel_values)))  # (B, 1 + N, D)
        pooled = x[:, 0] if self.config.pool == "cls" else x[:, 1:].mean(dim=1)  # (B, D)
        # LayerNorm acts on each token alone, so normalising only the pooled one is enough
        return self.head(self.ln_post(pooled))  # (B, D) -> (B, n_classes)


def _init_weights(module: nn.Module) -> None:
    # truncated normal with std 0.02 for the projections, as timm and BERT do
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
