"""CLIP (Radford et al., 2021): an image encoder and a text encoder trained to agree.

The paper's pseudo-code, with the names used here:

    I_f = image_encoder(I)                      # (n, d_i)  ViT pooled token, minivlm.vit
    T_f = text_encoder(T)                       # (n, d_t)  causal transformer, end-of-text token
    I_e = l2_normalize(I_f @ W_i)               # (n, d_e)
    T_e = l2_normalize(T_f @ W_t)               # (n, d_e)
    logits = I_e @ T_e.T * exp(t)               # (n, n), exp(t) = 1 / tau
    loss = (CE(logits, arange(n)) + CE(logits.T, arange(n))) / 2

The dot products are cosine similarities only because I_e and T_e are unit vectors.
The temperature is learned as t = logit_scale, initialised to log(1 / 0.07), and clamped
so that exp(t) <= 100; the clamp is not part of the forward pass (Hugging Face's CLIPModel
has none either): a training loop calls `model.clamp_logit_scale_()` after every optimiser
step, as OpenAI's and open_clip's training code do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import distributed
from ._checks import check_heads, check_int, check_tensor, check_token_ids, is_number
from ._hf import rename_key
from .attention import causal_mask, check_attn_implementation, padding_mask
from .transformer import Transformer, check_activation
from .vit import ViT, ViTConfig


@dataclass
class CLIPTextConfig:
    """The text tower: a causal transformer read out at the end-of-text token."""

    vocab_size: int = 49408
    context_length: int = 77  # the longest text, in tokens
    width: int = 512
    depth: int = 12
    n_heads: int = 8
    mlp_ratio: float = 4.0
    activation: str = "quick_gelu"
    ln_eps: float = 1e-5
    # None: pool at the largest token id, OpenAI's rule (end-of-text is the last id of the
    # vocabulary). An int: pool at the first position holding that id.
    eos_token_id: int | None = None
    attn_implementation: str = "sdpa"  # or "eager", whose attention modules return the weights

    def __post_init__(self):
        for name in ("vocab_size", "context_length", "width", "depth", "n_heads"):
            check_int(getattr(self, name), name)
        check_heads(self.width, self.n_heads)
        check_activation(self.activation)
        check_attn_implementation(self.attn_implementation)

    @property
    def mlp_dim(self) -> int:
        return round(self.width * self.mlp_ratio)


@dataclass
class CLIPConfig:
    """Both towers and the joint embedding width d_e."""

    vision: ViTConfig = field(default_factory=lambda: _clip_vision(patch_size=32))
    text: CLIPTextConfig = field(default_factory=CLIPTextConfig)
    embed_dim: int = 512  # d_e
    logit_scale_init: float = math.log(1 / 0.07)  # t, so that 1 / tau starts at 1 / 0.07

    def __post_init__(self):
        if not isinstance(self.vision, ViTConfig) or not isinstance(self.text, CLIPTextConfig):
            raise TypeError(
                f"vision and text must be a ViTConfig and a CLIPTextConfig, got "
                f"{type(self.vision).__name__} and {type(self.text).__name__}"
            )
        if self.vision.n_classes != 0 or not self.vision.ln_pre:
            raise ValueError(
                f"CLIP's vision tower has ln_pre=True and no head (n_classes=0), got "
                f"ln_pre={self.vision.ln_pre}, n_classes={self.vision.n_classes}"
            )
        check_int(self.embed_dim, "embed_dim")

    @classmethod
    def vit_b32(cls) -> CLIPConfig:
        """openai/clip-vit-base-patch32: 151,277,313 parameters."""
        return cls(vision=_clip_vision(patch_size=32))

    @classmethod
    def vit_b16(cls) -> CLIPConfig:
        """openai/clip-vit-base-patch16: 149,620,737 parameters."""
        return cls(vision=_clip_vision(patch_size=16))

    @classmethod
    def tiny(cls, vocab_size: int = 256, context_length: int = 32) -> CLIPConfig:
        """The book's CLIP for 32 x 32 scene images: 16 patches of 8 x 8, width 64, two
        blocks per tower."""
        vision = _clip_vision(image_size=32, patch_size=8, width=64, depth=2, n_heads=4)
        text = CLIPTextConfig(
            vocab_size=vocab_size, context_length=context_length, width=64, depth=2, n_heads=4
        )
        return cls(vision=vision, text=text, embed_dim=64)


def _clip_vision(**kw) -> ViTConfig:
    """CLIP's image tower in ViT terms: ln_pre, no bias in E, no head, QuickGELU, eps 1e-5."""
    base = dict(n_classes=0, ln_pre=True, patch_bias=False, activation="quick_gelu", ln_eps=1e-5)
    return ViTConfig(**{**base, **kw})


