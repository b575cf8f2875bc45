"""Chunked log-prob scoring against the naive full-vocabulary log-softmax."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from cuekit.distill.scoring import gather_logprobs_at, token_logprobs

B, T, D, V = 2, 7, 6, 97  # N = 14 tokens


def _inputs(seed: int = 0, dtype: torch.dtype = torch.float32, bias: bool = True):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(B, T, D, generator=gen, dtype=dtype)
    weight = torch.randn(V, D, generator=gen, dtype=dtype)
    bias_vec = torch.randn(V, generator=gen, dtype=dtype) if bias else None
    targets = torch.randint(0, V, (B, T), generator=gen)
    return hidden, weight, bias_vec, targets


def _naive_logprobs(hidden, weight, bias, temperature=1.0):
    """(B, T, V) full log-softmax: the reference the chunked path must equal."""
    logits = hidden @ weight.T
    if bias is not None:
        logits = logits + bias
    return torch.log_softmax(logits.float() / temperature, dim=-1)


def _leaf_copies(*tensors):
    return [None if t is None else t.detach().clone().requires_grad_(True) for t in tensors]


@pytest.mark.parametrize("chunk_size", [1, 3, 5, 14, 64])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_chunked_values_and_gradients_equal_naive(chunk_size, temperature):
    hidden, weight, bias, targets = _inputs()
    h, w, b = _leaf_copies(hidden, weight, bias)
    h_ref, w_ref, b_ref = _leaf_copies(hidden, weight, bias)
    upstream = torch.randn(B, T, generator=torch.Generator().manual_seed(9))

    lp = token_logprobs(h, w, targets, bias=b, chunk_size=chunk_size, temperature=temperature)
    (lp * upstream).sum().backward()
    ref = _naive_logprobs(h_ref, w_ref, b_ref, temperature).gather(-1, targets[..., None])[..., 0]
    (ref * upstream).sum().backward()

    assert lp.shape == (B, T) and lp.dtype == torch.float32
    torch.testing.assert_close(lp, ref)
    torch.testing.assert_close(h.grad, h_ref.grad)
    torch.testing.assert_close(w.grad, w_ref.grad)
    torch.testing.assert_close(b.grad, b_ref.grad)


def test_gradcheck_in_float64_for_both_entry_points():
    hidden, weight, bias, targets = _inputs(dtype=torch.float64)
    ids = torch.randint(0, V, (B, T, 4), generator=torch.Generator().manual_seed(1))
    ids[0, 0] = 5  # repeated ids in one row must accumulate their gradients
    args = _leaf_copies(hidden, weight, bias)
    assert torch.autograd.gradcheck(
        lambda h, w, b: token_logprobs(h, w, targets, bias=b, chunk_size=4, temperature=1.3), args
    )
    assert torch.autograd.gradcheck(
        lambda h, w, b: gather_logprobs_at(h, w, ids, bias=b, chunk_size=3, temperature=0.8), args
    )


@pytest.mark.parametrize("chunk_size", [2, 5, 100])
def test_gather_logprobs_at_equals_naive(chunk_size):
    hidden, weight, _, _ = _inputs(seed=2, bias=False)
    ids = torch.randint(0, V, (B, T, 6), generator=torch.Generator().manual_seed(3))
    h, w = _leaf_copies(hidden, weight)
    h_ref, w_ref = _leaf_copies(hidden, weight)

    lp = gather_logprobs_at(h, w, ids, chunk_size=chunk_size)
    lp.square().sum().backward()
    ref = _naive_logprobs(h_ref, w_ref, None).gather(-1, ids)
    ref.square().sum().backward()

    assert lp.shape == (B, T, 6)
    torch.testing.assert_close(lp, ref)
    torch.testing.assert_close(h.grad, h_ref.grad)
    torch.testing.assert_close(w.grad, w_ref.grad)


@pytest.mark.parametrize("chunk_size", [1, 4, 14])
def test_topk_equals_torch_topk_of_naive(chunk_size):
    hidden, weight, bias, targets = _inputs(seed=4)
    with torch.inference_mode():
        lp, topk_lp, topk_ids = token_logprobs(
            hidden, weight, targets, bias=bias, chunk_size=chunk_size, temperature=0.9, topk=8
        )
    naive = _naive_logprobs(hidden, weight, bias, temperature=0.9)
    ref_values, ref_ids = naive.topk(8, dim=-1)
    torch.testing.assert_close(lp, naive.gather(-1, targets[..., None])[..., 0])
    assert topk_ids.dtype == torch.int64 and topk_ids.shape == (B, T, 8)
    assert torch.equal(topk_ids, ref_ids)
    torch.testing.assert_close(topk_lp, ref_values)


def test_topk_with_student_gradients_returns_detached_topk():
    hidden, weight, bias, targets = _inputs(seed=5)
    h, w = _leaf_copies(hidden, weight)
    lp, topk_lp, _ = token_logprobs(h, w, targets, bias=bias, chunk_size=4, topk=3)
    assert lp.requires_grad and not topk_lp.requires_grad
    lp.sum().backward()
    h_ref, w_ref = _leaf_copies(hidden, weight)
    _naive_logprobs(h_ref, w_ref, bias).gather(-1, targets[..., None]).sum().backward()
    torch.testing.assert_close(h.grad, h_ref.grad)
    torch.testing.assert_close(w.grad, w_ref.grad)


def test_teacher_path_under_inference_mode_saves_no_graph():
    hidden, weight, bias, targets = _inputs()
    with torch.inference_mode():
        lp = token_logprobs(hidden, weight, targets, bias=bias, chunk_size=4)
    assert lp.grad_fn is None and not lp.requires_grad
    ref = _naive_logprobs(hidden, weight, bias).gather(-1, targets[..., None])[..., 0]
    torch.testing.assert_close(lp, ref)


def test_non_contiguous_shifted_hidden_states():
    hidden, weight, _, targets = _inputs(seed=6, bias=False)
    shifted_hidden, shifted_targets = hidden[:, :-1], targets[:, 1:]  # next-token layout
    assert not shifted_hidden.is_contiguous()
    lp = token_logprobs(shifted_hidden, weight, shifted_targets, chunk_size=3)
    ref = _naive_logprobs(shifted_hidden, weight, None).gather(-1, shifted_targets[..., None])
    torch.testing.assert_close(lp, ref[..., 0])


def test_bf16_autocast_matches_naive_autocast():
    hidden, weight, bias, targets = _inputs(seed=7)
    h, w = _leaf_copies(hidden, weight)
    h_ref, w_ref = _leaf_copies(hidden, weight)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lp = token_logprobs(h, w, targets, chunk_size=4)
        ref_logits = torch.nn.functional.linear(h_ref, w_ref)  # bf16 under autocast
    assert ref_logits.dtype == torch.bfloat16 and lp.dtype == torch.float32
    ref = torch.log_softmax(ref_logits.float(), -1).gather(-1, targets[..., None])[..., 0]
    torch.testing.assert_close(lp, ref)
    lp.sum().backward()
    ref.sum().backward()
    assert h.grad.dtype == torch.float32 and w.grad.dtype == torch.float32
    torch.testing.assert_close(h.grad, h_ref.grad, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(w.grad, w_ref.grad, rtol=2e-2, atol=2e-2)


# ---------------------------------------------------------------- memory


class _LargestTensorMode(TorchDispatchMode):
    """Records the numel of the largest tensor any aten op returns (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(result):
            if isinstance(leaf, torch.Tensor):
                self.largest = max(self.largest, leaf.numel())
        return result


def test_no_tensor_of_full_batch_vocab_size_is_created():
    batch, seq, dim, vocab, chunk = 4, 32, 4, 1000, 8  # B*T*V = 128,000
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(batch, seq, dim, generator=gen, requires_grad=True)
    weight = torch.randn(vocab, dim, generator=gen, requires_grad=True)
    targets = torch.randint(0, vocab, (batch, seq), generator=gen)
    bound = max(chunk * vocab, vocab * dim, batch * seq * dim)  # one chunk's logits, W, hidden
    assert bound * 10 < batch * seq * vocab

    mode = _LargestTensorMode()
    with mode:
        lp = token_logprobs(hidden, weight, targets, chunk_size=chunk)
        lp.sum().backward()
    assert 0 < mode.largest <= bound

    with mode:  # same for the teacher's top-k pass
        with torch.no_grad():
            token_logprobs(hidden, weight, targets, chunk_size=chunk, topk=16)
    assert mode.largest <= bound

    naive_mode = _LargestTensorMode()  # the probe does see a full-size tensor when one exists
    with naive_mode:
        _naive_logprobs(hidden, weight, None).gather(-1, targets[..., None]).sum().backward()
    assert naive_mode.largest >= batch * seq * vocab


def test_backward_keeps_no_logits_alive():
    batch, seq, dim, vocab = 3, 16, 4, 500
    gen = torch.Generator().manual_seed(1)
    hidden = torch.randn(batch, seq, dim, generator=gen, requires_grad=True)
    weight = torch.randn(vocab, dim, generator=gen, requires_grad=True)
    targets = torch.randint(0, vocab, (batch, seq), generator=gen)
    saved_shapes: list[tuple[int, ...]] = []

    def pack(tensor):
        saved_shapes.append(tuple(tensor.shape))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        token_logprobs(hidden, weight, targets, chunk_size=5)
    n_tokens = batch * seq
    # hidden (N, D), weight (V, D), ids (N, 1), logsumexp (N,): nothing with a (.., V) logit row
    assert sorted(saved_shapes) == sorted(
        [(n_tokens, dim), (vocab, dim), (n_tokens, 1), (n_tokens,)]
    )


# ---------------------------------------------------------------- errors


def test_input_errors_name_expected_and_actual():
    hidden, weight, _, targets = _inputs(bias=False)
    out_of_range = targets.clone()
    out_of_range[0, 0], out_of_range[1, 2] = V, -100  # e.g. an ignore index left in
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 97\); got range \[-100, 97\]"):
        token_logprobs(hidden, weight, out_of_range)
    with pytest.raises(
        ValueError,
        match=r"targets must have shape \(2, 7\) to match hidden "
        r"\(2, 7, 6\); got \(2, 6\)",
    ):
        token_logprobs(hidden, weight, targets[:, 1:])
    with pytest.raises(
        ValueError,
        match=r"lm_head_weight must be \(V, D\) with D = "
        r"hidden.shape\[-1\] = 6; got \(97, 5\)",
    ):
        token_logprobs(hidden, weight[:, :5], targets)
    with pytest.raises(ValueError, match=r"bias must be \(97,\); got \(3,\)"):
        token_logprobs(hidden, weight, targets, bias=torch.zeros(3))
    with pytest.raises(ValueError, match="chunk_size must be >= 1; got 0"):
        token_logprobs(hidden, weight, targets, chunk_size=0)
    with pytest.raises(ValueError, match="temperature must be > 0; got 0.0"):
        token_logprobs(hidden, weight, targets, temperature=0.0)
    with pytest.raises(ValueError, match=r"topk must lie in \[0, 97\]; got 98"):
        token_logprobs(hidden, weight, targets, topk=98)
    with pytest.raises(ValueError, match="targets must hold integer token ids; got dtype"):
        token_logprobs(hidden, weight, targets.float())
    with pytest.raises(ValueError, match=r"ids must have shape \(2, 7\) \+ \(k,\); got \(2, 7\)"):
        gather_logprobs_at(hidden, weight, targets)
