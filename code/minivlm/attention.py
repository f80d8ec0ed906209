"""Scaled dot-product attention and multi-head attention, from the formulas.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V                (Vaswani et al., 2017)
    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O,
        head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

Masks are boolean and True means "may attend", the convention of
torch.nn.functional.scaled_dot_product_attention. torch.nn.MultiheadAttention uses the
opposite convention (True means "blocked"); MultiHeadAttention.from_torch copies weights,
not masks.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_heads, check_int, check_tensor

# Hugging Face's names: "sdpa" is PyTorch's fused scaled_dot_product_attention, "eager" the
# from-scratch softmax(QK^T / sqrt(d_k)) V that materialises the (n, n) weights
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")


def check_attn_implementation(name: str) -> None:
    if name not in ATTN_IMPLEMENTATIONS:
        raise ValueError(f"attn_implementation must be one of {ATTN_IMPLEMENTATIONS}, got {name!r}")


def _check_mask(mask: torch.Tensor, n_q: int, n_k: int, batch_shape: torch.Size) -> None:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a boolean tensor (True = may attend), got {got}")
    if mask.dim() < 2 or mask.shape[-2:] not in {
        (n_q, n_k),
        (1, n_k),
        (n_q, 1),
        (1, 1),
    }:
        raise ValueError(
            f"mask must end in (n_q, n_k) = ({n_q}, {n_k}) or broadcast to it, "
            f"got shape {tuple(mask.shape)}"
        )
    try:
        torch.broadcast_shapes(mask.shape[:-2], batch_shape)
    except RuntimeError:
        raise ValueError(
            f"mask batch dimensions {tuple(mask.shape[:-2])} do not broadcast "
            f"to the batch dimensions {tuple(batch_shape)} of q, k, v"
        ) from None


def _check_qkv(q, k, v, mask) -> None:
    """q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v) and the mask, if any, checked."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(t, name, min_dim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share d_k (last dimension), "
            f"got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must hold the same number of positions n_k, got k {tuple(k.shape)} "
            f"and v {tuple(v.shape)}"
        )
    try:
        batch_shape = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the batch dimensions of q {tuple(q.shape)}, k {tuple(k.shape)} and "
            f"v {tuple(v.shape)} do not broadcast"
        ) from None
    if mask is not None:
        _check_mask(mask, q.shape[-2], k.shape[-2], batch_shape)


def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(n, n) boolean, True on and below the diagonal: query i may attend to keys 0..i."""
    check_int(n, "n")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T) with 1 for tokens and 0 for padding -> (B, 1, 1, T) boolean, True = may attend.

    No query may attend to a padding key; the mask broadcasts over heads and queries, and
    `causal_mask(T) & padding_mask(m)` is the (B, 1, T, T) mask of a padded causal batch.
    """
    check_tensor(attention_mask, "attention_mask", dim=2, shape_doc="(B, T)", floating=False)
    return attention_mask.bool()[:, None, None, :]  # (B, T) -> (B, 1, 1, T)


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(B, n, h d_k) -> (B, h, n, d_k): each head's slice of the width becomes its own sequence."""
    B, n, width = x.shape
    # (B, n, h d_k) -> (B, n, h, d_k) -> (B, h, n, d_k)
    return x.view(B, n, n_heads, width // n_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, n, d_k) -> (B, n, h d_k): Concat(head_1, ..., head_h), the inverse of split_heads."""
    B, h, n, d_k = x.shape
    return x.transpose(1, 2).reshape(B, n, h * d_k)  # -> (B, n, h, d_k) -> (B, n, h d_k)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_k)) v, returning (output, weights).

    q: (..., n_q, d_k), k: (..., n_k, d_k), v: (..., n_k, d_v); leading dimensions
    broadcast. mask: boolean, broadcastable to (..., n_q, n_k), True = may attend.
    scale defaults to 1/sqrt(d_k); scale=1.0 gives the unscaled attention.
    Returns output (..., n_q, d_v) and weights (..., n_q, n_k), whose rows sum to 1 (or are
    all zero for a query the mask lets see no key).
    """
    _check_qkv(q, k, v, mask)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])  # 1 / sqrt(d_k)
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., n_q, n_k)
    if mask is not None:
        # -inf before the softmax gives exactly zero weight to the blocked keys
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # normalise over the keys: each row sums to 1
    if mask is not None:
        # a query with no key at all (a left pad) gets zero weights, not the NaN of 0/0: the
        # output of PyTorch's fused kernel
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return weights @ v, weights


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    need_weights: bool = True,
    is_causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Heads (B, h, n_q, d_k) -> (output (B, h, n_q, d_v), weights or None), eager or fused.

    need_weights=True: the from-scratch scaled_dot_product_attention, which returns the
    weights (Hugging Face's attn_implementation="eager"). False: PyTorch's fused kernel
    ("sdpa"), the same output without materialising the (n_q, n_k) weights. is_causal with
    no mask asks for the causal mask, which the fused kernel applies without building it.
    """
    if is_causal and mask is None and need_weights:
        mask = causal_mask(q.shape[-2], q.device)
    if need_weights:
        return scaled_dot_product_attention(q, k, v, mask)
    if mask is not None:
        _check_mask(mask, q.shape[-2], k.shape[-2], q.shape[:-2])
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=is_causal and mask is None
    ), None


