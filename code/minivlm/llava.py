"""LLaVA (Liu et al., 2023): a vision encoder, a projector and a language model.

    Z_v = g(X_v)     patch features of a CLIP ViT, from the penultimate block, CLS dropped
    H_v = W . Z_v    projected into the language model's embedding space (minivlm.projectors)
    [H_v, H_q, X_a]  the language model's input: H_v where the prompt has its <image> tokens
    p(X_a | X_v, X_q) = prod_i p(x_i | X_v, X_q, X_a,<i)     the loss on the answer X_a only

The prompt holds one <image> token per visual token; `merge` swaps their embeddings for the
rows of H_v, in order. Labels are the input ids with -100 wherever no loss is wanted (the
image and the prompt), so only the answer is learned; `make_example` builds both.

Training runs in two stages (Liu et al., 2023, sec. 4.1). The vision encoder stays frozen in
both. Stage 1 (feature alignment, image-caption pairs) trains only the projector; stage 2
(instruction tuning) trains the projector and the language model: `trainable_parameters`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import torch
import torch.nn as nn

from ._checks import check_int, check_tensor, check_token_ids, is_int
from .clip import CLIPConfig, vision_from_hf
from .llama import IGNORE_INDEX, Llama, LlamaConfig, next_token_loss
from .projectors import PROJECTORS, make_projector
from .vit import ViT, ViTConfig


def _tiny_vision() -> ViTConfig:
    return CLIPConfig.tiny().vision  # 32 x 32 images, 16 patches of 8 x 8, width 64, 2 blocks


# The scene world's tokenizer (minivlm.data.Tokenizer): its vocabulary and <image> id, the
# tiny model's defaults; the recipes pass their tokenizer's, and a test checks they agree
SCENE_VOCAB_SIZE, SCENE_IMAGE_TOKEN_ID = 48, 3


def _tiny_text(vocab_size: int = SCENE_VOCAB_SIZE) -> LlamaConfig:
    # the book's tiny language model with one key/value head per query head
    return LlamaConfig.tiny(vocab_size, n_kv_heads=4)


@dataclass
class LLaVAConfig:
    """The three parts and how they are wired. Defaults: the book's tiny LLaVA (`tiny()`)."""

    vision: ViTConfig = field(default_factory=_tiny_vision)  # the CLIP image tower, g
    text: LlamaConfig = field(default_factory=_tiny_text)  # the language model
    # "linear" (LLaVA 1.0), "mlp" (LLaVA-1.5), "merge" (Qwen2-VL), "qformer" (BLIP-2)
    projector: str = "mlp"
    projector_options: dict = field(default_factory=dict)  # e.g. {"n_queries": 8}
    image_token_id: int = SCENE_IMAGE_TOKEN_ID  # <image>
    vision_feature_layer: int = -2  # index into the tower's depth + 1 hidden states
    # "default": drop the class token (Hugging Face's "default"); "full": keep it
    vision_feature_select: str = "default"

    def __post_init__(self):
        if not isinstance(self.vision, ViTConfig) or not isinstance(self.text, LlamaConfig):
            raise TypeError(
                f"vision and text must be a ViTConfig and a LlamaConfig, got "
                f"{type(self.vision).__name__} and {type(self.text).__name__}"
            )
        if self.projector not in PROJECTORS:
            raise ValueError(
                f"projector must be one of {sorted(PROJECTORS)}, got {self.projector!r}"
            )
        if not isinstance(self.projector_options, dict):
            raise TypeError(
                f"projector_options must be a dict, got {type(self.projector_options).__name__}"
            )
        V = self.text.vocab_size
        if not is_int(self.image_token_id, 0) or self.image_token_id >= V:
            raise ValueError(f"image_token_id must lie in [0, {V}), got {self.image_token_id!r}")
        n = self.vision.depth + 1  # hidden states: the blocks' input, then each block's output
        if not is_int(self.vision_feature_layer, -n) or self.vision_feature_layer >= n:
            raise ValueError(
                f"vision_feature_layer must lie in [-{n}, {n}) for a tower of depth "
                f"{self.vision.depth}, got {self.vision_feature_layer!r}"
            )
        if self.vision_feature_select not in ("default", "full"):
            raise ValueError(
                f"vision_feature_select must be 'default' or 'full', "
                f"got {self.vision_feature_select!r}"
            )

    @property
    def n_patch_features(self) -> int:
        """N, the rows of Z_v: the patches, plus the class token when it is kept."""
        return self.vision.n_patches + (self.vision_feature_select == "full")

    @classmethod
    def tiny(
        cls,
        projector: str = "mlp",
        vocab_size: int = SCENE_VOCAB_SIZE,
        image_token_id: int = SCENE_IMAGE_TOKEN_ID,
        **kw,
    ) -> LLaVAConfig:
        """The book's LLaVA for 32 x 32 scene images: the tiny CLIP tower (16 patches, width 64),
        a Llama of width 64 with 2 blocks (105,280 parameters with 48 tokens). vocab_size and
        image_token_id come from the tokenizer (the defaults are the scene world's); kw replace
        any other field, e.g. vision=a trained CLIP's vision config."""
        text = _tiny_text(vocab_size)
        return cls(**{"projector": projector, "text": text, "image_token_id": image_token_id, **kw})

    @classmethod
    def llava15_7b(cls) -> LLaVAConfig:
        """The shapes of llava-hf/llava-1.5-7b-hf, CLIP ViT-L/14 at 336 px (576 patches) and
        Vicuna-7B: 7,063,427,072 parameters. Build it on the meta device to count them."""
        vision = replace(
            CLIPConfig.vit_b16().vision,
            image_size=336,
            patch_size=14,
            width=1024,
            depth=24,
            n_heads=16,
        )
        return cls(vision=vision, text=LlamaConfig(vocab_size=32064), image_token_id=32000)

    @classmethod
    def tinyllava_1b(cls) -> LLaVAConfig:
        """The shapes of bczhou/tiny-llava-v1-hf (Zhou et al., 2024): LLaVA-1.5's tower and
        projector before TinyLlama-1.1B. Build it on the meta device to count its parameters."""
        text = replace(LlamaConfig.tinyllama_1b(), vocab_size=32064)
        return cls(vision=cls.llava15_7b().vision, text=text, image_token_id=32000)


