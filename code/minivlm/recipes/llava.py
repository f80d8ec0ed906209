"""The recipe of the book's LLaVA: the book's CLIP tower, frozen, a projector and a small
LLaMA-style language model, trained in LLaVA's two stages on the scene world.

Stage 1 (feature alignment) trains the projector alone on "describe the image ." and the
scene's caption; stage 2 (instruction tuning) trains the projector and the language model
on questions and answers, with some descriptions mixed in. The vision tower never trains,
so its features are computed once for all training scenes. The LLaVA chapter runs
`LLaVARecipe.chapter()` (and a shorter second stage beside it); the package ships the
weights of `LLaVARecipe.book()` for the challenges chapter:

    python -m minivlm.recipes.llava              # the book's model, scene_llava.pt
    python -m minivlm.recipes.llava --variant linear    # and the chapter's comparisons
    torchrun --standalone --nproc_per_node=N -m minivlm.recipes.llava   # on N processes

The chapter's comparisons (other projectors, the blind baseline) are the chapter's recipe
with one field changed; their weights ship too, so that the chapter can measure them
without training each one.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import distributed
from ..data import scenes as world
from ..data.text import DESCRIBE_PROMPT, QA_KINDS, captions, make_qa
from ..data.tokenizer import Tokenizer
from ..llama import IGNORE_INDEX
from ..llava import LLaVA, LLaVAConfig, freeze, make_batch
from ..train import History, fit
from .clip import TrainedCLIP, load_book_clip

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "scene_llava.pt"


@dataclass(frozen=True)
class LLaVARecipe:
    projector: str = "mlp"  # "linear", "mlp", "merge" (4 tokens) or "qformer" (8 tokens)
    stage1_steps: int = 300  # 0 skips stage 1: stage 2 starts from a random projector
    stage2_steps: int = 2400
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 30
    # LLaVA draws the question before or after the image for the first turn, in both stages
    # (Liu et al., 2023, eq. 2); the book keeps the question first
    image_first: bool = False
    # LLaVA reads the penultimate of CLIP's 24 blocks; of this tower's two blocks the
    # penultimate is the first, barely past the patches: the book reads the last
    vision_feature_layer: int = -1
    blind: bool = False  # zero image features: the language model alone, a baseline
    n_scenes: int = 20000  # training scenes, one to three objects
    qa_per_scene: int = 3  # questions drawn per scene for stage 2
    describe_share: float = 0.2  # share of stage-2 examples that ask for a description
    bias: tuple | None = None  # ((shape, companion), p): biased co-occurrence, see sample_scenes
    seed: int = 0

    @classmethod
    def chapter(cls, **kw) -> LLaVARecipe:
        return cls(**kw)

    @classmethod
    def book(cls, **kw) -> LLaVARecipe:
        """The shipped model: the same recipe, twice as long in stage 2, on more scenes."""
        return cls(**{"stage2_steps": 4800, "n_scenes": 40000, **kw})


@dataclass
class TrainedLLaVA:
    model: LLaVA
    tokenizer: Tokenizer
    recipe: LLaVARecipe
    history: dict[str, History] = dataclasses.field(default_factory=dict)
    scores: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    replies: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # to test's questions
    # after stage 1, the loss of the test scenes' captions: with the scene's own image, with
    # another scene's image, and with no image (zero features)
    caption_loss: dict[str, float] = dataclasses.field(default_factory=dict)
    caption_loss_each: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)  # (n,)


def build(recipe: LLaVARecipe, clip: TrainedCLIP) -> LLaVA:
    """LLaVAConfig.tiny with the book CLIP's vision tower, loaded and frozen."""
    torch.manual_seed(recipe.seed)
    tokenizer = clip.tokenizer  # the scene world's, which the CLIP was trained with
    config = LLaVAConfig.tiny(
        projector=recipe.projector,
        vocab_size=tokenizer.vocab_size,
        image_token_id=tokenizer.image_id,
        vision=clip.model.config.vision,
        vision_feature_layer=recipe.vision_feature_layer,
    )
    model = LLaVA(config)
    model.vision_tower.load_state_dict(clip.model.vision.state_dict())
    freeze(model.vision_tower)  # LLaVA keeps its CLIP encoder frozen in both stages
    return model