class TextTransformer(nn.Module):
    """Token and position embeddings, a causal transformer, a final LayerNorm.

    forward(input_ids (B, T), attention_mask=None) -> the end-of-text features (B, D).
    """

    def __init__(self, config: CLIPTextConfig):
        super().__init__()
        self.config = c = config
        self.token_embed = nn.Embedding(c.vocab_size, c.width)
        self.pos_embed = nn.Parameter(torch.empty(c.context_length, c.width))
        self.transformer = Transformer(
            c.width, c.depth, c.n_heads, c.mlp_dim, c.activation, c.ln_eps, c.attn_implementation
        )
        self.ln_final = nn.LayerNorm(c.width, eps=c.ln_eps)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def _check(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> None:
        c = self.config
        check_token_ids(input_ids, "input_ids", c.vocab_size)
        if input_ids.shape[1] > c.context_length:
            raise ValueError(
                f"text is longer than the context: at most {c.context_length} tokens, "
                f"got {input_ids.shape[1]}"
            )
        if attention_mask is not None:
            check_tensor(
                attention_mask, "attention_mask", dim=2, shape_doc="(B, T)", floating=False
            )
            if attention_mask.shape != input_ids.shape:
                raise ValueError(
                    f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, "
                    f"got {tuple(attention_mask.shape)}"
                )

    def pool_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Where each text is read out: (B, T) -> (B,) positions of the end-of-text token."""
        eos = self.config.eos_token_id
        if eos is None:
            return input_ids.argmax(dim=-1)  # end-of-text has the largest id of the vocabulary
        is_eos = input_ids == eos
        if not bool(is_eos.any(dim=-1).all()):
            rows = (~is_eos.any(dim=-1)).nonzero().flatten().tolist()
            raise ValueError(
                f"every text must contain the end-of-text token {eos}, rows {rows} do not"
            )
        return is_eos.int().argmax(dim=-1)  # argmax returns the first maximum: the first eos

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        self._check(input_ids, attention_mask)
        B, T = input_ids.shape
        x = self.token_embed(input_ids) + self.pos_embed[:T]  # (B, T) -> (B, T, D)
        # token i reads tokens 0..i, never the future; (T, T), broadcast over batch and heads
        mask = causal_mask(T, x.device)
        if attention_mask is not None:
            mask = mask & padding_mask(attention_mask)  # padding keys hidden too: (B, 1, T, T)
        x = self.transformer(x, mask=mask)
        # each text's end-of-text token: (B, T, D) -> (B, D)
        x = x[torch.arange(B, device=x.device), self.pool_positions(input_ids)]
        # LayerNorm acts on each token alone: normalising the pooled one is enough
        return self.ln_final(x)


class CLIP(nn.Module):
    """The two towers, their projections W_i and W_t, and the learned temperature t.

    encode_image(pixel_values (B, C, H, W)) -> I_f W_i (B, d_e), not normalised;
    encode_text(input_ids (B', T), attention_mask=None) -> T_f W_t (B', d_e), not normalised;
    forward(pixel_values, input_ids, attention_mask=None) -> (logits_per_image (B, B'),
    logits_per_text (B', B)), cosine similarities times exp(t).
    """

    def __init__(self, config: CLIPConfig):
        super().__init__()
        if not isinstance(config, CLIPConfig):
            raise TypeError(f"config must be a CLIPConfig, got {type(config).__name__}")
        self.config = c = config
        self.vision = ViT(c.vision)
        self.text = TextTransformer(c.text)
        self.W_i = nn.Linear(c.vision.width, c.embed_dim, bias=False)
        self.W_t = nn.Linear(c.text.width, c.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(c.logit_scale_init)))  # t
        nn.init.normal_(self.W_i.weight, std=c.vision.width**-0.5)
        nn.init.normal_(self.W_t.weight, std=c.text.width**-0.5)

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.W_i(self.vision(pixel_values))  # (B, D_i) -> (B, d_e)

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.W_t(self.text(input_ids, attention_mask))  # (B, D_t) -> (B, d_e)

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        I_e = F.normalize(self.encode_image(pixel_values), dim=-1)
        T_e = F.normalize(self.encode_text(input_ids, attention_mask), dim=-1)
        logits_per_image = self.logit_scale.exp() * I_e @ T_e.T  # (B, B')
        return logits_per_image, logits_per_image.T  # logits_per_text: (B', B)

    @torch.no_grad()
    def clamp_logit_scale_(self, max_scale: float = 100.0) -> None:
        """Keep exp(t) in [1, max_scale]; call after each optimiser step. CLIP clips 1/tau at
        100 (Radford et al., 2021, sec. 2.5); the lower bound of 1 is open_clip's."""
        self.logit_scale.clamp_(0, math.log(max_scale))

    @classmethod
    def from_hf(cls, model) -> CLIP:
        """Copy a transformers.CLIPModel: same embeddings and logits to float precision."""
        from transformers import CLIPModel

        if not isinstance(model, CLIPModel):
            raise TypeError(f"expected a transformers.CLIPModel, got {type(model).__name__}")
        hf = model.config
        t = hf.text_config
        text = CLIPTextConfig(
            vocab_size=t.vocab_size,
            context_length=t.max_position_embeddings,
            # Hugging Face keeps OpenAI's largest-id rule for configs whose eos_token_id is 2
            eos_token_id=None if t.eos_token_id == 2 else t.eos_token_id,
            **_tower_from_hf(t, "text_config"),
        )
        config = CLIPConfig(
            vision=_vision_config_from_hf(hf.vision_config), text=text, embed_dim=hf.projection_dim
        )
        ours = cls(config).to(model.logit_scale.dtype)
        state = {_rename(k): v for k, v in model.state_dict().items()}
        ours.load_state_dict(state)
        return ours


def clip_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale,
    gather: bool = False,
) -> torch.Tensor:
    """The symmetric InfoNCE loss, as open_clip's ClipLoss.

    image_features, text_features: (B, d_e), pair i matches pair i; both are L2-normalised
    here, so unnormalised encoder outputs may be passed. logit_scale: the multiplier
    1 / tau = exp(t) (a Python number or a 0-d tensor), not t itself. Returns a 0-d tensor:
    the mean of the image-to-text and text-to-image cross-entropies.

    gather=True, in a run of N processes (minivlm.distributed), where each rank holds its
    B_local = B / N pairs of a global batch of B: every rank's embeddings are gathered with
    their gradients, and this rank's loss is over its own B_local rows against all B columns
    (open_clip's local_loss=True with gather_with_grad=True). The mean of the ranks' losses
    is the one-process loss of the global batch, and so is the gradient DDP averages: each
    rank receives, through the gather, the gradient of every rank's loss with respect to its
    own embeddings. A rank holds B_local x B logits, not B x B. In a world of one, gather
    changes nothing.
    """
    _check_loss_inputs(image_features, text_features, logit_scale)
    if not isinstance(gather, bool):
        raise TypeError(f"gather must be True or False, got {type(gather).__name__}")
    I_e = F.normalize(image_features, dim=-1)
    T_e = F.normalize(text_features, dim=-1)
    world = distributed.world()
    if gather and world.size > 1:
        return local_rows_loss(I_e, T_e, logit_scale, world.rank)
    logits_per_image = logit_scale * I_e @ T_e.T  # (B, B): row i scores image i against every text
    labels = torch.arange(logits_per_image.shape[0], device=logits_per_image.device)
    # image-to-text over the rows, text-to-image over the columns
    return (
        F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_image.T, labels)
    ) / 2


def local_rows_loss(
    I_e: torch.Tensor,
    T_e: torch.Tensor,
    logit_scale,
    rank: int,
    gather: Callable[[torch.Tensor], torch.Tensor] = distributed.all_gather,
) -> torch.Tensor:
    """This rank's loss in clip_loss(gather=True): its B_local rows of both logit matrices
    against the B gathered columns. I_e, T_e: this rank's unit embeddings (B_local, d_e);
    gather: (B_local, d_e) -> (B, d_e) on every rank (distributed.all_gather_naive shows
    what a gather without gradients does)."""
    I_all, T_all = gather(I_e), gather(T_e)  # (B_local, d_e) -> (B, d_e), rank 0's rows first
    logits_per_image = logit_scale * I_e @ T_all.T  # (B_local, B)
    logits_per_text = logit_scale * T_e @ I_all.T  # (B_local, B)
    # the local pair i sits in column rank * B_local + i of the gathered matrices
    labels = torch.arange(len(I_e), device=I_e.device) + rank * len(I_e)
    return (
        F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
    ) / 2


def _check_loss_inputs(image_features, text_features, logit_scale) -> None:
    check_tensor(image_features, "image_features", dim=2, shape_doc="(B, d_e)")
    check_tensor(text_features, "text_features", dim=2, shape_doc="(B, d_e)")
    if image_features.shape != text_features.shape:
        raise ValueError(
            f"image_features and text_features must both be (B, d_e) with the same B and d_e, got "
            f"{tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    if isinstance(logit_scale, torch.Tensor):
        if logit_scale.numel() != 1 or not logit_scale.is_floating_point():
            raise ValueError(
                f"logit_scale must be a floating scalar, "
                f"got shape {tuple(logit_scale.shape)}, dtype {logit_scale.dtype}"
            )
    elif not is_number(logit_scale):
        raise TypeError(
            f"logit_scale must be a number or a scalar tensor, got {type(logit_scale).__name__}"
        )


def vision_from_hf(model) -> ViT:
    """A CLIP image tower from a transformers CLIPVisionModel (for example LLaVA's vision_tower)."""
    from transformers import CLIPVisionModel

    if not isinstance(model, CLIPVisionModel):
        raise TypeError(f"expected a transformers.CLIPVisionModel, got {type(model).__name__}")
    ours = ViT(_vision_config_from_hf(model.config)).to(model.dtype)
    # CLIPVisionModel's keys start at embeddings. (transformers 5) or vision_model.embeddings. (4.x)
    state = {}
    for k, v in model.state_dict().items():
        k = k if k.startswith("vision_model.") else "vision_model." + k
        state[_rename(k).removeprefix("vision.")] = v
    ours.load_state_dict(state)
    return ours


def _tower_from_hf(cfg, name: str) -> dict:
    """What both towers read alike from a Hugging Face CLIP tower config."""
    if cfg.hidden_act not in ("gelu", "quick_gelu"):
        raise ValueError(
            f"{name}.hidden_act must be 'gelu' or 'quick_gelu', got {cfg.hidden_act!r}"
        )
    return dict(
        width=cfg.hidden_size,
        depth=cfg.num_hidden_layers,
        n_heads=cfg.num_attention_heads,
        mlp_ratio=cfg.intermediate_size / cfg.hidden_size,
        activation=cfg.hidden_act,
        ln_eps=cfg.layer_norm_eps,
    )


def _vision_config_from_hf(v) -> ViTConfig:
    return _clip_vision(
        image_size=v.image_size,
        patch_size=v.patch_size,
        in_channels=v.num_channels,
        **_tower_from_hf(v, "vision_config"),
    )


# Hugging Face name -> ours, applied in order; load_state_dict(strict) then proves nothing is missed
_RENAMES = [
    ("vision_model.embeddings.class_embedding", "vision.class_token"),
    ("vision_model.embeddings.patch_embedding", "vision.patch_embed"),
    ("vision_model.embeddings.position_embedding.weight", "vision.pos_embed"),
    ("vision_model.pre_layrnorm", "vision.ln_pre"),
    ("vision_model.post_layernorm", "vision.ln_post"),
    ("vision_model.encoder.layers", "vision.transformer.blocks"),
    ("text_model.embeddings.token_embedding", "text.token_embed"),
    ("text_model.embeddings.position_embedding.weight", "text.pos_embed"),
    ("text_model.final_layer_norm", "text.ln_final"),
    ("text_model.encoder.layers", "text.transformer.blocks"),
    ("visual_projection", "W_i"),
    ("text_projection", "W_t"),
    (".layer_norm1", ".ln_1"),
    (".layer_norm2", ".ln_2"),
    (".self_attn.q_proj", ".attn.W_Q"),
    (".self_attn.k_proj", ".attn.W_K"),
    (".self_attn.v_proj", ".attn.W_V"),
    (".self_attn.out_proj", ".attn.W_O"),
]


def _rename(key: str) -> str:
    return rename_key(key, _RENAMES)
