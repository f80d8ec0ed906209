"""A LLaMA-style decoder-only language model (Touvron et al., 2023).

Each of the L blocks is pre-norm, as in ViT, with three changes:

    RMSNorm(x)    = x / sqrt(mean(x^2) + eps) * g          (Zhang & Sennrich, 2019): no mean,
                                                           no bias
    RoPE(q, m)    = q * cos(m theta) + rotate_half(q) * sin(m theta)   (Su et al., 2021)
    SwiGLU(x)     = (Swish(x W) * (x W_up)) W_2            (Shazeer, 2020, whose V is W_up)

Rotary embeddings replace the learned positions: query and key at position m are rotated by
m * theta_i in each plane i, so q_m . k_n depends on m - n only. rotate_half pairs dimension
i with dimension i + d/2 (Hugging Face's layout), not 2i with 2i + 1 (Meta's original), so
Hugging Face checkpoints load without permuting W_Q and W_K. Attention is causal and may use
fewer key/value heads than query heads (grouped-query attention, Ainslie et al., 2023).

Input and output: forward(input_ids (B, T)) -> (logits (B, T, vocab_size), loss or None).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_heads, check_int, check_tensor, check_token_ids, is_number
from ._hf import rename_key
from .attention import (
    attend,
    causal_mask,
    check_attn_implementation,
    merge_heads,
    padding_mask,
    split_heads,
)
from .positional import frequencies


@dataclass
class LlamaConfig:
    vocab_size: int = 32000  # V
    width: int = 4096  # D, hidden_size in Hugging Face
    depth: int = 32  # L
    n_heads: int = 32  # query heads h
    n_kv_heads: int | None = None  # key/value heads; None: = n_heads; fewer: grouped-query

    intermediate_size: int = 11008  # width of the SwiGLU hidden layer
    max_seq_len: int = 4096  # the longest input forward accepts
    rope_theta: float = 10000.0  # the base of theta_i = base^(-2i/d)
    rms_norm_eps: float = 1e-5
    tie_embeddings: bool = False  # lm_head shares the token embedding matrix
    # "sdpa": PyTorch's fused kernel; "eager": the package's, whose attention modules return the
    # weights
    attn_implementation: str = "sdpa"

    def __post_init__(self):
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_heads
        for name in (
            "vocab_size",
            "width",
            "depth",
            "n_heads",
            "n_kv_heads",
            "intermediate_size",
            "max_seq_len",
        ):
            check_int(getattr(self, name), name)
        check_heads(self.width, self.n_heads)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"width must be divisible by n_heads and n_heads by n_kv_heads, got "
                f"n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}"
            )
        if self.head_dim % 2:
            raise ValueError(
                f"the head width must be even for rotary embeddings, got {self.head_dim}"
            )
        check_attn_implementation(self.attn_implementation)

    @property
    def head_dim(self) -> int:
        return self.width // self.n_heads

    @classmethod
    def tiny(cls, vocab_size: int = 256, **kw) -> LlamaConfig:
        """The book's language model: 2 blocks of width 64, 4 query and 2 key/value heads, a
        context of 64 tokens (the character model of the Evolution chapter; LLaVA's with 4
        key/value heads). kw replace any field."""
        # intermediate 172 ~ 8/3 x 64: SwiGLU's three matrices hold as many weights as a 4x
        # GELU MLP's two
        base = dict(
            width=64, depth=2, n_heads=4, n_kv_heads=2, intermediate_size=172, max_seq_len=64
        )
        return cls(**{"vocab_size": vocab_size, **base, **kw})

    @classmethod
    def tinyllama_1b(cls) -> LlamaConfig:
        """TinyLlama-1.1B (Zhang et al., 2024): 1,100,048,384 parameters."""
        return cls(
            width=2048, depth=22, n_heads=32, n_kv_heads=4, intermediate_size=5632, max_seq_len=2048
        )

    @classmethod
    def llama2_7b(cls) -> LlamaConfig:
        """Llama 2 7B (Touvron et al., 2023): 6,738,415,616 parameters."""
        return cls()


# the label of a position with no loss: PyTorch's and Hugging Face's convention
IGNORE_INDEX = -100


def next_token_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    ignore_index: int = IGNORE_INDEX,
    per_row: bool = False,
) -> torch.Tensor:
    """The causal language-modelling loss: logit t predicts label t + 1.

    logits (B, T, V), labels (B, T) with ignore_index where no loss is wanted. Returns the mean
    cross-entropy over every labelled token of the batch (a 0-d tensor, Hugging Face's
    reduction), or with per_row each row's mean over its own labelled tokens, (B,).
    """
    check_tensor(logits, "logits", dim=3, shape_doc="(B, T, V)")
    B, T, V = logits.shape
    check_token_ids(labels, "labels", V, ignore_index)
    if labels.shape != (B, T):
        raise ValueError(f"labels must be (B, T) = {(B, T)}, got {tuple(labels.shape)}")
    # drop the last logit and the first label; float32 even for a float16 model
    nll = F.cross_entropy(
        logits[:, :-1].float().reshape(-1, V),  # (B, T-1, V) -> (B (T-1), V)
        labels[:, 1:].reshape(-1),  # (B, T-1) -> (B (T-1),)
        ignore_index=ignore_index,
        reduction="none" if per_row else "mean",
    )
    if not per_row:
        return nll
    counted = labels[:, 1:] != ignore_index  # (B, T-1); ignored positions have nll 0
    return nll.view(B, T - 1).sum(1) / counted.sum(1)  # (B (T-1),) -> (B, T-1) -> (B,)


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))  # g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in float32 whatever the model's dtype: mean(x^2) overflows in float16
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x_1, x_2) -> (-x_2, x_1) on the two halves of the last dimension: a 90-degree turn in
    each plane."""
    x_1, x_2 = x.chunk(2, dim=-1)
    return torch.cat((-x_2, x_1), dim=-1)