@torch.no_grad()
def vision_features(
    model: LLaVA, images: torch.Tensor, blind: bool = False, batch_size: int = 2048
) -> torch.Tensor:
    """Z_v of the frozen tower for many images: (B, 3, H, W) -> (B, N, D_v); zeros for a
    blind recipe, whose language model sees the same (empty) image for every question."""
    if blind:  # the shape alone: the tower need not run
        c = model.config
        return torch.zeros(len(images), c.n_patch_features, c.vision.width, device=images.device)
    parts = [
        model.vision_features(images[i : i + batch_size]) for i in range(0, len(images), batch_size)
    ]
    return torch.cat(parts)


def training_world(recipe: LLaVARecipe) -> dict:
    """How the recipe draws its training scenes, as keyword arguments of both
    scenes.make_split (which also renders them) and scenes.sample_scenes (which does not):
    the same arguments draw the same scenes."""
    return {
        "n": recipe.n_scenes,
        "n_objects": (1, 3),
        "seed": recipe.seed + 1,
        "bias": None if recipe.bias is None else {recipe.bias[0]: recipe.bias[1]},
    }


def stage1_examples(split: world.SceneSplit) -> tuple[list[int], list[str], list[str]]:
    """(scene index, prompt, answer): every scene described by its caption."""
    return list(range(len(split))), [DESCRIBE_PROMPT] * len(split), captions(split.scenes)


def stage2_examples(split, recipe: LLaVARecipe) -> tuple[list[int], list[str], list[str]]:
    """Questions about every scene, qa_per_scene each, and a share of descriptions."""
    index, prompts, answers = [], [], []
    generator = torch.Generator().manual_seed(recipe.seed + 2)
    for k in range(recipe.qa_per_scene):
        for n, qa in enumerate(make_qa(split.scenes, seed=recipe.seed * 100 + k)):
            index.append(n)
            prompts.append(qa.question)
            answers.append(qa.answer)
    n_describe = int(len(index) * recipe.describe_share / (1 - recipe.describe_share))
    chosen = torch.randperm(len(split), generator=generator)[:n_describe].tolist()
    describe = captions([split.scenes[n] for n in chosen])
    return index + chosen, prompts + [DESCRIBE_PROMPT] * len(chosen), answers + describe


@dataclass
class StageData:
    """A stage's examples as tensors, all of them on every rank: the token ids and labels
    (n, T), each example's length, which label positions the loss counts (n, T - 1), and the
    scene each example shows (n,)."""

    input_ids: torch.Tensor
    labels: torch.Tensor
    lengths: torch.Tensor
    counted: torch.Tensor
    index: torch.Tensor


def stage_data(tokenizer: Tokenizer, examples, model: LLaVA, recipe: LLaVARecipe) -> StageData:
    """(scene index, prompt, answer) lists, tokenised as LLaVA's training sequences."""
    index, prompts, answers = examples
    input_ids, labels, mask = make_batch(
        tokenizer, prompts, answers, model.n_image_tokens, recipe.image_first
    )
    counted = labels[:, 1:] != IGNORE_INDEX  # the tokens the loss averages, (n, T - 1)
    return StageData(input_ids, labels, mask.sum(dim=1), counted, torch.tensor(index))


def rows_loss(
    net: torch.nn.Module,
    data: StageData,
    Z_v: torch.Tensor,
    rows: torch.Tensor,
    ranks: distributed.World,
) -> torch.Tensor:
    """The loss of the global batch `rows` (B example indices) on this rank's B / N of them.

    One process: the mean cross-entropy over the batch's answer tokens. N processes: this
    shard's sum over the global count / N, so that the mean over the ranks, and DDP's
    average of their gradients, are the one-process loss and gradient. net is the LLaVA,
    or its DDP wrapper.
    """
    # right padding needs no attention mask: causal attention never looks ahead; the
    # columns that are padding in every row of the global batch are dropped
    T = int(data.lengths[rows].max())
    mine = rows[distributed.shard(len(rows), ranks)]
    loss = net(
        input_ids=data.input_ids[mine, :T].to(ranks.device),
        labels=data.labels[mine, :T].to(ranks.device),
        vision_features=Z_v[data.index[mine]],
    )[1]
    if ranks.size > 1:  # this shard's mean, times its share of the tokens, times N
        share = data.counted[mine, : T - 1].sum() / data.counted[rows, : T - 1].sum()
        loss = loss * (ranks.size * share)
    return loss