class LLaVA(nn.Module):
    """vision_tower (a CLIP ViT), projector, language_model (a Llama).

    forward(pixel_values (B, C, H, W), input_ids (B, T), labels=None, attention_mask=None)
    -> (logits (B, T, V), loss or None). Each row of input_ids holds the N_out <image>
    tokens of its image (N_out = n_image_tokens).
    """

    def __init__(self, config: LLaVAConfig):
        super().__init__()
        if not isinstance(config, LLaVAConfig):
            raise TypeError(f"config must be a LLaVAConfig, got {type(config).__name__}")
        self.config = c = config
        self.vision_tower = ViT(c.vision)
        self.projector = make_projector(
            c.projector, c.vision.width, c.text.width, **c.projector_options
        )
        self.language_model = Llama(c.text)

    @property
    def n_image_tokens(self) -> int:
        """N_out, the <image> tokens each prompt must hold: one per visual token."""
        return self.projector.n_tokens(self.config.n_patch_features)

    def vision_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Z_v = g(X_v): (B, C, H, W) -> (B, N, vision_width).

        The hidden state at vision_feature_layer, before ln_post (as in Hugging Face), the
        class token dropped by the "default" selection. The frozen tower gives the same Z_v
        every epoch, so a training loop may compute it once and pass vision_features= to
        forward.
        """
        c = self.config
        _, hidden_states = self.vision_tower.forward_features(
            pixel_values, output_hidden_states=True
        )
        Z_v = hidden_states[c.vision_feature_layer]  # (B, 1 + N, D_v), class token first
        return Z_v[:, 1:] if c.vision_feature_select == "default" else Z_v  # (B, N, D_v)

    def image_features(
        self, pixel_values: torch.Tensor | None = None, vision_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """H_v = W . Z_v: (B, C, H, W) -> (B, N_out, text_width); or from Z_v given directly."""
        if (pixel_values is None) == (vision_features is None):
            raise ValueError(
                "give exactly one of pixel_values (B, C, H, W) and vision_features (B, N, D_v)"
            )
        Z_v = self.vision_features(pixel_values) if vision_features is None else vision_features
        return self.projector(Z_v)

    def _check_merge(self, input_ids: torch.Tensor, image_features: torch.Tensor) -> None:
        """Ids in the vocabulary, H_v (B, N_out, D), and N_out <image> tokens in every row."""
        check_token_ids(input_ids, "input_ids", self.config.text.vocab_size)
        B, N_out, D = len(input_ids), self.n_image_tokens, self.config.text.width
        check_tensor(image_features, "image_features", dim=3, shape_doc="(B, N_out, D)")
        if image_features.shape != (B, N_out, D):
            raise ValueError(
                f"image_features must be (B, N_out, D) = {(B, N_out, D)}, "
                f"got {tuple(image_features.shape)}"
            )
        counts = (input_ids == self.config.image_token_id).sum(dim=1)  # (B,)
        if bool((counts != N_out).any()):
            row = int((counts != N_out).nonzero()[0])
            raise ValueError(
                f"expected {N_out} image tokens per image, got {int(counts[row])} in row {row}"
            )

    def merge(self, input_ids: torch.Tensor, image_features: torch.Tensor) -> torch.Tensor:
        """The language model's input: (B, T) ids and H_v (B, N_out, D) -> (B, T, D).

        Row b's <image> tokens take the rows of image_features[b], in order; every other token
        keeps its embedding.
        """
        self._check_merge(input_ids, image_features)
        is_image = input_ids == self.config.image_token_id  # (B, T)
        embeds = self.language_model.embed(input_ids)  # (B, T) -> (B, T, D)
        # masked_scatter fills the True places in row-major order: row b's <image> tokens,
        # left to right, get image b's N_out features, as Hugging Face's LlavaModel does
        # (B, T, 1) mask, (B, N_out, D) source -> (B, T, D)
        return embeds.masked_scatter(is_image[..., None], image_features.to(embeds.dtype))

    def _inputs_embeds(self, input_ids, pixel_values, vision_features) -> torch.Tensor:
        """[H_v, H_q, X_a] as the language model reads it: (B, T) ids -> (B, T, D)."""
        if input_ids is None:
            raise ValueError("input_ids (B, T) are required")
        return self.merge(input_ids, self.image_features(pixel_values, vision_features))

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        vision_features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B, T, V), loss or None): causal language modelling over the merged sequence.

        labels (B, T): input ids with IGNORE_INDEX (-100) where no loss is wanted; logit t
        predicts label t + 1, and the loss is the mean cross-entropy over the other labels.
        vision_features: Z_v (B, N, D_v) computed beforehand, in place of pixel_values.
        """
        inputs_embeds = self._inputs_embeds(input_ids, pixel_values, vision_features)
        logits, _ = self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask)
        return logits, None if labels is None else self.loss(logits, labels)

    def loss(
        self, logits: torch.Tensor, labels: torch.Tensor, per_row: bool = False
    ) -> torch.Tensor:
        """Next-token cross-entropy: logits (B, T, V), labels (B, T) -> a 0-d tensor, the
        mean over every labelled token; with per_row, (B,): each row's mean over its own."""
        return next_token_loss(logits, labels, per_row=per_row)

    @torch.no_grad()
    def generate(
        self,
        pixel_values: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        max_new_tokens: int = 20,
        eos_token_id: int | None = None,
        attention_mask: torch.Tensor | None = None,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        pad_token_id: int | None = None,
        vision_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The answer's tokens (B, n), n <= max_new_tokens: greedy unless temperature > 0.

        Prompts of different lengths are padded on the left, with attention_mask, so that
        every row's next token comes right after its prompt (make_batch does this). A row that
        emits eos_token_id is then filled with pad_token_id (None: eos_token_id).
        """
        inputs_embeds = self._inputs_embeds(input_ids, pixel_values, vision_features)
        return self.language_model.generate(
            inputs_embeds=inputs_embeds,
            max_new_tokens=max_new_tokens,
            attention_mask=attention_mask,
            temperature=temperature,
            generator=generator,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
        )

    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        """Stage 1 (feature alignment): the projector's parameters; stage 2 (instruction
        tuning): the projector's and the language model's. The vision tower is never trained."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage!r}")
        parts = [self.projector] + [self.language_model] * (stage == 2)
        return [p for part in parts for p in part.parameters()]

    def set_stage(self, stage: int) -> list[nn.Parameter]:
        """Freeze everything but trainable_parameters(stage) and return those, for the
        optimiser. Frozen modules still pass gradients back: in stage 1 the loss reaches the
        projector through the frozen language model."""
        trainable = self.trainable_parameters(stage)
        freeze(self)
        for p in trainable:
            p.requires_grad_(True)
        return trainable

    @classmethod
    def from_hf(cls, model) -> LLaVA:
        """Copy a transformers.LlavaForConditionalGeneration (CLIP vision tower, Llama language
        model, Linear-GELU-Linear projector): same logits and loss to float precision."""
        from transformers import LlamaForCausalLM, LlavaForConditionalGeneration

        if not isinstance(model, LlavaForConditionalGeneration):
            raise TypeError(
                f"expected a transformers.LlavaForConditionalGeneration, got {type(model).__name__}"
            )
        hf = model.config
        select = hf.vision_feature_select_strategy
        if not isinstance(hf.vision_feature_layer, int) or select not in ("default", "full"):
            raise ValueError(
                f"from_hf supports one int vision_feature_layer and the 'default' or 'full' "
                f"selection, got {hf.vision_feature_layer!r} and {select!r}"
            )
        if hf.projector_hidden_act != "gelu":
            raise ValueError(
                f"from_hf supports projector_hidden_act='gelu', got {hf.projector_hidden_act!r}"
            )
        if hf.text_config.model_type != "llama":
            raise ValueError(
                f"from_hf supports a Llama language model, got {hf.text_config.model_type!r}"
            )
        parts = model.model  # LlavaModel: vision_tower, multi_modal_projector, language_model
        vision_tower = vision_from_hf(parts.vision_tower)
        # Llama.from_hf reads a LlamaForCausalLM: lend it the LlamaModel and the head, in a
        # shell built without memory (the meta device)
        text_config = copy.deepcopy(hf.text_config)
        tied = model.lm_head.weight is parts.language_model.embed_tokens.weight
        text_config.tie_word_embeddings = tied
        with torch.device("meta"):
            shell = LlamaForCausalLM(text_config)
        shell.model, shell.lm_head = parts.language_model, model.lm_head
        language_model = Llama.from_hf(shell)

        projector = parts.multi_modal_projector
        config = LLaVAConfig(
            vision=vision_tower.config,
            text=language_model.config,
            projector="mlp",
            projector_options={"bias": projector.linear_1.bias is not None},
            image_token_id=hf.image_token_id,
            vision_feature_layer=hf.vision_feature_layer,
            vision_feature_select=select,
        )
        ours = cls(config)
        ours.vision_tower, ours.language_model = vision_tower, language_model
        state = {k.replace("linear_", "mlp.fc"): v for k, v in projector.state_dict().items()}
        ours.projector.to(projector.linear_1.weight.dtype).load_state_dict(state)
        return ours


