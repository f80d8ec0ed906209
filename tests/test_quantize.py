import io
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from minivlm.quantize import Int8Linear, model_bytes, quantize_int8, quantize_per_row
from minivlm.vit import ViT, ViTConfig


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def dequantised(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale[:, None]


# quantize_per_row


def test_quantize_per_row_range_scale_and_error_bound():
    torch.manual_seed(0)
    W = torch.randn(32, 48) * torch.logspace(-3, 1, 32)[:, None]  # rows of very different sizes
    q, s = quantize_per_row(W)
    assert q.dtype == torch.int8 and q.shape == (32, 48)
    assert s.dtype == torch.float32 and s.shape == (32,)
    assert q.abs().max() <= 127
    assert q.abs().amax(dim=1).tolist() == [127] * 32  # each row uses the full range
    torch.testing.assert_close(s, W.abs().amax(dim=1) / 127)
    err = (W - dequantised(q, s)).abs()
    assert (err <= s[:, None] / 2 + 1e-7).all()


def test_quantize_per_row_scales_rows_not_columns():
    torch.manual_seed(0)
    W = torch.randn(16, 64) * torch.logspace(-3, 0, 16)[:, None]
    q, s = quantize_per_row(W)
    q_t, s_t = quantize_per_row(W.T)  # one scale per column of W: the wrong axis here
    per_row = (W - dequantised(q, s)).abs() / W.abs().amax(dim=1, keepdim=True)
    per_col = (W - dequantised(q_t, s_t).T).abs() / W.abs().amax(dim=1, keepdim=True)
    # the small rows share a column's scale with the large ones and mostly round to 0
    assert per_row.max() <= 0.5 / 127 + 1e-6
    assert per_col.max() > 0.3


def test_quantize_per_row_zero_row_and_exact_multiples():
    W = torch.zeros(3, 4)
    W[1] = torch.tensor([0.5, -63.5, 2.0, 0.0])  # scale 63.5 / 127 = 0.5: all multiples of it
    W[2] = torch.tensor([-127.0, 3.0, 1.0, -2.0])  # scale 1
    q, s = quantize_per_row(W)
    assert q[0].tolist() == [0, 0, 0, 0] and s[0].item() == 1.0
    assert q[1].tolist() == [1, -127, 4, 0] and s[1].item() == 0.5
    assert q[2].tolist() == [-127, 3, 1, -2] and s[2].item() == 1.0
    assert torch.equal(dequantised(q, s), W)


def test_quantize_per_row_fewer_bits():
    torch.manual_seed(0)
    W = torch.randn(8, 20)
    q, s = quantize_per_row(W, bits=4)
    assert q.abs().amax(dim=1).tolist() == [7] * 8
    torch.testing.assert_close(s, W.abs().amax(dim=1) / 7)
    assert ((W - dequantised(q, s)).abs() <= s[:, None] / 2 + 1e-7).all()


def test_quantize_per_row_errors():
    with pytest.raises(ValueError, match="W must be 2-D \\(rows, cols\\), got shape \\(4,\\)"):
        quantize_per_row(torch.randn(4))
    with pytest.raises(TypeError, match="floating-point tensor, got dtype torch.int64"):
        quantize_per_row(torch.ones(2, 3, dtype=torch.long))
    for bits in (1, 9, 16, 8.0, True):
        with pytest.raises(ValueError, match="bits must be an integer from 2 to 8"):
            quantize_per_row(torch.randn(2, 3), bits=bits)
    with pytest.raises(ValueError, match="at least one column"):
        quantize_per_row(torch.randn(2, 0))
    with pytest.raises(ValueError, match="must be finite"):
        quantize_per_row(torch.tensor([[1.0, float("inf")]]))


# Int8Linear


def test_int8_linear_hand_example():
    # W's rows have scales 63.5 / 127 = 0.5 and 31.75 / 127 = 0.25; 10.1 / 0.25 = 40.4 -> 40.
    # x's rows have scales 1 and 0.5. Every number below is exact in float32.
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[63.5, -20.0], [-31.75, 10.1]]))
        linear.bias.copy_(torch.tensor([0.5, -1.0]))
    layer = Int8Linear.from_linear(linear)
    assert layer.weight_q.tolist() == [[127, -40], [-127, 40]]
    assert layer.weight_scale.tolist() == [0.5, 0.25]
    x = torch.tensor([[4.0, 127.0], [-63.5, 8.0]])
    # integer products: [[4*127 - 127*40, ...], [-127*127 - 16*40, ...]] = [[-4572, 4572], ...]
    # rescaled: -4572 * 1 * 0.5 = -2286, 4572 * 1 * 0.25 = 1143, -16769 * 0.5 * 0.5 = -4192.25
    expected = torch.tensor([[-2286.0, 1143.0], [-4192.25, 2096.125]]) + linear.bias
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)
    # the float layer differs only where 10.1 was rounded to 10: by 127 * 0.1 and 8 * 0.1
    diff = (linear(x) - layer(x)).detach()
    torch.testing.assert_close(diff, torch.tensor([[0.0, 12.7], [0.0, 0.8]]), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(64, 256), (3, 17, 256)])