def train_llava(
    recipe: LLaVARecipe | None = None,
    clip: TrainedCLIP | None = None,
    progress: bool = True,
    test: world.SceneSplit | None = None,
    ranks: distributed.World | None = None,
) -> TrainedLLaVA:
    """Both stages of the recipe; the same recipe and seed give the same weights. With a
    test split, the answers are scored after each stage (TrainedLLaVA.scores).

    In a run of N processes (ranks: distributed.setup()'s World), recipe.batch_size is the
    global batch: every rank draws the same rows and trains on its B / N of them, and DDP
    averages the gradients. The loss is a mean over answer tokens, whose number differs
    from shard to shard, so each rank divides its sum by the global count over N, not by
    its own count: the average over the ranks is then the one-process loss, and so is the
    gradient.
    """
    recipe = LLaVARecipe.chapter() if recipe is None else recipe
    ranks = distributed.World() if ranks is None else ranks
    distributed.shard(recipe.batch_size, ranks)  # a batch that does not split fails here
    clip = load_book_clip() if clip is None else clip
    tokenizer = clip.tokenizer
    model = build(recipe, clip).to(ranks.device)
    split = world.make_split(**training_world(recipe))
    # (n_scenes, N, D_v), once: the tower is frozen. Every rank computes them all: its rows
    # are drawn from every scene
    Z_v = vision_features(model, split.images.to(ranks.device), recipe.blind)
    stream = torch.Generator().manual_seed(recipe.seed + 3)
    trained = TrainedLLaVA(model, tokenizer, recipe)
    for stage, examples, steps in (
        (1, stage1_examples(split), recipe.stage1_steps),
        (2, stage2_examples(split, recipe), recipe.stage2_steps),
    ):
        if steps == 0:
            continue  # stage 1 skipped: the projector keeps its random initial weights
        data = stage_data(tokenizer, examples, model, recipe)
        trainable = model.set_stage(stage)
        net = distributed.wrap(model, ranks)  # after set_stage: DDP syncs what trains

        def loss_fn(step: int) -> torch.Tensor:
            rows = torch.randint(len(data.index), (recipe.batch_size,), generator=stream)
            return rows_loss(net, data, Z_v, rows, ranks)

        model.train()
        trained.history[f"stage {stage}"] = fit(
            trainable,
            loss_fn,
            steps,
            recipe.lr,
            recipe.warmup,
            desc=f"stage {stage}",
            progress=progress,
        )
        model.eval()
        if test is not None:
            scores, replies = evaluate(trained, test, return_replies=True)
            trained.scores[f"stage {stage}"], trained.replies[f"stage {stage}"] = scores, replies
            if stage == 1:
                trained.caption_loss, trained.caption_loss_each = caption_losses(trained, test)
    model.cpu()
    return trained


@torch.no_grad()
def caption_losses(trained: TrainedLLaVA, split: world.SceneSplit) -> tuple[dict, dict]:
    """The next-token loss of each scene's caption after "describe the image .", per token:
    with the scene's own image, with another scene's (the images shifted by one), and with
    no image (zero features). Own below another: the image tokens carry the scene.

    Returns (means, each): means[view] the mean over every caption token of the split;
    each[view] a (n,) tensor, each caption's mean over its own tokens, for intervals over
    captions. One forward pass per view gives both.
    """
    model, tok = trained.model, trained.tokenizer
    input_ids, labels, _ = make_batch(
        tok,
        [DESCRIBE_PROMPT] * len(split),
        captions(split.scenes),
        model.n_image_tokens,
        trained.recipe.image_first,
    )
    Z_v = vision_features(model, split.images, trained.recipe.blind)  # (n, N, D_v)
    views = {
        "own image": Z_v,
        "another image": Z_v.roll(1, dims=0),  # the scene's, the next's
        "no image": torch.zeros_like(Z_v),
    }
    means, each = {}, {}
    for name, z in views.items():
        logits = model(input_ids=input_ids, vision_features=z)[0]  # (n, T, V)
        means[name] = model.loss(logits, labels).item()
        each[name] = model.loss(logits, labels, per_row=True)  # (n,)
    return means, each


