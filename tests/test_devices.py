"""One device resolver and one dtype vocabulary (cuekit.devices)."""

from __future__ import annotations

import pytest
import torch

from cuekit.devices import (
    DTYPES,
    Precision,
    check_training_dtype,
    dtype_name,
    resolve_device,
    torch_dtype,
    training_precision,
)
from cuekit.errors import ConfigError


def test_dtype_names_and_aliases():
    assert DTYPES == ("auto", "bf16", "fp16", "fp32")
    assert [dtype_name(n) for n in ("bfloat16", "float16", "float32", "bf16")] == [
        "bf16",
        "fp16",
        "fp32",
        "bf16",
    ]
    with pytest.raises(
        ConfigError,
        match="dtype must be one of auto, bf16, fp16, fp32, bfloat16, float16, float32, got 'int8'",
    ):
        dtype_name("int8")


def test_weights_dtype_per_device():
    assert torch_dtype("auto", "cuda:1") is torch.bfloat16
    assert torch_dtype("auto", "cpu") is None  # fp32
    assert torch_dtype("fp16", "cpu") is torch.float16
    assert torch_dtype("float32", "cuda") is None


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cuda", local_rank=3) == "cuda:3"  # each torchrun rank its GPU
    assert resolve_device("cuda:1", local_rank=3) == "cuda:1"  # an explicit index stays
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def test_fp16_trains_in_fp16_with_loss_scaling_on_cuda():
    assert training_precision("fp16", "cuda:0") == Precision(
        autocast=torch.float16, teacher=torch.float16, loss_scaling=True
    )
    assert training_precision("float16", "cuda").describe() == "float16 autocast with loss scaling"
    bf16 = Precision(autocast=torch.bfloat16, teacher=torch.bfloat16, loss_scaling=False)
    assert training_precision("auto", "cuda") == training_precision("bf16", "cuda") == bf16
    assert training_precision("fp32", "cuda").autocast is None


def test_fp16_is_refused_where_it_cannot_train(caplog):
    with pytest.raises(
        ConfigError,
        match="dtype fp16 needs a CUDA device .* but the device is 'cpu': use fp32 or auto here",
    ):
        training_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="dtype fp16 needs a CUDA device"):
        check_training_dtype("fp16", "mps")
    assert check_training_dtype("bfloat16", "cpu") == "bf16"
    with caplog.at_level("WARNING", logger="cuekit"):  # bf16 off CUDA says it falls back
        assert training_precision("bf16", "cpu") == Precision(None, None, False)
    assert "autocast runs on CUDA only, so cpu trains in fp32" in caplog.text
