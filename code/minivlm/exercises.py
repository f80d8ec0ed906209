"""Checkers for the book's exercises.

Each checker calls the student's function on a few fixed cases, compares it with the
package's reference and, when they differ, tries the usual mistakes one by one so that
it can say which one was made. It prints one line and returns a CheckResult, which is
truthy when the solution is right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from . import attention, cnn, positional


@dataclass
class CheckResult:
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def __str__(self) -> str:
        return ("correct: " if self.passed else "not yet: ") + self.message


def _report(passed: bool, message: str) -> CheckResult:
    result = CheckResult(passed, message)
    print(result)
    return result


def _as_output(value):
    """Accept a tensor, or a tuple whose first element is the tensor (output, weights)."""
    return value[0] if isinstance(value, (tuple, list)) and value else value


def _compare(
    name: str,
    call: Callable[[], object],
    expected: torch.Tensor,
    mistakes: dict[str, torch.Tensor],
    atol: float = 1e-4,
) -> str | None:
    """None when call() returns expected; otherwise what went wrong, in words."""
    try:
        got = _as_output(call())
    except Exception as error:  # the student's code failed: say how
        return f"{name} raised {type(error).__name__}: {error}"
    if not isinstance(got, torch.Tensor):
        return f"{name} should return a torch.Tensor, got {type(got).__name__}"
    got = got.detach().to(expected.dtype)
    if got.shape != expected.shape:
        # some mistakes change the shape (overlapping pooling windows): name them first
        for hint, wrong in mistakes.items():
            if wrong.shape == got.shape and torch.allclose(got, wrong, atol=atol):
                return f"{name}: {hint}"
        return f"{name} returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if torch.allclose(got, expected, atol=atol):
        return None
    for hint, wrong in mistakes.items():
        if wrong.shape == got.shape and torch.allclose(got, wrong, atol=atol):
            return f"{name}: {hint}"
    error = (got - expected).abs().max().item()
    return f"{name} returned the right shape but wrong values (largest error {error:.3g})"


def _run(label: str, cases: list[tuple[str, Callable, torch.Tensor, dict]]) -> CheckResult:
    for name, call, expected, mistakes in cases:
        problem = _compare(name, call, expected, mistakes)
        if problem:
            return _report(False, problem)
    return _report(True, f"{label} agrees with the reference on {len(cases)} cases")


# Chapter 1: convolutional networks -------------------------------------------------


def check_conv2d(conv2d: Callable) -> CheckResult:
    """conv2d(x, weight, bias=None, stride=1, padding=0) as the layer formula, no activation."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for stride, padding in ((1, 0), (1, 1), (2, 1), (3, 2)):
        x = torch.randn(2, 3, 9, 11, generator=g)
        w = torch.randn(4, 3, 3, 2, generator=g)
        b = torch.randn(4, generator=g)
        F = torch.nn.functional
        mistakes = {
            "the kernel is flipped: that is the true convolution; the layer formula "
            "W[m, n] X[i + m, j + n] is a cross-correlation": F.conv2d(
                x, w.flip(-2, -1), b, stride, padding
            ),
            "the bias b_d is missing": F.conv2d(x, w, None, stride, padding),
        }
        cases.append(
            (
                f"conv2d with stride={stride}, padding={padding}",
                lambda x=x, w=w, b=b, s=stride, p=padding: conv2d(x, w, b, stride=s, padding=p),
                F.conv2d(x, w, b, stride, padding),
                mistakes,
            )
        )
    return _run("conv2d", cases)


def check_max_pool2d(max_pool2d: Callable) -> CheckResult:
    """max_pool2d(x, p): max over non-overlapping p x p windows."""
    g = torch.Generator().manual_seed(1)
    F = torch.nn.functional
    cases = []
    for p, side in ((2, 8), (3, 10), (2, 7)):
        x = torch.randn(2, 3, side, side + 1, generator=g)
        mistakes = {
            "this is average pooling; the formula takes the max": F.avg_pool2d(x, p),
            "the windows overlap (stride 1); they should move by p": F.max_pool2d(x, p, stride=1),
        }
        cases.append(
            (
                f"max_pool2d with p={p} on a {side}x{side + 1} input",
                lambda x=x, p=p: max_pool2d(x, p),
                F.max_pool2d(x, p),
                mistakes,
            )
        )
    return _run("max_pool2d", cases)


