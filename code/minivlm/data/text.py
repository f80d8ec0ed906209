"""Words about scenes: captions, zero-shot prompts, and questions with one-word answers.

Everything is written from a Scene's ground truth in a closed vocabulary (WORDS), lower case,
with punctuation as separate words: "two objects : red circle , blue square". Objects are
always named left to right.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch

from .objects import COLOURS, LABELS, SHAPES, Scene, as_generator

NUMBER_WORDS = ("zero", "one", "two", "three")  # NUMBER_WORDS[k] names the count k
CAPTION_STYLES = ("list", "relation")
# Zero-shot prompts; the first is the single-object caption itself, the others are for
# prompt ensembling (average the text embeddings of one label over the templates).
PROMPT_TEMPLATES = (
    "a {colour} {shape}",
    "a photo of a {colour} {shape}",
    "a picture of one {colour} {shape}",
    "an image of a {colour} {shape}",
    "a {colour} {shape} on a black background",
)
DESCRIBE_PROMPT = "describe the image ."
QUESTIONS = {
    "colour": "what colour is the {shape} ?",
    "shape": "what shape is the {colour} object ?",
    "exists": "is there a {colour} {shape} ?",
    "count": "how many objects are there ?",
    "left_of": "is the {colour} {shape} left of the {colour2} {shape2} ?",
    "describe": DESCRIBE_PROMPT,
}
QA_KINDS = ("colour", "shape", "exists", "count", "left_of")  # answered with one word
ANSWERS = ("yes", "no")


class QA(NamedTuple):
    """One question about one scene, its answer, and which kind of question it is."""

    question: str
    answer: str
    kind: str


def caption(scene: Scene, style: str = "list") -> str:
    """Describe every object of a scene, left to right.

    "list":     "a red circle" for one object, else "two objects : red circle , blue square"
                (the count first, then each object: a frozen encoder trained on these carries
                counts and order);
    "relation": "a red circle left of a blue square" (chained for three objects).
    """
    _check_caption(scene, style)
    names = [f"{o.colour} {o.shape}" for o in scene.objects]
    if style == "relation" or len(names) == 1:
        return " left of ".join(f"a {name}" for name in names)
    return f"{NUMBER_WORDS[len(names)]} objects : " + " , ".join(names)


def captions(scenes, style: str = "list") -> list[str]:
    """caption() of each scene in a list."""
    return [caption(scene, style) for scene in _check_scenes(scenes)]


def parse_caption(text: str) -> list[tuple[str | None, str]]:
    """The objects a text mentions, in order: (colour, shape) for every shape word, with the
    colour word just before it, or None when there is none. Tolerant of any word order, so it
    also reads generated text: these are the mentions that `minivlm.metrics.chair` scores."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    tokens = text.split()
    return [
        (tokens[i - 1] if i > 0 and tokens[i - 1] in COLOURS else None, word)
        for i, word in enumerate(tokens)
        if word in SHAPES
    ]


def class_prompts(template: str = PROMPT_TEMPLATES[0]) -> list[str]:
    """One prompt per label of LABELS (30, colour-major), for zero-shot classification."""
    if not isinstance(template, str) or "{colour}" not in template or "{shape}" not in template:
        raise ValueError(f"template must be a str with {{colour}} and {{shape}}, got {template!r}")
    return [template.format(colour=colour, shape=shape) for colour, shape in LABELS]


