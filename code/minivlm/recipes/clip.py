"""The recipe of the book's CLIP: a tiny CLIP trained on the scene world.

The CLIP chapter runs `CLIPRecipe.chapter()` live (single objects, about 35 s on two CPU
cores). The package ships the weights of `CLIPRecipe.book()`, the same recipe run longer
on scenes of one to three objects, whose captions name every object left to right; the
LLaVA and challenges chapters load them with `load_book_clip()`. To reproduce them:

    python -m minivlm.recipes.clip --out code/minivlm/weights/scene_clip.pt

The same command runs on N processes (N GPUs, or CPU processes), with the same global batch
and, to float rounding, the same weights:

    torchrun --standalone --nproc_per_node=N -m minivlm.recipes.clip --out scene_clip.pt
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import distributed
from ..clip import CLIP, CLIPConfig, clip_loss
from ..data import scenes as world
from ..data.text import PROMPT_TEMPLATES, caption, class_prompts
from ..data.tokenizer import Tokenizer
from ..metrics import accuracy, recall_at_k, zero_shot_predict
from ..train import History, fit
from ..vit import ViT

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "scene_clip.pt"


@dataclass(frozen=True)
class CLIPRecipe:
    steps: int = 800
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 50
    weight_decay: float = 0.1
    n_objects: int | tuple[int, int] = 1
    held_out: int | None = 0  # offset of data.latin_held_out: six pairs never seen; None: none
    pool: str = "mean"  # image embedding: the mean of the patch tokens, or the class token
    relation_share: float = 0.0  # share of 2-object captions "a red circle left of a blue ..."
    context_length: int = 16
    seed: int = 0

    @classmethod
    def chapter(cls) -> CLIPRecipe:
        """What the CLIP chapter trains live: single objects, 800 steps of 64."""
        return cls()

    @classmethod
    def book(cls) -> CLIPRecipe:
        """The shipped model: one to three objects, captions listing every object, 6,000
        steps of 128. Batches of 128 made counts and positions readable downstream."""
        return cls(steps=6000, batch_size=128, n_objects=(1, 3), relation_share=0.5)


@dataclass
class TrainedCLIP:
    model: CLIP
    tokenizer: Tokenizer
    recipe: CLIPRecipe
    history: History | None = None


def clip_config(recipe: CLIPRecipe, tokenizer: Tokenizer) -> CLIPConfig:
    """CLIPConfig.tiny for the tokenizer's vocabulary, with the recipe's pooling."""
    config = CLIPConfig.tiny(vocab_size=tokenizer.vocab_size, context_length=recipe.context_length)
    config.vision.pool = recipe.pool
    return config


def build(recipe: CLIPRecipe, tokenizer: Tokenizer) -> CLIP:
    return CLIP(clip_config(recipe, tokenizer))


def held_out_pairs(recipe: CLIPRecipe) -> frozenset:
    return frozenset() if recipe.held_out is None else world.latin_held_out(recipe.held_out)


def training_captions(
    batch: world.SceneBatch, recipe: CLIPRecipe, rng: torch.Generator
) -> list[str]:
    """A caption per scene: single objects through a random prompt template (so that prompt
    ensembles mean something), several objects as a list, or a relation for some pairs."""
    draws = torch.rand(len(batch), 2, generator=rng).tolist()
    out = []
    for scene, (d_template, d_style) in zip(batch.to_scenes(), draws):
        if len(scene) == 1:
            (obj,) = scene.objects
            template = PROMPT_TEMPLATES[int(d_template * len(PROMPT_TEMPLATES))]
            out.append(template.format(colour=obj.colour, shape=obj.shape))
        else:
            relation = len(scene) == 2 and d_style < recipe.relation_share
            out.append(caption(scene, "relation" if relation else "list"))
    return out


class Embed(nn.Module):
    """The two towers and the temperature as one forward pass: (images, input_ids, mask) ->
    (I_f W_i, T_f W_t, exp(t)), what open_clip's CLIP.forward returns before it normalises
    the features. The loss needs the embeddings, not CLIP.forward's logits, and DDP arms its
    gradient hooks in the forward of the module it wraps: this one."""

    def __init__(self, model: CLIP):
        super().__init__()
        self.model = model

    def forward(self, images, input_ids, attention_mask):
        m = self.model
        return m.encode_image(images), m.encode_text(input_ids, attention_mask), m.logit_scale.exp()


def training_batch(
    recipe: CLIPRecipe,
    tokenizer: Tokenizer,
    data: torch.Generator,
    held_out: frozenset,
    rows: slice = slice(None),
) -> tuple[list[str], torch.Tensor, torch.Tensor, torch.Tensor]:
    """The next global batch of recipe.batch_size pairs from the generator `data`, and of it
    the rows of this rank: (captions, images (b, 3, S, S), input_ids (b, T), mask (b, T)).
    Every rank draws the whole batch, so that the generator moves alike on every rank and the
    shards together are the one-process batch."""
    batch = world.sample_scenes(
        recipe.batch_size, recipe.n_objects, seed=data, held_out=held_out or None
    )
    texts = training_captions(batch, recipe, data)[rows]
    images = world.render(batch)[rows]  # (B, 3, S, S) -> (b, 3, S, S)
    input_ids, mask = tokenizer.batch_encode(texts, recipe.context_length)
    return texts, images, input_ids, mask


def train_clip(
    recipe: CLIPRecipe | None = None,
    progress: bool = True,
    ranks: distributed.World | None = None,
) -> TrainedCLIP:
    """Train a CLIP by the recipe; the same recipe and seed give the same weights.

    In a run of N processes (ranks: distributed.setup()'s World), recipe.batch_size is the
    global batch: each rank trains on its B / N pairs, the loss gathers every rank's
    embeddings (clip_loss(gather=True)) and DDP averages the gradients, so that the weights
    are the one-process weights, to float rounding.
    """
    recipe = CLIPRecipe.chapter() if recipe is None else recipe
    ranks = distributed.World() if ranks is None else ranks
    rows = distributed.shard(recipe.batch_size, ranks)
    torch.manual_seed(recipe.seed)
    tokenizer = Tokenizer()
    model = build(recipe, tokenizer).to(ranks.device)
    net = distributed.wrap(Embed(model), ranks)
    data = torch.Generator().manual_seed(recipe.seed + 1)
    held_out = held_out_pairs(recipe)

    def loss_fn(step: int) -> torch.Tensor:
        _, images, input_ids, mask = training_batch(recipe, tokenizer, data, held_out, rows)
        device = ranks.device
        I_f, T_f, scale = net(images.to(device), input_ids.to(device), mask.to(device))
        return clip_loss(I_f, T_f, scale, gather=True)

    model.train()
    history = fit(
        model.parameters(),
        loss_fn,
        recipe.steps,
        recipe.lr,
        recipe.warmup,
        recipe.weight_decay,
        after_step=model.clamp_logit_scale_,
        desc="training CLIP",
        progress=progress,
    )
    return TrainedCLIP(model.eval().cpu(), tokenizer, recipe, history)


@torch.no_grad()
def encode_texts(trained: TrainedCLIP, texts: list[str]) -> torch.Tensor:
    """Unit-length text embeddings (N, d_e)."""
    ids, mask = trained.tokenizer.batch_encode(texts, trained.recipe.context_length)
    return F.normalize(trained.model.encode_text(ids, mask), dim=-1)


@torch.no_grad()
def encode_images(
    trained: TrainedCLIP, images: torch.Tensor, batch_size: int = 1024
) -> torch.Tensor:
    """Unit-length image embeddings (N, d_e), in batches to bound memory."""
    parts = [
        trained.model.encode_image(images[i : i + batch_size])
        for i in range(0, len(images), batch_size)
    ]
    return F.normalize(torch.cat(parts), dim=-1)


@torch.no_grad()
def encode_patches(trained: TrainedCLIP, images: torch.Tensor) -> torch.Tensor:
    """Unit-length embeddings of every patch, (B, N, d_e), in the joint space of the texts.

    Each patch token of the last block goes through ln_post and W_i, the path the pooled
    token takes. MaskCLIP (Zhou et al., 2022) instead projects the value embeddings of the
    last attention layer, which it found to localise better. With mean pooling the image embedding
    is W_i LN(mean of the patches); LayerNorm does not commute with the mean, so the patches'
    embeddings are close to the image's parts, not exact pieces of it.
    """
    vision = trained.model.vision
    tokens = vision.forward_features(images)  # (B, 1 + N, D), after ln_post
    return F.normalize(trained.model.W_i(tokens[:, 1:]), dim=-1)  # (B, N, D) -> (B, N, d_e)


def class_embeddings(trained: TrainedCLIP, templates=PROMPT_TEMPLATES[:1]) -> torch.Tensor:
    """(30, d_e): one unit vector per label of data.LABELS, the mean over the templates
    (prompt ensembling when there are several), re-normalised."""
    per_template = torch.stack([encode_texts(trained, class_prompts(t)) for t in templates])
    return F.normalize(per_template.mean(dim=0), dim=-1)  # (T, 30, d_e) -> (30, d_e)


# The CLIP chapter: the supervised baseline, distribution shifts, and the figures of a run

SHIFTS = ("no shift", "pixel noise", "dimmer colours", "smaller objects")
PIXEL_NOISE = 0.1  # the standard deviation of the "pixel noise" shift; pixels lie in [0, 1]


def train_classifier(recipe: CLIPRecipe | None = None, progress: bool = True) -> ViT:
    """The supervised baseline: the recipe's vision tower with a 30-way head over
    data.LABELS, trained with cross-entropy on single objects of the same world, with the
    recipe's steps, batch size and schedule."""
    recipe = CLIPRecipe.chapter() if recipe is None else recipe
    torch.manual_seed(recipe.seed)
    vision = clip_config(recipe, Tokenizer()).vision
    classifier = ViT(dataclasses.replace(vision, n_classes=len(world.LABELS)))
    stream = torch.Generator().manual_seed(recipe.seed + 1)
    held_out = held_out_pairs(recipe)

    def loss_fn(step: int) -> torch.Tensor:
        batch = world.sample_scenes(recipe.batch_size, 1, seed=stream, held_out=held_out or None)
        return F.cross_entropy(classifier(world.render(batch)), batch.label_ids)

    classifier.train()
    fit(
        classifier.parameters(),
        loss_fn,
        recipe.steps,
        recipe.lr,
        recipe.warmup,
        recipe.weight_decay,
        desc="training the classifier",
        progress=progress,
    )
    return classifier.eval()


def shifted(kind: str, recipe: CLIPRecipe, n: int = 2000, seed: int = 31):
    """(images, labels) of n single objects of the recipe's world, under a shift: Gaussian
    pixel noise of standard deviation PIXEL_NOISE, colours at half brightness, or radii of 4-6 px
    where training saw 8-12."""
    if kind not in SHIFTS:
        raise ValueError(f"kind must be one of {SHIFTS}, got {kind!r}")
    held_out = held_out_pairs(recipe) or None
    radii = {1: (4.0, 6.0)} if kind == "smaller objects" else None
    batch = world.sample_scenes(n, 1, seed=seed, held_out=held_out, radii=radii)
    images = world.render(batch, noise=PIXEL_NOISE if kind == "pixel noise" else 0.0, seed=seed)
    if kind == "dimmer colours":
        images = images * 0.5
    return images, batch.label_ids


def chapter_splits(recipe: CLIPRecipe) -> dict[str, world.SceneSplit]:
    """The chapter's test images: 3,000 single objects of the trained pairs ("seen") and
    3,000 of the held-out pairs ("unseen"), both new draws."""
    held_out = held_out_pairs(recipe)
    return {
        "seen": world.make_split(3000, 1, seed=21, held_out=held_out),
        "unseen": world.make_split(3000, 1, seed=22, held_out=held_out, held_out_mode="only"),
    }


@torch.no_grad()
def chapter_figures(seed: int = 0) -> dict[str, float]:
    """What the CLIP chapter measures of a run of its recipe with this seed, for
    minivlm.recipes.spread: zero-shot accuracy, retrieval, and both models under shifts."""
    recipe = dataclasses.replace(CLIPRecipe.chapter(), seed=seed)
    with torch.enable_grad():
        trained = train_clip(recipe, progress=False)
        classifier = train_classifier(recipe, progress=False)
    splits = chapter_splits(recipe)
    single = class_embeddings(trained, PROMPT_TEMPLATES[:1])
    ensemble = class_embeddings(trained, PROMPT_TEMPLATES)
    seen = splits["seen"]
    predicted = zero_shot_predict(encode_images(trained, seen.images), single)
    figures = {
        "zero_shot": accuracy(predicted, seen.labels),
        "zero_shot_ensemble": accuracy(
            zero_shot_predict(encode_images(trained, seen.images), ensemble), seen.labels
        ),
        "zero_shot_unseen": accuracy(
            zero_shot_predict(encode_images(trained, splits["unseen"].images), ensemble),
            splits["unseen"].labels,
        ),
        # label = colour * len(SHAPES) + shape (data.LABELS is colour-major)
        "colour_right": accuracy(predicted // len(world.SHAPES), seen.labels // len(world.SHAPES)),
        "shape_right": accuracy(predicted % len(world.SHAPES), seen.labels % len(world.SHAPES)),
        "final_loss": sum(trained.history.loss[-50:]) / 50,
        "final_scale": trained.model.logit_scale.exp().item(),
        "classifier_unseen": accuracy(
            classifier(splits["unseen"].images).argmax(-1), splits["unseen"].labels
        ),
    }
    captions = sorted(set(seen.captions))
    relevant = torch.tensor([[c == u for u in captions] for c in seen.captions])  # (N, C)
    S = encode_images(trained, seen.images) @ encode_texts(trained, captions).T
    for k in (1, 5):
        figures[f"recall{k}_i2t"] = recall_at_k(S, relevant, k)
        figures[f"recall{k}_t2i"] = recall_at_k(S.T, relevant.T, k)
    for kind in SHIFTS:
        images, labels = shifted(kind, recipe)
        key = kind.replace(" ", "_")
        figures[f"clip_{key}"] = accuracy(
            zero_shot_predict(encode_images(trained, images), ensemble), labels
        )
        figures[f"classifier_{key}"] = accuracy(classifier(images).argmax(-1), labels)
    return figures


def save(trained: TrainedCLIP, path: str | Path = WEIGHTS) -> None:
    torch.save(
        {
            "recipe": dataclasses.asdict(trained.recipe),
            "vocab": trained.tokenizer.vocab,
            "state_dict": trained.model.state_dict(),
            "loss": trained.history.loss if trained.history else None,
        },
        path,
    )


def load(path: str | Path = WEIGHTS) -> TrainedCLIP:
    """A TrainedCLIP saved by save(); its history holds the training losses."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    recipe = CLIPRecipe(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in blob["recipe"].items()}
    )
    tokenizer = Tokenizer()
    if tokenizer.vocab != blob["vocab"]:
        raise ValueError(
            f"{path} was trained with another vocabulary than this package's Tokenizer"
        )
    model = build(recipe, tokenizer)
    model.load_state_dict(blob["state_dict"])
    history = History(loss=blob["loss"]) if blob["loss"] else None
    return TrainedCLIP(model.eval(), tokenizer, recipe, history)


def load_book_clip() -> TrainedCLIP:
    """The shipped CLIP of CLIPRecipe.book()."""
    if not WEIGHTS.exists():
        raise FileNotFoundError(
            f"{WEIGHTS} is missing: run `python -m minivlm.recipes.clip` to train it"
        )
    return load(WEIGHTS)


def main(argv=None) -> None:
    """The command line: one process, or N under torchrun, with the same arguments;
    --batch-size is the global batch."""
    book = CLIPRecipe.book()
    parser = argparse.ArgumentParser(description="Train the book's CLIP (CLIPRecipe.book()).")
    parser.add_argument("--steps", type=int, default=book.steps)
    parser.add_argument("--batch-size", type=int, default=book.batch_size, help="global batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(WEIGHTS))
    args = parser.parse_args(argv)
    recipe = dataclasses.replace(book, steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    with distributed.launched(recipe.batch_size) as ranks:
        trained = train_clip(recipe, ranks=ranks)
        if ranks.is_main:
            save(trained, args.out)
            print(f"saved {args.out}")


if __name__ == "__main__":
    main()
