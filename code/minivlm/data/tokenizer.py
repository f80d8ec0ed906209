"""A word-level tokenizer for the scene world's closed vocabulary."""

from __future__ import annotations

import re

import torch

from .._checks import check_int, is_int
from .text import WORDS

# ids 0 to 3; "<eos>" comes after the words, as the largest id
SPECIAL_TOKENS = ("<pad>", "<bos>", "<unk>", "<image>")
EOS = "<eos>"
# a special token, a run of letters, or any other single non-space character
_TOKEN = re.compile(r"<[a-z]+>|[a-z]+|[^\sa-z]")


class Tokenizer:
    """Words to ids and back.

    Ids: <pad> 0, <bos> 1, <unk> 2, <image> 3, then the words in sorted order, then <eos> as the
    largest id. CLIP's original text tower pools at the largest id in each row
    (minivlm.clip.CLIPTextConfig(eos_token_id=None)), so with this order it pools at <eos>.

    Text is lower-cased and split into words, with punctuation split off ("square?" ->
    "square ?"); special tokens may be written in the text ("<image>"). The world is closed,
    so an unknown word is a mistake and raises a ValueError; unknown="unk" maps it to <unk>.
    words: the vocabulary, by default every word minivlm.data.text writes (WORDS).
    """

    def __init__(self, words=None, unknown: str = "raise"):
        words = WORDS if words is None else words
        _check_vocabulary(words, unknown)
        self.unknown = unknown
        self.vocab = [*SPECIAL_TOKENS, *sorted(set(words)), EOS]  # id -> token
        self.ids = {token: i for i, token in enumerate(self.vocab)}  # token -> id
        self.pad_id, self.bos_id, self.unk_id, self.image_id = range(len(SPECIAL_TOKENS))
        self.eos_id = len(self.vocab) - 1
        self.special_ids = frozenset((self.pad_id, self.bos_id, self.image_id, self.eos_id))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: str) -> list[str]:
        """ "Is there a red square?" -> ["is", "there", "a", "red", "square", "?"]."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return _TOKEN.findall(text.lower())

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = True) -> list[int]:
        """Token ids of a text, with <bos> in front and <eos> at the end if asked."""
        tokens = self.tokenize(text)
        unknown = [t for t in tokens if t not in self.ids]
        if unknown and self.unknown == "raise":
            raise ValueError(
                f"unknown words {sorted(set(unknown))} in {text!r}; the vocabulary holds "
                f"{self.vocab_size} tokens (Tokenizer.vocab), or use Tokenizer(unknown='unk')"
            )
        ids = [self.ids.get(t, self.unk_id) for t in tokens]
        return [self.bos_id] * bool(add_bos) + ids + [self.eos_id] * bool(add_eos)

    def decode(self, ids, skip_special: bool = True) -> str:
        """Ids (a list or 1-D tensor) -> text with one space between tokens. skip_special
        drops <pad>, <bos>, <eos> and <image>, and keeps <unk> visible."""
        ids = _check_ids(ids, self.vocab_size)
        if skip_special:
            ids = [i for i in ids if i not in self.special_ids]
        return " ".join(self.vocab[i] for i in ids)

    def batch_encode(
        self,
        texts,
        context_length: int | None = None,
        add_bos: bool = False,
        add_eos: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts -> (input_ids (B, T) long, attention_mask (B, T) long), padded on the right
        with <pad>; attention_mask is 1 on tokens and 0 on padding. T = context_length, or the
        longest text when None; a longer text raises a ValueError (it is never cut)."""
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not texts:
            raise TypeError(f"texts must be a non-empty list of str, got {type(texts).__name__}")
        rows = [self.encode(t, add_bos=add_bos, add_eos=add_eos) for t in texts]
        longest = max(len(r) for r in rows)
        if context_length is None:
            context_length = longest
        check_int(context_length, "context_length")
        for n, row in enumerate(rows):
            if len(row) > context_length:
                raise ValueError(
                    f"text {n} is {len(row)} tokens long (with <bos>/<eos>), more than "
                    f"context_length={context_length}: {texts[n]!r}"
                )
        input_ids = torch.full((len(rows), context_length), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), context_length), dtype=torch.long)
        for n, row in enumerate(rows):
            input_ids[n, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[n, : len(row)] = 1
        return input_ids, attention_mask


def _check_vocabulary(words, unknown) -> None:
    if not isinstance(words, (list, tuple, set, frozenset)) or not all(
        isinstance(w, str) and _TOKEN.fullmatch(w) and not w.startswith("<") for w in words
    ):
        raise ValueError(
            "words must be a collection of lower-case words or single punctuation marks "
            f"(no special tokens), got {words!r}"
        )
    if unknown not in ("raise", "unk"):
        raise ValueError(f"unknown must be 'raise' or 'unk', got {unknown!r}")


def _check_ids(ids, vocab_size: int) -> list[int]:
    """Ids as a list of ints, each in [0, vocab_size)."""
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1 or ids.is_floating_point():
            raise ValueError(
                f"ids must be a 1-D integer tensor, got {ids.dtype} of shape {tuple(ids.shape)}"
            )
        ids = ids.tolist()
    if not isinstance(ids, (list, tuple)) or not all(is_int(i, 0) for i in ids):
        raise TypeError(f"ids must be a list of non-negative ints, got {ids!r}")
    if any(i >= vocab_size for i in ids):
        raise ValueError(f"ids must be below vocab_size {vocab_size}, got {max(ids)}")
    return ids