def make_qa(scenes, seed=0, kinds=QA_KINDS) -> list[QA]:
    """One question per scene, aligned with scenes, deterministic from seed.

    The kind is drawn uniformly from the kinds that apply to the scene ("left_of" needs two
    objects). Answers are balanced where the world allows:
    - "exists" asks about a present object or, with probability 1/2, about a label drawn
      uniformly from the labels absent from the scene ("yes" / "no");
    - "left_of" picks two objects and, with probability 1/2, names them in the wrong order;
    - "count" is as balanced as the counts of the scenes (make_split balances them).
    "describe" (not in the default kinds) answers DESCRIBE_PROMPT with the list caption.
    """
    scenes = _check_scenes(scenes)
    kinds = _check_kinds(kinds)
    rng = as_generator(seed)
    # every random number up front, as Python floats: one tensor call, then a plain loop
    draws = torch.rand(len(scenes), 4, generator=rng).tolist()
    out = []
    for n, (scene, (d_kind, d_object, d_coin, d_other)) in enumerate(zip(scenes, draws)):
        usable = [k for k in kinds if k != "left_of" or len(scene) >= 2]
        if not usable:
            raise ValueError(
                f"scene {n} has one object and kinds={kinds} only asks about two: "
                f"sample scenes with n_objects >= 2 for 'left_of'"
            )
        kind = usable[int(d_kind * len(usable))]
        out.append(_ask(scene, kind, d_object, d_coin < 0.5, d_other))
    return out


def _ask(scene: Scene, kind: str, d_object: float, coin: bool, d_other: float) -> QA:
    """The question of one kind about one scene, from three uniform numbers and a coin."""
    objects = scene.objects
    target = objects[int(d_object * len(objects))]
    if kind == "colour":
        return QA(QUESTIONS[kind].format(shape=target.shape), target.colour, kind)
    if kind == "shape":
        return QA(QUESTIONS[kind].format(colour=target.colour), target.shape, kind)
    if kind == "count":
        return QA(QUESTIONS[kind], NUMBER_WORDS[len(objects)], kind)
    if kind == "describe":
        return QA(DESCRIBE_PROMPT, caption(scene), kind)
    if kind == "exists":
        if coin:
            colour, shape = target.label
        else:
            absent = [label for label in LABELS if label not in scene.labels]
            colour, shape = absent[int(d_other * len(absent))]
        answer = "yes" if scene.has(colour, shape) else "no"
        return QA(QUESTIONS[kind].format(colour=colour, shape=shape), answer, kind)
    # left_of: objects are sorted, so in a pair (i, j) with i < j object i is the left one
    pairs = list(itertools.combinations(range(len(objects)), 2))
    i, j = pairs[int(d_other * len(pairs))]
    first, second = (objects[i], objects[j]) if coin else (objects[j], objects[i])
    question = QUESTIONS[kind].format(
        colour=first.colour, shape=first.shape, colour2=second.colour, shape2=second.shape
    )
    return QA(question, "yes" if first.cx < second.cx else "no", kind)


def _check_caption(scene, style) -> None:
    if not isinstance(scene, Scene):
        raise TypeError(f"scene must be a Scene, got {type(scene).__name__}")
    if style not in CAPTION_STYLES:
        raise ValueError(f"style must be one of {CAPTION_STYLES}, got {style!r}")


def _check_scenes(scenes) -> list[Scene]:
    if isinstance(scenes, Scene):
        raise TypeError("scenes must be a list of Scene; wrap a single scene as [scene]")
    if not isinstance(scenes, (list, tuple)) or not all(isinstance(s, Scene) for s in scenes):
        raise TypeError(f"scenes must be a list of Scene, got {type(scenes).__name__}")
    return list(scenes)


def _check_kinds(kinds) -> tuple[str, ...]:
    if isinstance(kinds, str):
        kinds = (kinds,)
    if not isinstance(kinds, (list, tuple)) or not kinds or any(k not in QUESTIONS for k in kinds):
        raise ValueError(f"kinds must be a non-empty list from {tuple(QUESTIONS)}, got {kinds!r}")
    return tuple(kinds)


def _template_words(template: str) -> set[str]:
    return {word for word in template.split() if not word.startswith("{")}


# Every word the world writes, sorted: the vocabulary of minivlm.data.tokenizer.
WORDS = tuple(
    sorted(
        set(COLOURS)
        | set(SHAPES)
        | set(NUMBER_WORDS)
        | set(ANSWERS)
        | {"a", "objects", "left", "of", ":", ","}  # caption words
        | set().union(*(_template_words(t) for t in PROMPT_TEMPLATES))
        | set().union(*(_template_words(q) for q in QUESTIONS.values()))
    )
)
