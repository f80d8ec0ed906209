"""Data that needs no download: photographs bundled with installed packages, and the scene
world (synthetic images of coloured shapes with captions, questions and answers)."""

from .objects import COLOURS, LABELS, MAX_OBJECTS, SHAPES, Object, Scene
from .photos import PHOTOS, load_photo, to_grayscale
from .scenes import (
    COLOUR_RGB,
    RADII,
    SceneBatch,
    SceneSplit,
    latin_held_out,
    make_split,
    near_twins,
    render,
    sample_scenes,
)
from .text import (
    DESCRIBE_PROMPT,
    NUMBER_WORDS,
    PROMPT_TEMPLATES,
    QA,
    QA_KINDS,
    QUESTIONS,
    WORDS,
    caption,
    captions,
    class_prompts,
    make_qa,
    parse_caption,
)
from .tokenizer import Tokenizer

__all__ = [
    "PHOTOS",
    "load_photo",
    "to_grayscale",
    "COLOUR_RGB",
    "COLOURS",
    "LABELS",
    "MAX_OBJECTS",
    "RADII",
    "SHAPES",
    "Object",
    "Scene",
    "SceneBatch",
    "SceneSplit",
    "latin_held_out",
    "make_split",
    "near_twins",
    "render",
    "sample_scenes",
    "DESCRIBE_PROMPT",
    "NUMBER_WORDS",
    "PROMPT_TEMPLATES",
    "QA",
    "QA_KINDS",
    "QUESTIONS",
    "WORDS",
    "caption",
    "captions",
    "class_prompts",
    "make_qa",
    "parse_caption",
    "Tokenizer",
]