class RotaryEmbedding(nn.Module):
    """cos(m theta), sin(m theta) for positions m: (B, T) -> two (B, T, d) tensors."""

    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        # theta_i = theta^(-2i/d): from one turn per token down to one per ~theta tokens, the
        # frequencies of the sinusoidal encoding (minivlm.positional) with theta as the base
        inv_freq = frequencies(head_dim, theta, dtype=torch.float32)  # (d/2,)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(
        self, positions: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        angles = positions[..., None].float() * self.inv_freq  # (B, T) -> (B, T, d/2): m theta_i
        angles = torch.cat((angles, angles), dim=-1)  # (B, T, d): plane i is dims i and i + d/2
        return angles.cos().to(dtype), angles.sin().to(dtype)


class GroupedQueryAttention(nn.Module):
    """Causal self-attention with rotary positions and h_kv <= h key/value heads.

    forward(x (B, T, D), cos, sin, mask) -> (output (B, T, D), weights (B, h, T, T) or None):
    the weights with attn_implementation="eager", as minivlm.attention.MultiHeadAttention.
    """

    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.h, self.h_kv, self.d = c.n_heads, c.n_kv_heads, c.head_dim
        self.need_weights = c.attn_implementation == "eager"
        self.W_Q = nn.Linear(c.width, self.h * self.d, bias=False)
        self.W_K = nn.Linear(c.width, self.h_kv * self.d, bias=False)
        self.W_V = nn.Linear(c.width, self.h_kv * self.d, bias=False)
        self.W_O = nn.Linear(self.h * self.d, c.width, bias=False)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q = split_heads(self.W_Q(x), self.h)  # (B, T, h d) -> (B, h, T, d)
        k = split_heads(self.W_K(x), self.h_kv)  # (B, T, h_kv d) -> (B, h_kv, T, d)
        v = split_heads(self.W_V(x), self.h_kv)  # (B, T, h_kv d) -> (B, h_kv, T, d)
        cos, sin = cos[:, None], sin[:, None]  # (B, T, d) -> (B, 1, T, d), shared by the heads
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.h_kv != self.h:
            # each key/value head serves h / h_kv consecutive query heads
            k = k.repeat_interleave(self.h // self.h_kv, dim=1)  # (B, h_kv, T, d) -> (B, h, T, d)
            v = v.repeat_interleave(self.h // self.h_kv, dim=1)  # (B, h_kv, T, d) -> (B, h, T, d)
        y, weights = attend(q, k, v, mask, self.need_weights, is_causal=True)
        return self.W_O(merge_heads(y)), weights  # (B, h, T, d) -> (B, T, h d) -> (B, T, D)


class SwiGLU(nn.Module):
    """(SiLU(x W) * (x W_up)) W_2 (Shazeer, 2020, whose V is W_up here);
    W, W_up, W_2 are Hugging Face's gate_proj, up_proj, down_proj."""

    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.W = nn.Linear(c.width, c.intermediate_size, bias=False)
        self.W_up = nn.Linear(c.width, c.intermediate_size, bias=False)
        self.W_2 = nn.Linear(c.intermediate_size, c.width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.W_2(F.silu(self.W(x)) * self.W_up(x))


class DecoderBlock(nn.Module):
    """x + attn(RMSNorm(x)), then + SwiGLU(RMSNorm(x)): (B, T, D) -> (B, T, D)."""

    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.attn_norm = RMSNorm(c.width, c.rms_norm_eps)
        self.attn = GroupedQueryAttention(c)
        self.mlp_norm = RMSNorm(c.width, c.rms_norm_eps)
        self.mlp = SwiGLU(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask)[0]
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    """The decoder: token embedding, L blocks, RMSNorm, lm_head.

    forward(input_ids=None, attention_mask=None, inputs_embeds=None, labels=None,
    position_ids=None) -> (logits (B, T, V), loss or None).

    Give either input_ids (B, T) or inputs_embeds (B, T, D) (LLaVA splices image features into
    the embeddings). attention_mask (B, T): 1 for tokens, 0 for padding, which no token may
    attend to. position_ids (B, T) default to 0..T-1 whatever the padding, as Hugging Face's
    forward does. labels (B, T): the same tokens as the input, -100 where no loss is wanted;
    the shift is done here (logit t predicts label t + 1) and the loss is the mean
    cross-entropy over the labels that are not -100.
    """

    def __init__(self, config: LlamaConfig):
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"config must be a LlamaConfig, got {type(config).__name__}")
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.width)
        self.rope = RotaryEmbedding(c.head_dim, c.rope_theta)
        self.layers = nn.ModuleList(DecoderBlock(c) for _ in range(c.depth))
        self.norm = RMSNorm(c.width, c.rms_norm_eps)
        self.lm_head = nn.Linear(c.width, c.vocab_size, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
        if c.tie_embeddings:
            # one (vocab_size, D) matrix reads tokens in and writes them out
            self.lm_head.weight = self.embed.weight

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = self._check_inputs(input_ids, inputs_embeds, attention_mask, position_ids)
        x = self.embed(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, D)
        if position_ids is None:
            position_ids = torch.arange(T, device=x.device)[None]  # (1, T), for every row
        cos, sin = self.rope(position_ids, x.dtype)
        mask = None  # None: causal, which the fused kernel applies without building the mask
        if attention_mask is not None:
            # (T, T) & (B, 1, 1, T) -> (B, 1, T, T); a row with no key left (a left pad) gives 0
            mask = causal_mask(T, x.device) & padding_mask(attention_mask)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.norm(x))  # (B, T, D) -> (B, T, V)

        loss = None if labels is None else next_token_loss(logits, labels)
        return logits, loss

    def _check_inputs(
        self, input_ids, inputs_embeds, attention_mask, position_ids=None, n_new: int = 0
    ) -> tuple[int, int]:
        """One of input_ids and inputs_embeds, fitting the context with n_new tokens more, and
        the masks and positions of their shape; returns (B, T)."""
        c = self.config
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids (B, T) and inputs_embeds (B, T, D)")
        if input_ids is not None:
            check_token_ids(input_ids, "input_ids", c.vocab_size)
        else:
            check_tensor(inputs_embeds, "inputs_embeds", dim=3, last=c.width, shape_doc="(B, T, D)")
        B, T = (input_ids if input_ids is not None else inputs_embeds).shape[:2]
        if n_new and T + n_new > c.max_seq_len:
            raise ValueError(
                f"prompt plus new tokens must fit the context of {c.max_seq_len}, got {T} + {n_new}"
            )
        if T > c.max_seq_len:
            raise ValueError(
                f"sequence is longer than the context: at most {c.max_seq_len} tokens, got {T}"
            )
        if attention_mask is not None and tuple(attention_mask.shape) != (B, T):
            raise ValueError(
                f"attention_mask must be (B, T) = {(B, T)}, got {tuple(attention_mask.shape)}"
            )
        if position_ids is not None and tuple(position_ids.shape) not in {(B, T), (1, T)}:
            raise ValueError(
                f"position_ids must be (B, T) = {(B, T)} or (1, T), got {tuple(position_ids.shape)}"
            )
        return B, T

    def _check_generate(
        self, input_ids, inputs_embeds, attention_mask, max_new_tokens, temperature
    ) -> tuple[int, int]:
        check_int(max_new_tokens, "max_new_tokens", minimum=0)
        if not is_number(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        return self._check_inputs(input_ids, inputs_embeds, attention_mask, n_new=max_new_tokens)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor | None = None,
        max_new_tokens: int = 20,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        eos_token_id: int | None = None,
        pad_token_id: int | None = None,
    ) -> torch.Tensor:
        """Extend a prompt token by token, greedy or sampled.

        temperature 0 takes the most likely token; temperature > 0 samples from
        softmax(logits / temperature).

        Returns (B, T + n) with the prompt when input_ids are given, the n <= max_new_tokens new
        tokens (B, n) when only inputs_embeds are. A row stops at eos_token_id (None: no row
        stops early) and is then filled with pad_token_id (None: eos_token_id) while the others
        go on; generation ends when every row has stopped.
        For left-padded prompts pass attention_mask: positions then count real tokens only,
        as in Hugging Face's generate. Each step re-reads the whole sequence (no key/value
        cache): simpler, and cheap at this book's sequence lengths. A torch.Generator makes
        sampling reproducible.
        """
        B, T = self._check_generate(
            input_ids, inputs_embeds, attention_mask, max_new_tokens, temperature
        )
        prompt = input_ids if input_ids is not None else inputs_embeds
        eos = eos_token_id
        pad = eos if pad_token_id is None else pad_token_id
        positions = None  # None: 0..T-1
        if attention_mask is not None:
            # a token's position is the number of real tokens before it; pads sit at 0
            positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
        new = torch.empty(B, 0, dtype=torch.long, device=prompt.device)
        finished = torch.zeros(B, dtype=torch.bool, device=prompt.device)
        for _ in range(max_new_tokens):
            if input_ids is not None:
                logits, _ = self(
                    torch.cat([input_ids, new], dim=1), attention_mask, position_ids=positions
                )
            else:
                embeds = torch.cat([inputs_embeds, self.embed(new).to(inputs_embeds.dtype)], dim=1)
                logits, _ = self(
                    inputs_embeds=embeds, attention_mask=attention_mask, position_ids=positions
                )
            logits = logits[:, -1].float()  # (B, T, V) -> (B, V): the next token only
            if temperature == 0:
                token = logits.argmax(dim=-1)
            else:
                probs = (logits / temperature).softmax(dim=-1)
                # (B, 1) -> (B,)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            if eos is not None:
                token = torch.where(finished, torch.full_like(token, pad), token)
                finished |= token == eos
            new = torch.cat([new, token[:, None]], dim=1)  # (B, n) -> (B, n + 1)
            if attention_mask is not None:  # the new token is real and one position further on
                attention_mask = torch.cat(
                    [attention_mask, torch.ones_like(attention_mask[:, :1])], dim=1
                )
                positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
            if bool(finished.all()):
                break
        return torch.cat([input_ids, new], dim=1) if input_ids is not None else new

    @classmethod
    def from_hf(cls, model) -> Llama:
        """Copy a transformers.LlamaForCausalLM: same logits and loss to float precision."""
        from transformers import LlamaForCausalLM

        if not isinstance(model, LlamaForCausalLM):
            raise TypeError(f"expected a transformers.LlamaForCausalLM, got {type(model).__name__}")
        hf = model.config
        rope = getattr(hf, "rope_parameters", None) or {
            "rope_type": "default",
            "rope_theta": hf.rope_theta,
        }
        unsupported = {
            "hidden_act": (hf.hidden_act, "silu"),
            "rope_type": (rope.get("rope_type", "default"), "default"),
            "attention_bias": (hf.attention_bias, False),
            "mlp_bias": (hf.mlp_bias, False),
            "head_dim": (
                getattr(hf, "head_dim", None) or hf.hidden_size // hf.num_attention_heads,
                hf.hidden_size // hf.num_attention_heads,
            ),
        }
        for name, (got, want) in unsupported.items():
            if got != want:
                raise ValueError(f"from_hf supports {name}={want!r}, got {got!r}")
        config = LlamaConfig(
            vocab_size=hf.vocab_size,
            width=hf.hidden_size,
            depth=hf.num_hidden_layers,
            n_heads=hf.num_attention_heads,
            n_kv_heads=hf.num_key_value_heads,
            intermediate_size=hf.intermediate_size,
            max_seq_len=hf.max_position_embeddings,
            rope_theta=rope["rope_theta"],
            rms_norm_eps=hf.rms_norm_eps,
            tie_embeddings=bool(hf.tie_word_embeddings),
        )
        ours = cls(config).to(model.lm_head.weight.dtype)
        state = {_rename(k): v for k, v in model.state_dict().items()}
        if config.tie_embeddings:
            state.setdefault("lm_head.weight", state["embed.weight"])
        ours.load_state_dict(state)
        return ours


# Hugging Face name -> ours, applied in order; load_state_dict(strict) then proves nothing is missed
_RENAMES = [
    ("model.embed_tokens", "embed"),
    ("model.layers", "layers"),
    ("model.norm", "norm"),
    (".input_layernorm", ".attn_norm"),
    (".post_attention_layernorm", ".mlp_norm"),
    (".self_attn.q_proj", ".attn.W_Q"),
    (".self_attn.k_proj", ".attn.W_K"),
    (".self_attn.v_proj", ".attn.W_V"),
    (".self_attn.o_proj", ".attn.W_O"),
    (".mlp.gate_proj", ".mlp.W"),
    (".mlp.up_proj", ".mlp.W_up"),
    (".mlp.down_proj", ".mlp.W_2"),
]


def _rename(key: str) -> str:
    return rename_key(key, _RENAMES)
