import math

import pytest
import torch

from minivlm.train import History, fit, lr_at


def test_lr_schedule_warmup_then_cosine():
    rates = [lr_at(step, 10, 1.0, warmup=2) for step in range(10)]
    assert rates[:2] == [0.5, 1.0]
    assert rates[2] == pytest.approx(1.0)
    assert rates[6] == pytest.approx(0.5)  # halfway through the decay
    assert all(a > b for a, b in zip(rates[2:], rates[3:]))
    assert lr_at(0, 10, 3e-3) == pytest.approx(3e-3)


def test_smoothed_history():
    h = History(loss=[4.0, 2.0, 0.0, 2.0])
    assert h.smoothed(window=2) == [4.0, 3.0, 1.0, 1.0]


def _regression(seed):
    torch.manual_seed(seed)
    w_true = torch.tensor([2.0, -3.0])
    model = torch.nn.Linear(2, 1)
    data = torch.Generator().manual_seed(seed)

    def loss_fn(step):
        x = torch.randn(32, 2, generator=data)
        return ((model(x).squeeze(-1) - x @ w_true) ** 2).mean()

    history = fit(model.parameters(), loss_fn, steps=300, lr=0.1, warmup=10, progress=False)
    return model, history


def test_fit_learns_and_records_every_step():
    model, history = _regression(0)
    assert len(history.loss) == len(history.lr) == 300
    assert history.loss[-1] < 1e-2 < 1 < history.loss[0]
    torch.testing.assert_close(
        model.weight.detach(), torch.tensor([[2.0, -3.0]]), atol=0.02, rtol=0
    )


def test_fit_is_deterministic():
    a, ha = _regression(3)
    b, hb = _regression(3)
    assert ha.loss == hb.loss
    assert torch.equal(a.weight, b.weight)


def test_fit_calls_after_step_and_respects_frozen_parameters():
    frozen, trained = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
    frozen.requires_grad_(False)
    calls = []
    fit(
        [frozen, trained],
        lambda step: (trained - 3) ** 2 + 0 * frozen,
        steps=5,
        lr=0.1,
        after_step=lambda: calls.append(1),
        progress=False,
    )
    assert len(calls) == 5
    assert frozen.item() == 1.0 and trained.item() != 1.0


def test_fit_errors():
    p = torch.nn.Parameter(torch.zeros(1), requires_grad=False)
    with pytest.raises(ValueError, match="at least one parameter with requires_grad=True"):
        fit([p], lambda s: p.sum(), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        fit([torch.nn.Parameter(torch.zeros(1))], lambda s: torch.zeros(()), steps=0, lr=0.1)


def test_progress_bar_writes_its_final_state_to_stdout(capsys):
    p = torch.nn.Parameter(torch.zeros(1))
    fit([p], lambda s: (p - 1).square().sum(), steps=3, lr=0.1, desc="demo")
    out = capsys.readouterr()
    assert "demo" in out.out and "3/3" in out.out
    assert out.err == ""
    assert not math.isnan(p.item())