def freeze(module: nn.Module) -> nn.Module:
    """requires_grad = False on every parameter of module; returns module."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def build_labels(input_ids: torch.Tensor, answer: int | torch.Tensor) -> torch.Tensor:
    """Labels for the loss on the answer only: input_ids (B, T) -> labels (B, T).

    answer: a boolean (B, T) mask, True where the loss is wanted; or where each answer starts,
    an int or a (B,) tensor of positions, every later position counting. All the others,
    image tokens and prompt, get IGNORE_INDEX (-100).
    """
    check_tensor(input_ids, "input_ids", dim=2, shape_doc="(B, T)", floating=False)
    B, T = input_ids.shape
    if isinstance(answer, torch.Tensor) and answer.dtype == torch.bool:
        if answer.shape != (B, T):
            raise ValueError(f"an answer mask must be (B, T) = {(B, T)}, got {tuple(answer.shape)}")
        keep = answer
    else:
        start = torch.as_tensor(answer, device=input_ids.device)
        if start.is_floating_point() or start.shape not in {(), (B,)}:
            raise ValueError(
                f"answer must be a bool mask (B, T) or start positions, an int or (B,) = ({B},), "
                f"got {answer!r}"
            )
        positions = torch.arange(T, device=input_ids.device)  # (T,)
        keep = positions[None] >= start.reshape(-1, 1)  # (1, T) >= (B or 1, 1) -> (B, T)
    return input_ids.masked_fill(~keep, IGNORE_INDEX)


def make_example(
    tokenizer,
    prompt: str,
    answer: str | None,
    n_image_tokens: int,
    image_first: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One training sequence and its labels, both (T,) long.

    image first:     <bos> <image> x N_out  prompt  answer <eos>
    question first:  <bos> prompt  <image> x N_out  answer <eos>

    LLaVA's instruction data uses both orders for the first question, chosen at random
    (Liu et al., 2023); Hugging Face's LLaVA prompts put the image first. Labels are
    IGNORE_INDEX on <bos>, the image tokens and the prompt, and the tokens on the answer and
    its <eos>, so the loss teaches the answer and when to stop. With causal attention the
    image tokens of the question-first order can read the question. answer=None gives the
    prompt alone, to generate from. tokenizer: minivlm.data.Tokenizer or anything with its
    encode, bos_id, image_id and pad_id.
    """
    _check_tokenizer(tokenizer, n_image_tokens)
    image = [tokenizer.image_id] * n_image_tokens
    question = tokenizer.encode(prompt, add_bos=False, add_eos=False)
    context = [tokenizer.bos_id] + (image + question if image_first else question + image)
    target = [] if answer is None else tokenizer.encode(answer, add_bos=False, add_eos=True)
    input_ids = torch.tensor(context + target, dtype=torch.long)
    labels = torch.tensor([IGNORE_INDEX] * len(context) + target, dtype=torch.long)
    return input_ids, labels


