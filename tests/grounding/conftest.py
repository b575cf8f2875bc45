"""Shared fixtures of the grounding tests."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The tiny models' ops are too small to gain from threads, and OpenMP threads spin
    # badly when the test machine's cores are shared.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
