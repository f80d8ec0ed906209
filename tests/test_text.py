"""minivlm.data.text: captions, prompts and question-answer pairs against the ground truth."""

from __future__ import annotations

from collections import Counter

import pytest

from minivlm.data import (
    DESCRIBE_PROMPT,
    LABELS,
    NUMBER_WORDS,
    PROMPT_TEMPLATES,
    QA_KINDS,
    WORDS,
    Object,
    Scene,
    caption,
    captions,
    class_prompts,
    make_qa,
    make_split,
    parse_caption,
)

RED_SQUARE = Object("square", "red", 8.0, 16.0, 6.0)
BLUE_CIRCLE = Object("circle", "blue", 24.0, 16.0, 6.0)
GREEN_CROSS = Object("cross", "green", 16.0, 6.0, 5.0)


@pytest.fixture(scope="module")
def scenes():
    return make_split(3000, (1, 3), seed=21).scenes


def test_captions_of_hand_made_scenes():
    one, two = Scene([RED_SQUARE]), Scene([BLUE_CIRCLE, RED_SQUARE])
    three = Scene([BLUE_CIRCLE, GREEN_CROSS, RED_SQUARE])
    assert caption(one) == "a red square"
    assert caption(two) == "two objects : red square , blue circle"
    assert caption(three) == "three objects : red square , green cross , blue circle"
    assert caption(one, "relation") == "a red square"
    assert caption(two, "relation") == "a red square left of a blue circle"
    assert captions([one, two]) == [caption(one), caption(two)]


def test_parse_caption_reads_every_style(scenes):
    for scene in scenes[:300]:
        for style in ("list", "relation"):
            assert parse_caption(caption(scene, style)) == list(scene.labels)
    assert parse_caption("a square and a red circle") == [(None, "square"), ("red", "circle")]


def test_class_prompts():
    for template in PROMPT_TEMPLATES:
        prompts = class_prompts(template)
        assert len(prompts) == 30 and len(set(prompts)) == 30
        assert [p for p in prompts if "blue" in p and "cross" in p] == [
            prompts[LABELS.index(("blue", "cross"))]
        ]
    assert class_prompts()[0] == "a red circle"
    with pytest.raises(ValueError, match="template"):
        class_prompts("a {shape}")


def test_make_qa_is_deterministic_and_aligned(scenes):
    a = make_qa(scenes, seed=1)
    assert a == make_qa(scenes, seed=1) and len(a) == len(scenes)
    assert a != make_qa(scenes, seed=2)
    assert all(len(qa.answer.split()) == 1 for qa in a)  # one-word answers


def _object_named(scene: Scene, colour=None, shape=None):
    found = [o for o in scene.objects if colour in (None, o.colour) and shape in (None, o.shape)]
    return found[0] if len(found) == 1 else None


def _truth(scene: Scene, question: str, kind: str) -> str:
    """The answer, worked out again from the question's words and the scene."""
    words = question.split()
    if kind == "colour":  # what colour is the SHAPE ?
        return _object_named(scene, shape=words[4]).colour
    if kind == "shape":  # what shape is the COLOUR object ?
        return _object_named(scene, colour=words[4]).shape
    if kind == "exists":  # is there a COLOUR SHAPE ?
        return "yes" if _object_named(scene, words[3], words[4]) else "no"
    if kind == "count":
        return NUMBER_WORDS[len(scene)]
    if kind == "left_of":  # is the C1 S1 left of the C2 S2 ?
        first = _object_named(scene, words[2], words[3])
        second = _object_named(scene, words[7], words[8])
        return "yes" if first.cx < second.cx else "no"
    return caption(scene)


def test_answers_agree_with_the_ground_truth(scenes):
    qas = make_qa(scenes, seed=3, kinds=QA_KINDS + ("describe",))
    for scene, (question, answer, kind) in zip(scenes, qas):
        assert answer == _truth(scene, question, kind), (question, scene)


def test_answers_are_balanced(scenes):
    qas = make_qa(scenes, seed=4)
    kinds = Counter(qa.kind for qa in qas)
    # left_of applies to the two thirds of scenes with two or three objects
    assert all(abs(kinds[k] / len(qas) - 0.2) < 0.04 for k in ("colour", "shape", "exists"))
    for kind in ("exists", "left_of"):
        answers = Counter(qa.answer for qa in qas if qa.kind == kind)
        assert set(answers) == {"yes", "no"}
        assert abs(answers["yes"] / sum(answers.values()) - 0.5) < 0.06
    counts = Counter(qa.answer for qa in qas if qa.kind == "count")
    assert set(counts) == {"one", "two", "three"}
    assert all(abs(n / sum(counts.values()) - 1 / 3) < 0.07 for n in counts.values())


def test_absent_objects_cover_many_labels(scenes):
    qas = make_qa(scenes, seed=5, kinds="exists")
    asked = {tuple(qa.question.split()[3:5]) for qa in qas if qa.answer == "no"}
    assert len(asked) == 30  # any label can be asked about when absent


def test_single_kind_and_describe(scenes):
    qas = make_qa(scenes[:50], seed=0, kinds=["describe"])
    assert all(
        q.question == DESCRIBE_PROMPT and q.answer == caption(s) for q, s in zip(qas, scenes[:50])
    )
    two_or_more = [s for s in scenes if len(s) >= 2][:50]
    assert {q.kind for q in make_qa(two_or_more, kinds="left_of")} == {"left_of"}


def test_every_text_uses_the_vocabulary(scenes):
    vocabulary = set(WORDS)
    texts = [caption(s, style) for s in scenes[:200] for style in ("list", "relation")]
    texts += [t for template in PROMPT_TEMPLATES for t in class_prompts(template)]
    for qa in make_qa(scenes[:500], seed=0, kinds=QA_KINDS + ("describe",)):
        texts += [qa.question, qa.answer]
    assert set(" ".join(texts).split()) <= vocabulary
    assert list(WORDS) == sorted(set(WORDS))


def test_make_qa_rejects_bad_input(scenes):
    one = [s for s in scenes if len(s) == 1][:3]
    with pytest.raises(ValueError, match="left_of"):
        make_qa(one, kinds="left_of")
    with pytest.raises(ValueError, match="kinds"):
        make_qa(scenes[:3], kinds=("colour", "size"))
    with pytest.raises(ValueError, match="kinds"):
        make_qa(scenes[:3], kinds=())
    with pytest.raises(TypeError, match="list of Scene"):
        make_qa(scenes[0])
    with pytest.raises(TypeError, match="list of Scene"):
        make_qa(["a red circle"])
    with pytest.raises(TypeError, match="seed"):
        make_qa(scenes[:3], seed="x")
    with pytest.raises(ValueError, match="style"):
        caption(scenes[0], "poem")
    with pytest.raises(TypeError, match="Scene"):
        caption("a red circle")
