"""Checkers for the exercises of the LLaVA chapter (chapters/llava.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import llava
from ._harness import Case, CheckResult, references, run


@references("build_labels", "make_example")
def check_llava_labels(make_labels: Callable) -> CheckResult:
    """make_labels(input_ids (T,), n_prompt) -> labels (T,): the ids, with -100 on the first
    n_prompt positions (<bos>, the prompt and the image tokens), the answer kept."""
    rng = torch.Generator().manual_seed(6)
    cases = []
    for T, n_prompt in ((12, 9), (30, 27), (8, 3)):
        ids = torch.randint(4, 48, (T,), generator=rng)
        mistakes = {
            "nothing is masked: the loss would also train the model to predict the image "
            "tokens and the question": ids.clone(),
            "the answer is masked instead of the prompt: -100 goes on <bos>, the prompt and "
            "the image": ids.masked_fill(torch.arange(T) >= n_prompt, -100),
            "one prompt position too few is masked (an off-by-one)": _answer_from(
                ids, n_prompt - 1
            ),
            "one position too many is masked: the first answer token lost its label": (
                _answer_from(ids, n_prompt + 1)
            ),
        }
        cases.append(
            Case(
                f"labels of a {T}-token sequence with n_prompt={n_prompt}",
                lambda ids=ids, n=n_prompt: _unchanged(ids, lambda: make_labels(ids, n)),
                # as floats: compare_tensors compares values to within a tolerance
                _answer_from(ids, n_prompt).float(),
                {hint: labels.float() for hint, labels in mistakes.items()},
            )
        )
    return run("make_labels", cases)


def _answer_from(ids: torch.Tensor, start: int) -> torch.Tensor:
    """The package's labels of one sequence (T,) whose answer starts at position start."""
    return llava.build_labels(ids[None], start)[0]  # (T,) -> (1, T) -> labels (1, T) -> (T,)


def _unchanged(ids: torch.Tensor, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """make()'s labels; raises when make edited ids in place, which the caller still needs."""
    before = ids.clone()
    labels = make()
    if not torch.equal(ids, before):
        raise ValueError("make_labels changed input_ids in place; work on a copy (clone)")
    return labels


def _conversation_batch(rng: torch.Generator, eos_id: int, pad_id: int):
    """A right-padded batch of two-turn conversations and where each answer starts:
    <bos> question image answer <eos> question answer <eos> <pad>...  (synthetic ids: 2 stands
    for <bos>, content is 3 to 45, apart from the eos and pad ids given; the checker needs no
    tokenizer). Returns input_ids (B, T) and
    turn_starts, per row a list of two positions."""
    rows, starts = [], []
    for n_q1, n_img, n_a1, n_q2, n_a2 in ((4, 3, 1, 3, 2), (6, 3, 2, 2, 1), (3, 3, 1, 5, 3)):

        def words(k):
            return torch.randint(3, 46, (k,), generator=rng).tolist()

        row = [2] + words(n_q1) + words(n_img)  # 2 for <bos>; then the question and the image
        first = len(row)
        row += words(n_a1) + [eos_id] + words(n_q2)
        second = len(row)
        row += words(n_a2) + [eos_id]
        rows.append(row)
        starts.append([first, second])
    T = max(len(r) for r in rows) + 2  # every row padded on the right, at least twice
    input_ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    for n, row in enumerate(rows):
        input_ids[n, : len(row)] = torch.tensor(row)
    return input_ids, starts


@references("build_labels", "make_example", "make_batch")
def check_conversation_labels(make_labels: Callable) -> CheckResult:
    """make_labels(input_ids (B, T), turn_starts, eos_id, pad_id) -> labels (B, T): each
    answer, from its start (turn_starts[b] lists them) to its <eos> included, keeps its ids;
    every other position (prompt, image, later questions, padding) gets -100."""
    rng = torch.Generator().manual_seed(16)
    cases = []
    for eos_id, pad_id in ((1, 0), (47, 0)):
        input_ids, starts = _conversation_batch(rng, eos_id, pad_id)
        spans = _answer_spans(input_ids, starts, eos_id)
        # one slice per row, from the first answer to the end of the row
        one_slice = llava.build_labels(input_ids, torch.tensor([s[0][0] for s in spans]))
        mistakes = {
            "one slice from the first answer to the end of the row: the second question and "
            "the padding are trained on": one_slice,
            "one slice from the first answer on, padding masked: the second question is "
            "still trained on": one_slice.masked_fill(input_ids == pad_id, -100),
            "only the first answer is kept: the second turn teaches nothing": _labels_on(
                input_ids, [s[:1] for s in spans]
            ),
            "only the last answer is kept: the first turn teaches nothing": _labels_on(
                input_ids, [s[-1:] for s in spans]
            ),
            "the <eos> after each answer lost its label: the model would not learn to stop": (
                _labels_on(input_ids, [[(a, end - 1) for a, end in s] for s in spans])
            ),
        }

        def call(ids=input_ids, turn_starts=starts, eos_id=eos_id, pad_id=pad_id):
            copied = [list(t) for t in turn_starts]  # the student may edit their list
            return _unchanged(ids, lambda: make_labels(ids, copied, eos_id, pad_id))

        cases.append(
            Case(
                f"labels of a padded batch of two-turn conversations (eos={eos_id})",
                call,
                _labels_on(input_ids, spans).float(),
                {hint: labels.float() for hint, labels in mistakes.items()},
            )
        )
    return run("make_labels", cases)


def _answer_spans(ids: torch.Tensor, starts: list[list[int]], eos_id: int):
    """Per row of ids (B, T), each answer's (start, end): its first token to its <eos>,
    included (end is exclusive)."""
    return [
        [(s, s + int((row[s:] == eos_id).nonzero()[0]) + 1) for s in row_starts]
        for row, row_starts in zip(ids, starts)
    ]


def _labels_on(ids: torch.Tensor, spans: list[list[tuple[int, int]]]) -> torch.Tensor:
    """The package's labels (B, T) with the loss on the given spans of each row only."""
    keep = torch.zeros_like(ids, dtype=torch.bool)  # (B, T)
    for b, row_spans in enumerate(spans):
        for start, end in row_spans:
            keep[b, start:end] = True
    return llava.build_labels(ids, keep)