def check_receptive_field(receptive_field: Callable) -> CheckResult:
    """receptive_field(kernel_sizes, strides) -> the receptive field of the last layer."""
    stacks = [
        ([3, 3, 3], [1, 1, 1]),
        ([7, 3, 3, 3], [2, 2, 1, 1]),
        ([3, 2, 3, 2, 3], [1, 2, 1, 2, 1]),
    ]
    for kernels, strides in stacks:
        expected = cnn.receptive_field([cnn.Layer(k, s) for k, s in zip(kernels, strides)])[-1]
        try:
            got = receptive_field(kernels, strides)
        except Exception as error:
            return _report(False, f"receptive_field raised {type(error).__name__}: {error}")
        if isinstance(got, torch.Tensor):
            if got.numel() != 1:
                return _report(
                    False,
                    f"receptive_field should return one number, got a tensor of shape "
                    f"{tuple(got.shape)}",
                )
            got = got.item()
        if got == expected:
            continue
        without_jumps = 1 + sum(k - 1 for k in kernels)
        hint = ""
        if got == without_jumps:
            hint = ": each layer adds (k - 1) times the jump, the product of the strides before it"
        return _report(
            False,
            f"kernels {kernels}, strides {strides}: got {got}, expected {expected}{hint}",
        )
    return _report(True, f"receptive_field agrees with the reference on {len(stacks)} stacks")


# Chapter 2: attention and transformers ---------------------------------------------


def check_attention(attention_fn: Callable) -> CheckResult:
    """attention_fn(q, k, v, mask=None) -> output, or (output, weights)."""
    g = torch.Generator().manual_seed(2)
    sdpa = attention.scaled_dot_product_attention
    cases = []
    for use_mask in (False, True):
        q, k, v = (
            torch.randn(2, 5, 16, generator=g),
            torch.randn(2, 7, 16, generator=g),
            torch.randn(2, 7, 3, generator=g),
        )
        mask = (torch.rand(5, 7, generator=g) > 0.4) if use_mask else None
        if mask is not None:
            # key 0 always allowed and key 1 always blocked: no row of the mask or of its
            # inverse is empty, so no softmax sees only -inf
            mask[:, 0], mask[:, 1] = True, False
        d_k = q.shape[-1]
        mistakes = {
            "the scores are not divided by sqrt(d_k)": sdpa(q, k, v, mask, scale=1.0)[0],
            "the scores are divided by d_k; divide by sqrt(d_k)": sdpa(
                q, k, v, mask, scale=1.0 / d_k
            )[0],
        }
        if mask is None:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(d_k)
            mistakes[
                "the softmax runs over the queries (dim=-2); each query's weights over "
                "the keys (dim=-1) must sum to 1"
            ] = scores.softmax(dim=-2) @ v
            call = lambda q=q, k=k, v=v: attention_fn(q, k, v)
        else:
            mistakes["the mask is ignored: blocked keys must get weight 0"] = sdpa(q, k, v)[0]
            mistakes["the mask is inverted: True means 'may attend'"] = sdpa(q, k, v, ~mask)[0]
            call = lambda q=q, k=k, v=v, mask=mask: attention_fn(q, k, v, mask=mask)
        cases.append(
            (
                f"attention {'with' if use_mask else 'without'} a mask",
                call,
                sdpa(q, k, v, mask)[0],
                mistakes,
            )
        )
    return _run("attention", cases)


