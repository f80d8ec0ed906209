"""The LLaVA chapter's checkers accept right answers and name each mistake."""

import torch


def test_llava_labels_checker():
    from minivlm.exercises import check_llava_labels

    def right(ids, n):
        labels = ids.clone()
        labels[:n] = -100
        return labels

    def in_place(ids, n):
        ids[:n] = -100
        return ids

    assert check_llava_labels(right)
    for wrong, words in (
        (lambda ids, n: ids.clone(), "nothing is masked"),
        (lambda ids, n: torch.where(torch.arange(len(ids)) >= n, -100, ids), "answer is masked"),
        (lambda ids, n: right(ids, n - 1), "too few"),
        (lambda ids, n: right(ids, n + 1), "too many"),
        (in_place, "in place"),
    ):
        result = check_llava_labels(wrong)
        assert not result and words in result.message, result.message


def test_conversation_labels_checker_accepts_the_reference_and_names_each_mistake():
    from minivlm.exercises import check_conversation_labels

    def right(ids, turn_starts, eos_id, pad_id):
        labels = torch.full_like(ids, -100)
        for b, starts in enumerate(turn_starts):
            for start in starts:
                end = start + int((ids[b, start:] == eos_id).nonzero()[0]) + 1  # <eos> included
                labels[b, start:end] = ids[b, start:end]
        return labels

    def one_slice(ids, turn_starts, eos_id, pad_id):
        labels = ids.clone()
        for b, starts in enumerate(turn_starts):
            labels[b, : starts[0]] = -100
        return labels

    def one_slice_no_pad(ids, turn_starts, eos_id, pad_id):
        return one_slice(ids, turn_starts, eos_id, pad_id).masked_fill(ids == pad_id, -100)

    def first_only(ids, turn_starts, eos_id, pad_id):
        return right(ids, [s[:1] for s in turn_starts], eos_id, pad_id)

    def last_only(ids, turn_starts, eos_id, pad_id):
        return right(ids, [s[-1:] for s in turn_starts], eos_id, pad_id)

    def no_eos(ids, turn_starts, eos_id, pad_id):
        return right(ids, turn_starts, eos_id, pad_id).masked_fill(ids == eos_id, -100)

    def in_place(ids, turn_starts, eos_id, pad_id):
        ids[:, 0] = -100
        return right(ids, turn_starts, eos_id, pad_id)

    assert check_conversation_labels(right)
    for wrong, words in (
        (one_slice, "the second question and the padding"),
        (one_slice_no_pad, "padding masked"),
        (first_only, "only the first answer"),
        (last_only, "only the last answer"),
        (no_eos, "<eos>"),
        (in_place, "in place"),
    ):
        result = check_conversation_labels(wrong)
        assert not result and words in result.message, (wrong.__name__, result.message)
