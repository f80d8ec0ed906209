"""The CLIP chapter's checkers accept right answers and name each mistake."""

import torch

from minivlm.exercises import check_patchify, check_recall_at_k


def patchify(image, P):
    C, H, W = image.shape
    blocks = image.reshape(C, H // P, P, W // P, P)
    return blocks.permute(1, 3, 0, 2, 4).reshape(-1, C * P * P)


def recall(S, k):
    top = S.topk(k, dim=1).indices
    return (top == torch.arange(S.shape[0])[:, None]).any(dim=1).float().mean().item()


def test_patchify_checker_matches_the_strided_convolution():
    assert check_patchify(patchify)
    conv = torch.nn.Conv2d(3, 5, kernel_size=4, stride=4)
    x = torch.randn(3, 8, 12)
    E = conv.weight.reshape(5, -1).T
    torch.testing.assert_close(
        patchify(x, 4) @ E + conv.bias, conv(x[None]).flatten(2).transpose(1, 2)[0]
    )


def test_patchify_checker_names_mistakes(capsys):
    def column_major(image, P):
        C, H, W = image.shape
        return image.reshape(C, H // P, P, W // P, P).permute(3, 1, 0, 2, 4).reshape(-1, C * P * P)

    def channels_last(image, P):
        C, H, W = image.shape
        return image.reshape(C, H // P, P, W // P, P).permute(1, 3, 2, 4, 0).reshape(-1, C * P * P)

    for wrong, words in (
        (column_major, "column by column"),
        (channels_last, "channels-last"),
        (lambda x, P: x.reshape(-1, x.shape[0] * P * P), "strip"),
        (lambda x, P: x.flatten()[None], "returned shape"),
        (lambda x, P: 1 / 0, "ZeroDivisionError"),
    ):
        result = check_patchify(wrong)
        assert not result and words in result.message, result.message
    assert capsys.readouterr().out.count("\n") == 5  # one line per check


def test_recall_checker_names_mistakes():
    assert check_recall_at_k(recall)
    assert check_recall_at_k(lambda S, k: torch.tensor(recall(S, k)))  # a 0-d tensor is fine
    cases = (
        (lambda S, k: recall(S.T, k), "columns"),
        (
            lambda S, k: (
                (S.topk(k, 1, largest=False).indices == torch.arange(len(S))[:, None])
                .any(1)
                .float()
                .mean()
                .item()
            ),
            "smallest",
        ),
        (lambda S, k: recall(S, k + 1), "off-by-one"),
        (lambda S, k: 0.123, "wrong values"),
    )
    for wrong, words in cases:
        result = check_recall_at_k(wrong)
        assert not result and words in result.message, result.message


def test_recall_mistakes_are_distinguishable():
    g = torch.Generator().manual_seed(5)  # the checker's cases
    for n, k in ((20, 1), (30, 3), (40, 5)):
        S = torch.randn(n, n, generator=g) + 1.0 * torch.eye(n)
        values = [
            recall(S, k),
            recall(S.T, k),
            recall(S, k + 1),
            (S.topk(k, 1, largest=False).indices == torch.arange(n)[:, None])
            .any(1)
            .float()
            .mean()
            .item(),
        ]
        assert len(set(values)) == len(values), values