def test_int8_linear_equals_linear_of_dequantised_operands(bias, shape):
    torch.manual_seed(0)
    linear = nn.Linear(256, 96, bias=bias)
    layer = Int8Linear.from_linear(linear)
    x = torch.randn(*shape)
    y = layer(x)
    assert y.shape == (*shape[:-1], 96) and y.dtype == torch.float32
    x_q, x_s = quantize_per_row(x.reshape(-1, 256))  # (N, 256)
    w_q, w_s = quantize_per_row(linear.weight)  # (96, 256)
    ref = F.linear(dequantised(x_q, x_s), dequantised(w_q, w_s), linear.bias)
    torch.testing.assert_close(y, ref.reshape(y.shape).detach(), rtol=1e-5, atol=1e-6)
    # and close to the float layer: a few quantisation steps of relative error
    assert rel_err(y, linear(x).detach()) < 2e-2


def test_int8_linear_scales_tokens_separately():
    # a quiet token next to a loud one keeps its own scale, so it is not rounded to 0
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    x = torch.randn(2, 64) * torch.tensor([[1e-3], [1e3]])
    y = Int8Linear.from_linear(linear)(x)
    for i in range(2):
        assert rel_err(y[i] - linear.bias, (linear(x) - linear.bias)[i].detach()) < 2e-2


def test_int8_linear_buffers_repr_and_state_dict():
    linear = nn.Linear(256, 128)
    layer = Int8Linear.from_linear(linear)
    assert dict(layer.named_parameters()) == {}
    assert {k: (v.dtype, tuple(v.shape)) for k, v in layer.state_dict().items()} == {
        "weight_q": (torch.int8, (128, 256)),
        "weight_scale": (torch.float32, (128,)),
        "bias": (torch.float32, (128,)),
    }
    assert repr(layer) == "Int8Linear(in_features=256, out_features=128, bias=True)"
    no_bias = Int8Linear.from_linear(nn.Linear(4, 3, bias=False))
    assert no_bias.bias is None and "bias" not in no_bias.state_dict()
    assert repr(no_bias) == "Int8Linear(in_features=4, out_features=3, bias=False)"
    fresh = Int8Linear(256, 128)
    fresh.load_state_dict(layer.state_dict())
    x = torch.randn(5, 256)
    assert torch.equal(fresh(x), layer(x))