@torch.no_grad()
def answer(
    trained: TrainedLLaVA,
    images: torch.Tensor,
    questions: list[str],
    max_new_tokens: int = 16,
    batch_size: int = 512,
) -> list[str]:
    """The model's greedy answers to one question per image."""
    model, tok = trained.model, trained.tokenizer
    out = []
    for i in range(0, len(questions), batch_size):
        ids, _, mask = make_batch(
            tok,
            questions[i : i + batch_size],
            None,
            model.n_image_tokens,
            trained.recipe.image_first,
        )
        Z_v = vision_features(model, images[i : i + batch_size], trained.recipe.blind)
        new = model.generate(
            input_ids=ids,
            attention_mask=mask,
            vision_features=Z_v,
            max_new_tokens=max_new_tokens,
            eos_token_id=tok.eos_id,
            pad_token_id=tok.pad_id,
        )
        out += [tok.decode(row) for row in new]
    return out


# room for a whole caption: after stage 1 the model describes instead of answering
EVAL_TOKENS = 12


def evaluate(
    trained: TrainedLLaVA, split: world.SceneSplit, seed: int = 0, return_replies: bool = False
):
    """Exact-match accuracy per question kind, and overall, on one question per scene
    (make_qa(split.scenes, seed)); with return_replies, also the model's replies."""
    qa = make_qa(split.scenes, seed=seed)
    replies = answer(trained, split.images, [q.question for q in qa], max_new_tokens=EVAL_TOKENS)
    right = {kind: [] for kind in QA_KINDS}
    for q, reply in zip(qa, replies):
        right[q.kind].append(reply == q.answer)
    scores = {kind: sum(r) / len(r) for kind, r in right.items() if r}
    scores["overall"] = sum(sum(r) for r in right.values()) / len(qa)
    return (scores, replies) if return_replies else scores


def chapter_test_split() -> world.SceneSplit:
    """The LLaVA chapter's held-out scenes: 2,000 new draws of one to three objects."""
    return world.make_split(2000, (1, 3), seed=999)


def chapter_figures(seed: int = 0) -> dict[str, float]:
    """What the LLaVA chapter measures of a run of its recipe with this seed, for
    minivlm.recipes.spread: exact-match accuracy per question kind after stage 2."""
    recipe = dataclasses.replace(LLaVARecipe.chapter(), seed=seed)
    trained = train_llava(recipe, progress=False, test=chapter_test_split())
    return dict(trained.scores["stage 2"])


# what the chapter compares with its recipe, each a recipe with one field changed
ABLATIONS = {
    "image_first": {"image_first": True},  # the image before the question
    "no_stage1": {"stage1_steps": 0},  # stage 2 from a random projector, same stage-2 steps
}


def ablation_figures(seed: int = 0) -> dict[str, float]:
    """Accuracy per question kind after stage 2 of each ablation of the chapter's recipe,
    with this seed, as "<ablation>_<kind>", for minivlm.recipes.spread."""
    figures, test = {}, chapter_test_split()
    for name, change in ABLATIONS.items():
        recipe = dataclasses.replace(LLaVARecipe.chapter(), seed=seed, **change)
        trained = train_llava(recipe, progress=False)
        for kind, value in evaluate(trained, test).items():
            figures[f"{name}_{kind}"] = value
    return figures


def merge_recipe() -> LLaVARecipe:
    """The chapter's recipe with Qwen2-VL's patch merger as projector (4 visual tokens)."""
    return LLaVARecipe.chapter(projector="merge")


def merge_figures(seed: int = 0) -> dict[str, float]:
    """Accuracy per question kind after stage 2 of merge_recipe() with this seed, on the
    chapter's test split, for minivlm.recipes.spread."""
    trained = train_llava(dataclasses.replace(merge_recipe(), seed=seed), progress=False)
    return evaluate(trained, chapter_test_split())


def save(trained: TrainedLLaVA, path: str | Path = WEIGHTS) -> None:
    trainable = {
        k: v for k, v in trained.model.state_dict().items() if not k.startswith("vision_tower.")
    }
    torch.save(
        {
            "recipe": dataclasses.asdict(trained.recipe),
            "state_dict": trainable,
            "loss": {k: h.loss for k, h in trained.history.items()},
        },
        path,
    )