def check_sinusoidal(sinusoidal: Callable) -> CheckResult:
    """sinusoidal(n_positions, d_model) -> the (n_positions, d_model) encoding table."""
    cases = []
    for n, d in ((12, 8), (50, 32)):
        pe = positional.sinusoidal(n, d, dtype=torch.float64)
        swapped = torch.stack([pe[:, 1::2], pe[:, 0::2]], dim=-1).reshape(
            n, d
        )  # (n, d/2, 2) -> (n, d)
        pos = torch.arange(n, dtype=torch.float64)[:, None]
        w_by_dim = 10000.0 ** (
            -torch.arange(0, d // 2, dtype=torch.float64) / d
        )  # 10000^(i/d): i not doubled
        by_dim = torch.stack(
            [torch.sin(pos * w_by_dim), torch.cos(pos * w_by_dim)], dim=-1
        ).reshape(n, d)
        halves = torch.cat([pe[:, 0::2], pe[:, 1::2]], dim=-1)
        mistakes = {
            "sin and cos are swapped: even dimensions 2i hold the sine": swapped,
            "the exponent should be 2i/d, with i the index of the sin/cos pair": by_dim,
            "sines fill the first half and cosines the second; the formula interleaves them "
            "(sine at 2i, cosine at 2i + 1)": halves,
        }
        cases.append((f"sinusoidal({n}, {d})", lambda n=n, d=d: sinusoidal(n, d), pe, mistakes))
    return _run("sinusoidal", cases)


def check_causal_mask(causal_mask: Callable) -> CheckResult:
    """causal_mask(n) -> a boolean (n, n) mask, True where query i may attend to key j."""
    # n = 1 last: there an inverted mask and a missing diagonal are the same [[False]]
    for n in (4, 7, 1):
        expected = torch.ones(n, n, dtype=torch.bool).tril()
        try:
            got = causal_mask(n)
        except Exception as error:
            return _report(False, f"causal_mask({n}) raised {type(error).__name__}: {error}")
        if not isinstance(got, torch.Tensor) or got.dtype != torch.bool:
            what = got.dtype if isinstance(got, torch.Tensor) else type(got).__name__
            return _report(False, f"causal_mask({n}) should be a boolean tensor, got {what}")
        if got.shape != (n, n):
            return _report(
                False,
                f"causal_mask({n}) returned shape {tuple(got.shape)}, expected ({n}, {n})",
            )
        if torch.equal(got, expected):
            continue
        if torch.equal(got, expected.T):
            hint = "it lets each token see the future, not the past: keep j <= i (lower triangle)"
        elif torch.equal(got, expected & ~torch.eye(n, dtype=torch.bool)):
            hint = "a token must be allowed to attend to itself (the diagonal is True)"
        elif torch.equal(got, ~expected):
            hint = "True must mean 'may attend', not 'blocked'"
        else:
            hint = "True exactly where key j <= query i"
        return _report(False, f"causal_mask({n}) is wrong: {hint}")
    return _report(True, "causal_mask agrees with the reference on 3 sizes")


# Chapter 3: evolution from unimodal to multimodal ----------------------------------


def _scalar_cases(label: str, cases: list[tuple[str, Callable, torch.Tensor, dict]]) -> CheckResult:
    """_run for losses: a 0-d result is expected; a Python number is accepted as well."""
    for name, call, expected, mistakes in cases:

        def as_tensor(call=call):
            got = _as_output(call())
            if isinstance(got, (int, float)) and not isinstance(got, bool):
                got = torch.tensor(float(got))
            return got

        problem = _compare(name, as_tensor, expected, mistakes, atol=1e-5)
        if problem:
            return _report(False, problem)
    return _report(True, f"{label} agrees with the reference on {len(cases)} cases")


def check_info_nce(info_nce: Callable) -> CheckResult:
    """info_nce(image_features, text_features, logit_scale) -> the symmetric InfoNCE loss.

    Features are (B, d_e), not normalised; logit_scale is the multiplier 1 / tau. The
    reference is minivlm.clip.clip_loss: the mean of the image-to-text and text-to-image
    cross-entropies, each averaged over the batch.
    """
    from .clip import clip_loss

    F = torch.nn.functional
    g = torch.Generator().manual_seed(3)
    cases = []
    for B, d, scale in ((6, 8, 1 / 0.07), (5, 16, torch.tensor(4.0))):
        # norms far from 1, so that a missing normalisation shows
        image = torch.randn(B, d, generator=g, dtype=torch.float64) * 3.0
        text = torch.randn(B, d, generator=g, dtype=torch.float64) * 0.5
        scale_f = float(scale)
        labels = torch.arange(B)
        cos = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
        i2t = F.cross_entropy(scale_f * cos, labels)
        t2i = F.cross_entropy(scale_f * cos.T, labels)
        raw = image @ text.T
        mistakes = {
            "the features are not L2-normalised: s(i, j) is a cosine similarity only "
            "after each feature is divided by its norm": (
                F.cross_entropy(scale_f * raw, labels) + F.cross_entropy(scale_f * raw.T, labels)
            )
            / 2,
            "the temperature is missing: multiply the cosine similarities by "
            "logit_scale = 1 / tau": (
                F.cross_entropy(cos, labels) + F.cross_entropy(cos.T, labels)
            )
            / 2,
            "the cosine similarities are divided by logit_scale; logit_scale is already "
            "1 / tau, so multiply by it": (
                F.cross_entropy(cos / scale_f, labels) + F.cross_entropy(cos.T / scale_f, labels)
            )
            / 2,
            "only the image-to-text direction L_i2t: average it with the text-to-image "
            "direction L_t2i": i2t,
            "only the text-to-image direction L_t2i: average it with the image-to-text "
            "direction L_i2t": t2i,
            "the losses are summed over the batch: each direction has a 1/B in front "
            "(a mean, not a sum)": B * (i2t + t2i) / 2,
            "the two directions are added: the total is their mean, (L_i2t + L_t2i) / 2": i2t
            + t2i,
        }
        cases.append(
            (
                f"info_nce with B={B}, d_e={d}, logit_scale={scale_f:.3g}",
                lambda image=image, text=text, scale=scale: info_nce(image, text, scale),
                clip_loss(image, text, scale).to(torch.float64),
                mistakes,
            )
        )
    return _scalar_cases("info_nce", cases)


def check_next_token_loss(next_token_loss: Callable) -> CheckResult:
    """next_token_loss(logits, labels) -> the mean next-token cross-entropy.

    logits (B, T, V) and labels (B, T) are aligned as in Llama.forward: the logit at
    position t predicts the label at position t + 1, and labels equal to -100 (image,
    prompt and padding positions) are left out of the loss and of the mean.
    """
    F = torch.nn.functional
    g = torch.Generator().manual_seed(4)
    cases = []
    for B, T, V, n_ignored in ((2, 9, 7, (3, 5)), (3, 6, 11, (1, 4, 2))):
        logits = torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2.0
        labels = torch.randint(V, (B, T), generator=g)
        for row, k in enumerate(n_ignored):  # a different number of -100 in each row
            labels[row, :k] = -100
        labels[0, -1] = -100  # and a padding position at the end
        shifted_logits, shifted_labels = logits[:, :-1], labels[:, 1:]

        def ce(lg, lb, reduction="mean"):
            return F.cross_entropy(
                lg.reshape(-1, V), lb.reshape(-1), ignore_index=-100, reduction=reduction
            )

        per_token = ce(shifted_logits, shifted_labels, "none").view(B, T - 1)
        valid = shifted_labels != -100
        mistakes = {
            "the labels are not shifted: the logit at position t predicts the token at "
            "t + 1, so compare logits[:, :-1] with labels[:, 1:]": ce(logits, labels),
            "the shift goes the wrong way: compare logits[:, :-1] with labels[:, 1:], not "
            "logits[:, 1:] with labels[:, :-1]": ce(logits[:, 1:], labels[:, :-1]),
            "the positions labelled -100 enter the loss (as token 0): leave them out, "
            "for example with ignore_index=-100": ce(
                shifted_logits, shifted_labels.masked_fill(~valid, 0)
            ),
            "the mean runs over every position; divide by the number of labelled "
            "tokens (labels != -100) only": per_token.sum() / per_token.numel(),
            "the losses are summed: the objective is the mean over the labelled tokens": (
                per_token.sum()
            ),
            "each sequence is averaged first and then the batch; the reference (Llama.forward, "
            "Hugging Face) averages over all labelled tokens of the batch together": (
                (per_token.sum(1) / valid.sum(1)).mean()
            ),
        }
        cases.append(
            (
                f"next_token_loss with B={B}, T={T}, V={V}",
                lambda logits=logits, labels=labels: next_token_loss(logits, labels),
                ce(shifted_logits, shifted_labels),
                mistakes,
            )
        )
    return _scalar_cases("next_token_loss", cases)


# Chapter 4: CLIP --------------------------------------------------------------------


def check_patchify(patchify: Callable) -> CheckResult:
    """patchify(image (C, H, W), P) -> (N, P*P*C): patches row by row, each flattened as a
    (C, P, P) block, so that patchify(x, P) @ E equals ViT's strided convolution."""
    g = torch.Generator().manual_seed(4)
    cases = []
    for C, H, W, P in ((3, 8, 12, 4), (2, 6, 6, 3), (3, 16, 16, 8)):
        x = torch.randn(C, H, W, generator=g)
        blocks = x.reshape(C, H // P, P, W // P, P)  # (C, H/P, P, W/P, P)
        expected = blocks.permute(1, 3, 0, 2, 4).reshape(-1, C * P * P)  # (N, C*P*P)
        mistakes = {
            "the patches are read column by column; ViT reads them row by row, like text":
                blocks.permute(3, 1, 0, 2, 4).reshape(-1, C * P * P),
            "each patch is flattened channels-last (P, P, C); flatten it as a (C, P, P) "
            "block, the layout of the convolution's weight":
                blocks.permute(1, 3, 2, 4, 0).reshape(-1, C * P * P),
            "the image was reshaped without separating the patch axes: each row is a strip "
            "of the image, not a P x P patch": x.reshape(-1, C * P * P),
        }
        cases.append((f"patchify of a {C}x{H}x{W} image with P={P}",
                      lambda x=x, P=P: patchify(x, P), expected, mistakes))
    return _run("patchify", cases)


def check_recall_at_k(recall_at_k: Callable) -> CheckResult:
    """recall_at_k(similarity (N, N), k) -> the fraction of rows i whose item i is among the
    row's k largest similarities."""
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, k in ((20, 1), (30, 3), (40, 5)):
        # a diagonal boost makes the right items likely but not certain: every mistake
        # below then gives a recall of its own
        S = torch.randn(n, n, generator=g) + 1.0 * torch.eye(n)
        targets = torch.arange(n)[:, None]

        def recall(top):
            return torch.tensor((top == targets).any(dim=1).float().mean().item())

        mistakes = {
            "the k best are taken down the columns (dim=0): that ranks queries for each item, "
            "text-to-image instead of image-to-text": recall(S.topk(k, dim=0).indices.T),
            "the k *smallest* similarities are taken; rank from the most similar":
                recall(S.topk(k, dim=1, largest=False).indices),
            "k + 1 items are counted (an off-by-one)": recall(S.topk(k + 1, dim=1).indices),
        }
        cases.append((f"recall@{k} on a {n}x{n} matrix", lambda S=S, k=k: recall_at_k(S, k),
                      recall(S.topk(k, dim=1).indices), mistakes))
    return _scalar_cases("recall_at_k", cases)


# Chapter 5: LLaVA -------------------------------------------------------------------


def check_llava_labels(make_labels: Callable) -> CheckResult:
    """make_labels(input_ids (T,), n_prompt) -> labels (T,): the ids, with -100 on the first
    n_prompt positions (<bos>, the prompt and the image tokens), the answer kept."""
    g = torch.Generator().manual_seed(6)
    cases = []
    for T, n_prompt in ((12, 9), (30, 27), (8, 3)):
        ids = torch.randint(4, 48, (T,), generator=g)
        expected = ids.clone()
        expected[:n_prompt] = -100
        inverted = ids.clone()
        inverted[n_prompt:] = -100
        early, late = ids.clone(), ids.clone()
        early[: n_prompt - 1] = -100
        late[: n_prompt + 1] = -100
        mistakes = {
            "nothing is masked: the loss would also train the model to predict the image "
            "tokens and the question": ids.clone(),
            "the answer is masked instead of the prompt: -100 goes on <bos>, the prompt and "
            "the image": inverted,
            "one prompt position too few is masked (an off-by-one)": early,
            "one position too many is masked: the first answer token lost its label": late,
        }

        def call(ids=ids, n_prompt=n_prompt):
            before = ids.clone()
            out = make_labels(ids, n_prompt)
            if not torch.equal(ids, before):
                raise ValueError("make_labels changed input_ids in place; work on a copy (clone)")
            return out

        cases.append((f"labels of a {T}-token sequence with n_prompt={n_prompt}", call,
                      expected.float(), {k: v.float() for k, v in mistakes.items()}))
    return _run("make_labels", cases)


def _conversation_batch(g: torch.Generator, eos_id: int, pad_id: int):
    """A right-padded batch of two-turn conversations and where each answer starts:
    <bos> question image answer <eos> question answer <eos> <pad>...  (content ids 3 to 45,
    which avoid <bos> = 2 and the eos and pad ids given). Returns input_ids (B, T) and
    turn_starts, per row a list of two positions."""
    rows, starts = [], []
    for n_q1, n_img, n_a1, n_q2, n_a2 in ((4, 3, 1, 3, 2), (6, 3, 2, 2, 1), (3, 3, 1, 5, 3)):
        def words(k):
            return torch.randint(3, 46, (k,), generator=g).tolist()

        row = [2] + words(n_q1) + words(n_img)  # 2: <bos>; then the question and the image
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


def check_conversation_labels(make_labels: Callable) -> CheckResult:
    """make_labels(input_ids (B, T), turn_starts, eos_id, pad_id) -> labels (B, T): each
    answer, from its start (turn_starts[b] lists them) to its <eos> included, keeps its ids;
    every other position (prompt, image, later questions, padding) gets -100."""
    g = torch.Generator().manual_seed(16)
    cases = []
    for eos_id, pad_id in ((1, 0), (47, 0)):
        input_ids, starts = _conversation_batch(g, eos_id, pad_id)
        expected = torch.full_like(input_ids, -100)
        one_slice = torch.full_like(input_ids, -100)  # from the first answer to the end
        first_only, last_only = expected.clone(), expected.clone()
        no_eos = expected.clone()
        for b, turn_starts in enumerate(starts):
            ends = []
            for start in turn_starts:
                end = start + int((input_ids[b, start:] == eos_id).nonzero()[0]) + 1
                ends.append(end)
                expected[b, start:end] = input_ids[b, start:end]
                no_eos[b, start : end - 1] = input_ids[b, start : end - 1]
            first_only[b, turn_starts[0] : ends[0]] = input_ids[b, turn_starts[0] : ends[0]]
            last_only[b, turn_starts[-1] : ends[-1]] = input_ids[b, turn_starts[-1] : ends[-1]]
            one_slice[b, turn_starts[0] :] = input_ids[b, turn_starts[0] :]
        one_slice_no_pad = one_slice.masked_fill(input_ids == pad_id, -100)
        mistakes = {
            "one slice from the first answer to the end of the row: the second question and "
            "the padding are trained on": one_slice,
            "one slice from the first answer on, padding masked: the second question is "
            "still trained on": one_slice_no_pad,
            "only the first answer is kept: the second turn teaches nothing": first_only,
            "only the last answer is kept: the first turn teaches nothing": last_only,
            "the <eos> after each answer lost its label: the model would not learn to stop":
                no_eos,
        }

        def call(ids=input_ids, turn_starts=starts, eos_id=eos_id, pad_id=pad_id):
            before = ids.clone()
            out = make_labels(ids, [list(t) for t in turn_starts], eos_id, pad_id)
            if not torch.equal(ids, before):
                raise ValueError("make_labels changed input_ids in place; work on a copy (clone)")
            return out

        cases.append((f"labels of a padded batch of two-turn conversations (eos={eos_id})",
                      call, expected.float(), {k: v.float() for k, v in mistakes.items()}))
    return _run("make_labels", cases)


# Fundamental challenges -------------------------------------------------------------


def check_modality_gap(modality_gap: Callable) -> CheckResult:
    """modality_gap(image_embeddings (N, d), text_embeddings (M, d)) -> the distance between
    the centroids of the L2-normalised image and text embeddings."""
    F = torch.nn.functional
    g = torch.Generator().manual_seed(7)
    cases = []
    for N, M, d in ((7, 5, 8), (12, 20, 16), (9, 3, 4)):
        # two shifted clouds with norms far from 1: a missing normalisation shows
        shift = torch.randn(d, generator=g, dtype=torch.float64)
        image = (torch.randn(N, d, generator=g, dtype=torch.float64) + shift) * (
            0.3 + 3.0 * torch.rand(N, 1, generator=g, dtype=torch.float64)
        )
        text = (torch.randn(M, d, generator=g, dtype=torch.float64) - 0.5 * shift) * (
            0.2 + 2.0 * torch.rand(M, 1, generator=g, dtype=torch.float64)
        )
        unit_image, unit_text = F.normalize(image, dim=-1), F.normalize(text, dim=-1)
        image_centre, text_centre = unit_image.mean(0), unit_text.mean(0)
        gap = (image_centre - text_centre).norm()
        cosine = F.cosine_similarity(image_centre, text_centre, dim=0)
        mistakes = {
            "the embeddings are not L2-normalised: divide each one by its norm before "
            "taking the centroids": (image.mean(0) - text.mean(0)).norm(),
            "the centroids are normalised, not the embeddings: normalise each embedding, "
            "then average (a centroid of unit vectors is shorter than 1)": (
                F.normalize(image.mean(0), dim=0) - F.normalize(text.mean(0), dim=0)
            ).norm(),
            "this is the squared distance: the gap is the norm of the difference, not its "
            "square": gap**2,
            "this is the cosine similarity of the centroids; the gap is the Euclidean "
            "distance between them": cosine,
            "this is 1 - cosine similarity of the centroids; the gap is the Euclidean "
            "distance between them": 1 - cosine,
            "this averages the pairwise distances between image and text embeddings; the gap "
            "is the distance between the two means": torch.cdist(unit_image, unit_text).mean(),
        }
        cases.append(
            (
                f"modality_gap with N={N} images, M={M} texts, d={d}",
                lambda image=image, text=text: modality_gap(image.clone(), text.clone()),
                gap,
                mistakes,
            )
        )
    return _scalar_cases("modality_gap", cases)


def _winoground(similarity: torch.Tensor, strict: bool = True) -> tuple[torch.Tensor, ...]:
    """Per-example text and image successes; similarity[n, i, j] = s(caption i, image j)."""
    better = torch.gt if strict else torch.ge
    c0i0, c0i1 = similarity[:, 0, 0], similarity[:, 0, 1]
    c1i0, c1i1 = similarity[:, 1, 0], similarity[:, 1, 1]
    text = better(c0i0, c1i0) & better(c1i1, c0i1)
    image = better(c0i0, c0i1) & better(c1i1, c1i0)
    return text, image


def check_winoground(scores: Callable) -> CheckResult:
    """scores(similarity (N, 2, 2)) -> {"text", "image", "group"}, with similarity[n, i, j] =
    s(caption i, image j): the fractions of examples where each image prefers its own caption
    (text), each caption its own image (image), and both (group); a tie is a failure."""
    g = torch.Generator().manual_seed(8)
    keys = ("text", "image", "group")
    cases = (
        # real-valued similarities, then small integers with many ties
        ("similarities with no ties", torch.randn(16, 2, 2, generator=g) + 0.6 * torch.eye(2)),
        ("similarities with ties", torch.randint(0, 3, (24, 2, 2), generator=g).float()),
    )
    for name, S in cases:

        def frac(t):
            return t.float().mean().item()

        text, image = _winoground(S)
        expected = (frac(text), frac(image), frac(text & image))
        loose_text, loose_image = _winoground(S, strict=False)
        mistakes = {
            "the text and image scores are swapped: the text score asks whether each image "
            "prefers its own caption (compare the captions, similarity[n, 0, j] with "
            "similarity[n, 1, j]), the image score whether each caption prefers its own "
            "image": (expected[1], expected[0], expected[2]),
            "a tie counts as a success (>=); the comparisons are strict (>), so a tie is a "
            "failure": (frac(loose_text), frac(loose_image), frac(loose_text & loose_image)),
            "the group score counts the examples where text or image succeeds; it needs both "
            "(text and image)": (expected[0], expected[1], frac(text | image)),
            "the group score is the mean of the text and image scores; it counts the examples "
            "where both succeed": (expected[0], expected[1], (expected[0] + expected[1]) / 2),
            "the scores are percentages; return fractions of the N examples, between 0 and 1": (
                tuple(100 * e for e in expected)
            ),
        }
        label = f"scores on {len(S)} {name}"
        try:
            got = scores(S.clone())
        except Exception as error:
            return _report(False, f"{label} raised {type(error).__name__}: {error}")
        if not isinstance(got, dict):
            return _report(
                False,
                f"scores should return a dict with keys 'text', 'image', 'group', got "
                f"{type(got).__name__}",
            )
        missing = [k for k in keys if k not in got]
        if missing:
            return _report(
                False,
                f"the dict returned by scores lacks the key{'s' if len(missing) > 1 else ''} "
                + ", ".join(repr(k) for k in missing)
                + "; it needs 'text', 'image' and 'group'",
            )
        values = []
        for k in keys:
            v = got[k]
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return _report(
                    False, f"scores[{k!r}] should be a number, got {type(v).__name__}"
                )
            values.append(float(v))

        def same(a, b):
            return all(abs(x - y) <= 1e-6 for x, y in zip(a, b))

        if same(values, expected):
            continue
        for hint, wrong in mistakes.items():
            if same(values, wrong):
                return _report(False, f"{label}: {hint}")
        k = next(k for k, x, y in zip(keys, values, expected) if abs(x - y) > 1e-6)
        i = keys.index(k)
        return _report(
            False, f"{label}: the {k} score is {values[i]:.4g}, expected {expected[i]:.4g}"
        )
    return _report(True, f"winoground scores agree with the reference on {len(cases)} cases")


def _int8_per_row(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row INT8: scale = max|row| / 127 (rows, 1), q = round(W / scale)."""
    scale = W.abs().amax(dim=1, keepdim=True) / 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a zero row: any scale
    q = torch.round(W / scale).clamp(-127, 127).to(torch.int8)
    return q, scale


def check_int8_quantize(quantize: Callable) -> CheckResult:
    """quantize(W (rows, cols)) -> (q, scale): symmetric per-row INT8, with scale =
    max|row| / 127 (shape (rows,) or (rows, 1)) and q = round(W / scale) in [-127, 127],
    an integer tensor."""
    g = torch.Generator().manual_seed(9)
    signed = (torch.int8, torch.int16, torch.int32, torch.int64)
    shapes = ((4, 9), (6, 16), (5, 3))
    for rows, cols in shapes:
        # rows of different magnitudes, so that one scale for all of them shows
        W = torch.randn(rows, cols, generator=g) * torch.exp(torch.randn(rows, 1, generator=g))
        label = f"quantize of a {rows}x{cols} matrix"
        q_ref, scale_ref = _int8_per_row(W)
        x = W / scale_ref
        # entries within a hair of a .5 may round either way in another order of operations
        borderline = (x - x.floor() - 0.5).abs() < 1e-3
        row_max = W.abs().amax(dim=1, keepdim=True)
        scale_mistakes = {
            "one scale for the whole matrix (per-tensor); each row gets its own scale, "
            "max|row| / 127": W.abs().max() / 127,
            "one scale per column; each row (one output unit) gets its own scale, "
            "max|row| / 127": W.abs().amax(dim=0, keepdim=True) / 127,
            "the scale divides by 128; symmetric INT8 uses the levels -127..127, so "
            "scale = max|row| / 127": row_max / 128,
            "the scale divides by 255, the range of an unsigned byte; symmetric INT8 uses "
            "the levels -127..127, so scale = max|row| / 127": row_max / 255,
            "this is asymmetric min-max scaling, (max - min) / 255; the symmetric scale is "
            "max|row| / 127, with no zero point": (
                W.amax(dim=1, keepdim=True) - W.amin(dim=1, keepdim=True)
            ) / 255,
            "the scale is inverted (127 / max|row|): W is recovered as q * scale, so "
            "scale = max|row| / 127": 127 / row_max,
        }
        q_mistakes = {
            "q is rounded down (floor); round W / scale to the nearest level": x.floor(),
            "q is truncated toward zero (a cast or trunc); round W / scale to the nearest "
            "level": x.trunc(),
        }
        try:
            got = quantize(W.clone())
        except Exception as error:
            return _report(False, f"{label} raised {type(error).__name__}: {error}")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return _report(
                False, f"quantize should return a pair (q, scale), got {type(got).__name__}"
            )
        q, scale = got
        if not isinstance(q, torch.Tensor):
            return _report(False, f"q should be a torch.Tensor, got {type(q).__name__}")
        if q.dtype not in signed:
            if isinstance(scale, torch.Tensor) and scale.dtype in signed and q.is_floating_point():
                return _report(False, f"{label}: the pair is (scale, q); return (q, scale)")
            return _report(
                False,
                f"{label}: q should be an integer tensor (torch.int8, or another signed "
                f"integer type), got {q.dtype}",
            )
        if q.shape != W.shape:
            return _report(
                False, f"{label}: q has shape {tuple(q.shape)}, expected {tuple(W.shape)}"
            )
        try:
            s = torch.as_tensor(
                scale.detach() if isinstance(scale, torch.Tensor) else scale, dtype=torch.float32
            )
        except Exception:
            return _report(False, f"{label}: scale should be a tensor, got {type(scale).__name__}")
        if s.numel() == 1:
            s = s.reshape(1, 1)
        elif tuple(s.shape) in ((rows,), (rows, 1)):
            s = s.reshape(rows, 1)
        elif tuple(s.shape) in ((cols,), (1, cols)):
            s = s.reshape(1, cols)
        else:
            return _report(
                False,
                f"{label}: scale has shape {tuple(s.shape)}; one value per row is "
                f"({rows},) or ({rows}, 1)",
            )
        s = s.expand(rows, cols)

        def scale_is(wrong, s=s):
            return torch.allclose(s, wrong.expand(rows, cols), rtol=1e-4, atol=1e-12)

        def q_is(wrong, loose, q=q.long()):
            wrong = wrong.long()
            return bool(((q == wrong) | (loose & ((q - wrong).abs() <= 1))).all())

        if not scale_is(scale_ref):
            for hint, wrong in scale_mistakes.items():
                if scale_is(wrong):
                    return _report(False, f"{label}: {hint}")
            error = (s - scale_ref.expand(rows, cols)).abs().max().item()
            return _report(
                False,
                f"{label}: the scale is wrong (largest error {error:.3g}); it is max|row| / 127 "
                f"for each row",
            )
        if q_is(q_ref, borderline):
            continue
        near_level = (x - x.round()).abs() < 1e-3  # where floor and trunc may go either way
        for hint, wrong in q_mistakes.items():
            if q_is(wrong, near_level):
                return _report(False, f"{label}: {hint}")
        n_wrong = int((q.long() != q_ref.long()).sum())
        return _report(
            False,
            f"{label}: the scale is right but {n_wrong} of {q.numel()} entries of q are wrong; "
            f"q = round(W / scale), clamped to [-127, 127]",
        )
    return _report(True, f"int8 quantize agrees with the reference on {len(shapes)} matrices")