class MultiHeadAttention(nn.Module):
    """h heads of width d_k = d_model / h, then the output projection W_O.

    forward(query, key=None, value=None, mask=None, need_weights=True) returns
    (output, weights): output (B, n_q, d_model), weights (B, h, n_q, n_k) or None.
    Without key and value it is self-attention. With key and value from another sequence it
    is cross-attention, whose keys and values may have their own widths (kdim, vdim: W_K and
    W_V map them to d_model). With need_weights=False it calls PyTorch's fused kernel, which
    gives the same output without materialising the weights.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
    ):
        super().__init__()
        kdim = d_model if kdim is None else kdim
        vdim = d_model if vdim is None else vdim
        for value, name in (
            (d_model, "d_model"),
            (n_heads, "n_heads"),
            (kdim, "kdim"),
            (vdim, "vdim"),
        ):
            check_int(value, name)
        check_heads(d_model, n_heads, "d_model")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.kdim, self.vdim = kdim, vdim
        # W_i^Q for all heads side by side: one (d_model, d_model) map, split into h heads
        self.W_Q = nn.Linear(d_model, d_model, bias=bias)
        self.W_K = nn.Linear(kdim, d_model, bias=bias)
        self.W_V = nn.Linear(vdim, d_model, bias=bias)
        self.W_O = nn.Linear(d_model, d_model, bias=bias)

    def _check_inputs(self, query, key, value) -> None:
        for name, t, width, doc in (
            ("query", query, self.d_model, "d_model"),
            ("key", key, self.kdim, "kdim"),
            ("value", value, self.vdim, "vdim"),
        ):
            if doc != "d_model" and width == self.d_model:
                doc = "d_model"  # self-attention, or cross-attention of the same width
            check_tensor(t, name, dim=3, last=width, shape_doc=f"(B, n, {doc})")
        if key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(
                f"query (B, n_q, d), key and value (B, n_k, d) must agree on B and n_k, got "
                f"{tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}"
            )

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = query if key is None else key
        value = key if value is None else value
        self._check_inputs(query, key, value)
        q = split_heads(self.W_Q(query), self.n_heads)  # (B, h, n_q, d_k)
        k = split_heads(self.W_K(key), self.n_heads)  # (B, h, n_k, d_k)
        v = split_heads(self.W_V(value), self.n_heads)  # (B, h, n_k, d_k)
        heads, weights = attend(q, k, v, mask, need_weights)
        return self.W_O(merge_heads(heads)), weights

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a torch.nn.MultiheadAttention (batch_first or not, kdim and
        vdim its own or not)."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"expected a torch.nn.MultiheadAttention, got {type(mha).__name__}")
        if mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError(
                "from_torch supports nn.MultiheadAttention with add_bias_kv=False and "
                f"add_zero_attn=False; got add_bias_kv={mha.bias_k is not None}, "
                f"add_zero_attn={mha.add_zero_attn}"
            )
        bias = mha.in_proj_bias is not None
        d = mha.embed_dim
        if mha._qkv_same_embed_dim:
            # PyTorch stacks W_Q, W_K, W_V into one (3d, d) matrix, in that order
            weights = mha.in_proj_weight.split(d)
        else:  # kdim or vdim differ from embed_dim: three matrices of their own
            weights = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)
        w = weights[0]
        # in the source's dtype before copying: a float32 detour would round float64 weights
        ours = cls(d, mha.num_heads, bias=bias, kdim=mha.kdim, vdim=mha.vdim).to(
            device=w.device, dtype=w.dtype
        )
        with torch.no_grad():
            for i, (lin, weight) in enumerate(zip((ours.W_Q, ours.W_K, ours.W_V), weights)):
                lin.weight.copy_(weight)
                if bias:  # one stacked (3d,) bias in either layout
                    lin.bias.copy_(mha.in_proj_bias[i * d : (i + 1) * d])
            ours.W_O.weight.copy_(mha.out_proj.weight)
            if bias:
                ours.W_O.bias.copy_(mha.out_proj.bias)
        return ours