def load(path: str | Path = WEIGHTS, clip: TrainedCLIP | None = None) -> TrainedLLaVA:
    """A TrainedLLaVA saved by save(); the vision tower comes from the book's CLIP."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    fields = {
        k: (tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v)
        for k, v in blob["recipe"].items()
    }
    recipe = LLaVARecipe(**fields)
    clip = load_book_clip() if clip is None else clip
    model = build(recipe, clip)
    missing, unexpected = model.load_state_dict(blob["state_dict"], strict=False)
    if unexpected or any(not k.startswith("vision_tower.") for k in missing):
        raise ValueError(
            f"{path} does not fit LLaVAConfig.tiny: missing {missing}, unexpected {unexpected}"
        )
    history = {k: History(loss=v) for k, v in blob["loss"].items()}
    return TrainedLLaVA(model.eval(), clip.tokenizer, recipe, history)


def variants() -> dict[str, tuple[LLaVARecipe, Path]]:
    """The shipped models: name -> (recipe, weights file)."""
    folder = WEIGHTS.parent
    return {
        "book": (LLaVARecipe.book(), WEIGHTS),
        "linear": (LLaVARecipe.chapter(projector="linear"), folder / "llava_linear.pt"),
        "qformer": (LLaVARecipe.chapter(projector="qformer"), folder / "llava_qformer.pt"),
        "merge": (merge_recipe(), folder / "llava_merge.pt"),
        "mlp": (LLaVARecipe.chapter(), folder / "llava_mlp.pt"),
        "blind": (LLaVARecipe.chapter(blind=True), folder / "llava_blind.pt"),
        # the challenges chapter's: the book's recipe on a world where, in scenes of two or
        # more objects, every circle comes with a square
        "biased": (LLaVARecipe.book(bias=(("circle", "square"), 1.0)), folder / "llava_biased.pt"),
        # the challenges chapter's bias sweep: the chapter's recipe, where a scene of two or
        # more objects with a circle and no square is redrawn with probability p ("mlp": none)
        **{
            f"bias_{round(p * 100):03d}": (
                LLaVARecipe.chapter(bias=(("circle", "square"), p)),
                folder / f"llava_bias_{round(p * 100):03d}.pt",
            )
            for p in (0.5, 0.9, 1.0)
        },
    }


def load_variant(name: str = "book", clip: TrainedCLIP | None = None) -> TrainedLLaVA:
    """A shipped model: "book" (LLaVARecipe.book()), or one of the chapter's comparisons."""
    table = variants()
    if name not in table:
        raise ValueError(f"name must be one of {sorted(table)}, got {name!r}")
    recipe, path = table[name]
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `python -m minivlm.recipes.llava --variant {name}`"
        )
    trained = load(path, clip)
    if trained.recipe != recipe:
        raise ValueError(f"{path} was trained with {trained.recipe}, not {recipe}")
    return trained


def main(argv=None) -> None:
    """The command line: one process, or N under torchrun, with the same arguments;
    --batch-size is the global batch. The step and batch options change the variant's
    recipe, for short runs; the shipped weights come from the recipes as they are."""
    parser = argparse.ArgumentParser(description="Train one of the book's LLaVA models.")
    parser.add_argument("--variant", default="book", choices=sorted(variants()))
    parser.add_argument("--stage1-steps", type=int, default=None)
    parser.add_argument("--stage2-steps", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="global batch")
    parser.add_argument("--n-scenes", type=int, default=None, help="training scenes")
    parser.add_argument("--out", default=None, help="default: the package's weights file")
    args = parser.parse_args(argv)
    recipe, path = variants()[args.variant]
    changes = {
        field: getattr(args, field)
        for field in ("stage1_steps", "stage2_steps", "batch_size", "n_scenes")
        if getattr(args, field) is not None
    }
    recipe = dataclasses.replace(recipe, **changes)
    with distributed.launched(recipe.batch_size) as ranks:
        trained = train_llava(recipe, ranks=ranks)
        if ranks.is_main:
            save(trained, args.out or path)
            print(f"saved {args.out or path}")


if __name__ == "__main__":
    main()
