"""The second kernel set, under which nbval re-executes the chapters, really computes with
other kernels: other last bits, the same results to rounding."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minivlm.recipes.spread import KERNEL_SETS

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = ROOT / "tests" / "kernels" / "minivlm-second-kernels" / "kernel.json"

# a matrix product, a convolution, a softmax and a LayerNorm, each as exact bytes and values
PROBE = """
import hashlib, json, torch, torch.nn.functional as F
torch.manual_seed(0)
a, b, big = torch.randn(64, 128), torch.randn(128, 256), torch.randn(256, 512)
x, w = torch.randn(8, 3, 32, 32), torch.randn(16, 3, 8, 8)
ops = {"matmul": a @ b, "conv2d": F.conv2d(x, w, stride=8), "softmax": big.softmax(-1),
       "layer_norm": F.layer_norm(big, (512,))}
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(),
                  "bytes": {k: hashlib.sha256(v.numpy().tobytes()).hexdigest() for k, v in ops.items()},
                  "values": {k: v.flatten()[:4096].tolist() for k, v in ops.items()}}))
"""


def probe(kernels: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_SETS["second"]}
    env.update(KERNEL_SETS[kernels])
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_the_kernelspec_sets_the_packages_second_kernel_set():
    spec = json.loads(KERNELSPEC.read_text())
    assert spec["env"] == KERNEL_SETS["second"]
    assert spec["argv"][0] == "python"  # jupyter_client runs it with the tests' own Python


def test_make_installed_the_kernel_nbval_uses():
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("minivlm-second-kernels")
    except NoSuchKernel:
        pytest.fail("the kernel minivlm-second-kernels is not installed: run `make test`")
    assert spec.env == KERNEL_SETS["second"]
    assert "--nbval-kernel-name minivlm-second-kernels" in (ROOT / "pytest.ini").read_text()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 kernels")
def test_the_second_set_changes_the_last_bits_of_every_probe_but_not_the_results():
    default, second = probe("default"), probe("second")
    assert default["capability"] in ("AVX2", "AVX512")
    assert second["capability"] == "DEFAULT"
    for op in default["bytes"]:
        assert default["bytes"][op] != second["bytes"][op], f"{op}: the same bits"
        torch.testing.assert_close(
            torch.tensor(second["values"][op]),
            torch.tensor(default["values"][op]),
            rtol=1e-5,
            atol=1e-5,
        )