def test_int8_linear_errors():
    with pytest.raises(TypeError, match="linear must be an nn.Linear, got Conv1d"):
        Int8Linear.from_linear(nn.Conv1d(2, 3, 1))
    layer = Int8Linear.from_linear(nn.Linear(8, 4))
    with pytest.raises(ValueError, match="last dimension 8 \\(..., in_features\\), got shape"):
        layer(torch.randn(2, 7))
    with pytest.raises(TypeError, match="floating-point tensor, got dtype torch.int64"):
        layer(torch.ones(2, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Int8Linear(0, 4)


@pytest.mark.skipif(
    not hasattr(getattr(torch, "ao", None), "quantization")
    or not hasattr(torch.ao.quantization, "quantize_dynamic"),
    reason="torch.ao.quantization.quantize_dynamic is gone",
)
def test_int8_linear_at_least_as_good_as_torch_quantize_dynamic():
    torch.manual_seed(0)
    linear = nn.Linear(256, 128)
    x = torch.randn(64, 256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the API is deprecated and says so
        theirs = torch.ao.quantization.quantize_dynamic(
            nn.Sequential(linear), {nn.Linear}, dtype=torch.qint8
        )
        y_theirs = theirs(x)
    y = linear(x).detach()
    ours = rel_err(Int8Linear.from_linear(linear)(x), y)
    # per-row and per-token scales beat torch's one scale per tensor; allow a factor 2
    assert ours <= 2 * rel_err(y_theirs, y)
    assert ours < 2e-2


# quantize_int8 and model_bytes


def linear_bytes(n_in: int, n_out: int, quantised: bool) -> int:
    if quantised:
        return n_in * n_out + n_out * 4 + n_out * 4  # int8 weight, float32 scales and bias
    return (n_in * n_out + n_out) * 4


def test_model_bytes_of_one_linear_and_disk_size():
    linear = nn.Linear(256, 128)
    assert model_bytes(linear) == (256 * 128 + 128) * 4 == 131_584
    q = quantize_int8(linear)
    assert isinstance(q, Int8Linear)
    assert model_bytes(q) == 256 * 128 + 128 * 4 + 128 * 4 == 33_792
    assert model_bytes(linear) / model_bytes(q) > 3.8
    buffer = io.BytesIO()
    torch.save(q.state_dict(), buffer)
    assert model_bytes(q) <= len(buffer.getvalue()) <= model_bytes(q) + 4096


def test_model_bytes_counts_shared_tensors_once():
    a, b = nn.Linear(10, 10), nn.Linear(10, 10)
    b.weight = a.weight  # tied: one tensor
    model = nn.Sequential(a, b)
    model.register_buffer("view", a.weight.detach())  # another tensor on the same memory
    assert model_bytes(model) == (100 + 10 + 10) * 4
    with pytest.raises(TypeError, match="model must be an nn.Module, got Tensor"):
        model_bytes(torch.zeros(3))


def test_quantize_int8_sequential():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize_int8(model)
    assert [type(m) for m in q] == [Int8Linear, nn.ReLU, nn.Dropout, Int8Linear]
    assert not q.training  # eval: the dropout is off
    # the original is untouched, still float and still training
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    x = torch.randn(32, 256)
    y = model.eval()(x).detach()
    assert rel_err(q(x), y) < 5e-2
    assert model_bytes(model) == linear_bytes(256, 128, False) + linear_bytes(128, 10, False)
    assert model_bytes(q) == linear_bytes(256, 128, True) + linear_bytes(128, 10, True)
    assert model_bytes(model) / model_bytes(q) > 3


def test_quantize_int8_vit():
    torch.manual_seed(0)
    model = ViT(ViTConfig(image_size=32, patch_size=8, width=64, depth=2, n_heads=4, n_classes=10))
    model.eval()
    linears = [name for name, m in model.named_modules() if type(m) is nn.Linear]
    assert len(linears) == 2 * (4 + 2) + 1  # W_Q, W_K, W_V, W_O, fc1, fc2 per block; the head
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize_int8(model)
    modules = dict(q.named_modules())
    assert all(isinstance(modules[name], Int8Linear) for name in linears)
    assert not any(type(m) is nn.Linear for m in q.modules())
    assert all(type(dict(model.named_modules())[name]) is nn.Linear for name in linears)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        y = model(x)
        assert rel_err(q(x), y) < 5e-2
    # every Linear saves 3 bytes per weight, nothing else changes
    saved = sum(
        linear_bytes(m.in_features, m.out_features, False)
        - linear_bytes(m.in_features, m.out_features, True)
        for name, m in model.named_modules()
        if type(m) is nn.Linear
    )
    assert model_bytes(q) == model_bytes(model) - saved
    float_linear = sum(model_bytes(dict(model.named_modules())[n]) for n in linears)
    int8_linear = sum(model_bytes(modules[n]) for n in linears)
    assert float_linear / int8_linear > 3


def test_quantize_int8_keeps_sharing_and_skips_linear_subclasses():
    shared = nn.Linear(16, 16)
    q = quantize_int8(nn.Sequential(shared, nn.ReLU(), shared))
    assert isinstance(q[0], Int8Linear) and q[0] is q[2]
    # nn.MultiheadAttention reads out_proj.weight itself, so its out_proj must stay float
    attn = nn.MultiheadAttention(16, 2, batch_first=True).eval()
    q_attn = quantize_int8(attn)
    assert type(q_attn.out_proj) is type(attn.out_proj)
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(q_attn(x, x, x)[0], attn(x, x, x)[0])


def test_quantize_int8_errors():
    with pytest.raises(TypeError, match="model must be an nn.Module, got dict"):
        quantize_int8({"weight": torch.zeros(2, 2)})