def _check_tokenizer(tokenizer, n_image_tokens: int) -> None:
    check_int(n_image_tokens, "n_image_tokens")
    for name in ("encode", "bos_id", "image_id", "pad_id"):
        if not hasattr(tokenizer, name):
            raise TypeError(
                f"tokenizer must have {name} (a minivlm.data.Tokenizer), "
                f"got {type(tokenizer).__name__}"
            )


def make_batch(
    tokenizer,
    prompts: list[str],
    answers: list[str] | None,
    n_image_tokens: int,
    image_first: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """make_example for each pair, padded: (input_ids, labels, attention_mask), each (B, T).

    With answers (training) the rows are padded on the right; without (answers=None, for
    generate) on the left, so that every prompt ends at the last position. Padding has
    <pad> ids, IGNORE_INDEX labels and attention_mask 0.
    """
    if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or not prompts:
        raise TypeError(f"prompts must be a non-empty list of str, got {type(prompts).__name__}")
    if answers is not None and len(answers) != len(prompts):
        raise ValueError(
            f"prompts and answers must pair up, got {len(prompts)} prompts and "
            f"{len(answers)} answers"
        )
    pairs = zip(prompts, answers) if answers is not None else ((p, None) for p in prompts)
    rows = [make_example(tokenizer, p, a, n_image_tokens, image_first) for p, a in pairs]
    T = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), T), tokenizer.pad_id, dtype=torch.long)
    labels = torch.full((len(rows), T), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), T), dtype=torch.long)
    for n, (ids, lab) in enumerate(rows):
        span = slice(0, len(ids)) if answers is not None else slice(T - len(ids), T)
        input_ids[n, span], labels[n, span], attention_mask[n, span] = ids, lab, 1
    return input_ids, labels, attention_mask


@torch.no_grad()
def compare_with_hf(
    hf_model,
    input_ids: torch.Tensor,
    pixel_values: torch.Tensor,
    max_new_tokens: int = 30,
    eos_token_id: int | None = None,
):
    """Copy a transformers.LlavaForConditionalGeneration into LLaVA, on its device and in its
    dtype, and run both on one prompt: (ours, largest logit difference, our greedy tokens).
    The LLaVA chapter runs it on a real checkpoint; the tests on a tiny random one."""
    parameter = next(hf_model.parameters())
    ours = LLaVA.from_hf(hf_model).to(device=parameter.device, dtype=parameter.dtype).eval()
    input_ids = input_ids.to(parameter.device)
    pixel_values = pixel_values.to(device=parameter.device, dtype=parameter.dtype)
    logits, _ = ours(pixel_values=pixel_values, input_ids=input_ids)
    reference = hf_model.eval()(input_ids=input_ids, pixel_values=pixel_values).logits
    difference = (logits.float() - reference.float()).abs().max().item()
    new = ours.generate(
        pixel_values=pixel_values,
        input_ids=input_ids,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos_token_id,
    )
    return ours, difference, new
