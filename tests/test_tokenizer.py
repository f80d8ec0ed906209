"""minivlm.data.tokenizer: ids, round trips, padding and errors."""

from __future__ import annotations

import pytest
import torch

from minivlm.data import (
    PROMPT_TEMPLATES,
    QA_KINDS,
    WORDS,
    Tokenizer,
    class_prompts,
    make_qa,
    make_split,
)


@pytest.fixture(scope="module")
def tok():
    return Tokenizer()


def test_ids_and_vocabulary(tok):
    assert tok.pad_id == 0 and tok.vocab[0] == "<pad>"
    assert (tok.bos_id, tok.unk_id, tok.image_id) == (1, 2, 3)
    assert tok.eos_id == tok.vocab_size - 1 == len(tok.vocab) - 1  # the largest id: CLIP's rule
    assert tok.vocab_size == len(WORDS) + 5
    assert tok.vocab[4:-1] == sorted(WORDS)
    assert Tokenizer().vocab == tok.vocab  # deterministic


def test_encode_decode(tok):
    ids = tok.encode("a red circle")
    assert ids[-1] == tok.eos_id and len(ids) == 4
    assert tok.encode("a red circle", add_bos=True, add_eos=False)[0] == tok.bos_id
    assert tok.decode(ids) == "a red circle"
    assert tok.decode(ids, skip_special=False) == "a red circle <eos>"
    assert tok.decode(torch.tensor(ids)) == "a red circle"
    # case and punctuation are normalised
    assert tok.encode("Is there a red square?") == tok.encode("is there a red square ?")
    # special tokens may be written in the text
    assert tok.encode("<image> describe the image .", add_eos=False)[0] == tok.image_id
    assert tok.decode(tok.encode("<image> a red circle")) == "a red circle"


def test_round_trip_over_the_world(tok):
    split = make_split(300, (1, 3), seed=0)
    texts = list(split.captions)
    texts += [t for template in PROMPT_TEMPLATES for t in class_prompts(template)]
    for qa in make_qa(split.scenes, seed=0, kinds=QA_KINDS + ("describe",)):
        texts += [qa.question, qa.answer]
    for text in texts:
        assert tok.decode(tok.encode(text, add_bos=True)) == text


def test_unknown_words(tok):
    with pytest.raises(ValueError, match=r"unknown words \['hexagon', 'purple'\]"):
        tok.encode("a purple hexagon")
    lenient = Tokenizer(unknown="unk")
    ids = lenient.encode("a purple circle", add_eos=False)
    assert ids[1] == lenient.unk_id
    assert lenient.decode(ids) == "a <unk> circle"


def test_batch_encode(tok):
    texts = ["a red circle", "two objects : red circle , blue square"]
    ids, mask = tok.batch_encode(texts, context_length=16)
    assert ids.shape == mask.shape == (2, 16) and ids.dtype == mask.dtype == torch.long
    assert mask.sum(1).tolist() == [4, 9]
    assert (ids[mask == 0] == tok.pad_id).all()  # padding on the right
    assert tok.decode(ids[1]) == texts[1]
    # CLIP pools at the largest id: that is <eos>, at the last real token
    assert (ids.argmax(1) == mask.sum(1) - 1).all()
    ids, mask = tok.batch_encode(texts)  # None: as long as the longest text
    assert ids.shape == (2, 9) and mask.all(1).tolist() == [False, True]
    ids, _ = tok.batch_encode(texts, add_bos=True, add_eos=False)
    assert (ids[:, 0] == tok.bos_id).all() and not (ids == tok.eos_id).any()


def test_batch_encode_rejects_bad_input(tok):
    with pytest.raises(ValueError, match="9 tokens long .* more than context_length=8"):
        tok.batch_encode(["a red circle", "two objects : red circle , blue square"], 8)
    with pytest.raises(TypeError, match="list of str"):
        tok.batch_encode("a red circle", 8)
    with pytest.raises(TypeError, match="list of str"):
        tok.batch_encode([], 8)
    with pytest.raises(ValueError, match="context_length"):
        tok.batch_encode(["a red circle"], 0)
    with pytest.raises(TypeError, match="str"):
        tok.encode(3)


def test_decode_rejects_bad_input(tok):
    with pytest.raises(ValueError, match="below vocab_size"):
        tok.decode([tok.vocab_size])
    with pytest.raises(TypeError, match="non-negative ints"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="1-D integer tensor"):
        tok.decode(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="1-D integer tensor"):
        tok.decode(torch.zeros(3))


def test_constructor_rejects_bad_input():
    with pytest.raises(ValueError, match="words must be"):
        Tokenizer(words=["a", "<eos>"])
    with pytest.raises(ValueError, match="words must be"):
        Tokenizer(words="abc")
    with pytest.raises(ValueError, match="unknown must be"):
        Tokenizer(unknown="ignore")
    small = Tokenizer(words=["b", "a", "?"])
    assert small.vocab == ["<pad>", "<bos>", "<unk>", "<image>", "?", "a", "b", "<eos>"]
