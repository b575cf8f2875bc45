"""Each distillation loss against a direct reference written from its formula."""

from __future__ import annotations

import math

import pytest
import torch

from cuekit.distill.losses import (
    ForwardKLTopKLoss,
    JSDLoss,
    K1Loss,
    K3Loss,
    get_loss,
    loss_names,
)
from cuekit.errors import ConfigError

B, T, K = 3, 6, 5


def _sampled_lps(seed: int = 0, scale: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) student / teacher log-probs in (-inf, 0]; a few fall below the -10 floor."""
    gen = torch.Generator().manual_seed(seed)
    student = -((torch.rand(B, T, generator=gen, dtype=torch.float64) * scale) ** 2)
    teacher = -((torch.rand(B, T, generator=gen, dtype=torch.float64) * scale) ** 2)
    student[0, 1], teacher[2, 3] = -12.0, -11.5  # response tokens below the floor
    return student, teacher


def _mask() -> torch.Tensor:
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[0, 4:] = False  # a short response
    mask[1, :] = False  # a zero-length response
    return mask


def _topk(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher top-k log-probs (B, T, K) from a full softmax over 40 ids, and student log-probs
    at the same ids from another softmax (so neither sums to 1 over the k ids)."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, B, T, 40, generator=gen, dtype=torch.float64) * 2
    teacher_full, student_full = torch.log_softmax(logits, dim=-1)
    teacher_topk, ids = teacher_full.topk(K, dim=-1)
    return student_full.gather(-1, ids), teacher_topk


def _masked_mean(per_token: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.double()
    return (per_token * weights).sum() / weights.sum()


# ---------------------------------------------------------------- k1


def test_k1_value_matches_reference_and_metrics():
    student, teacher = _sampled_lps()
    mask = _mask()
    loss, metrics = K1Loss()(student, teacher, mask)

    adv = (teacher.clamp(min=-10) - student.clamp(min=-10)).clamp(-10, 10)
    expected = _masked_mean(-adv * student, mask)
    torch.testing.assert_close(loss.double(), expected)
    n = mask.sum().item()
    assert metrics["tokens"] == n
    assert metrics["loss"] == pytest.approx(expected.item())
    assert metrics["reverse_kl"] == pytest.approx(_masked_mean(student - teacher, mask).item())
    assert metrics["student_lp"] == pytest.approx(_masked_mean(student, mask).item())
    assert metrics["teacher_lp"] == pytest.approx(_masked_mean(teacher, mask).item())
    clipped = (student < -10) | (teacher < -10)
    assert clipped[mask].any(), "fixture must exercise the floor"
    assert metrics["clip_frac"] == pytest.approx(clipped[mask].double().mean().item())


def test_k1_gradient_is_the_policy_gradient_estimator():
    student, teacher = _sampled_lps()
    student.requires_grad_(True)
    teacher.requires_grad_(True)  # must receive nothing: A is detached
    mask = _mask()
    loss, _ = K1Loss()(student, teacher, mask)
    loss.backward()

    adv = (teacher.detach().clamp(min=-10) - student.detach().clamp(min=-10)).clamp(-10, 10)
    estimator = -adv * mask.double() / mask.sum()
    torch.testing.assert_close(student.grad, estimator, rtol=1e-12, atol=0.0)
    assert teacher.grad is None
    # floored tokens still get gradient (the floor only enters the advantage)
    assert (student.grad[(student < -10) & mask] != 0).all()


def test_k1_advantage_clip_is_configurable():
    student = torch.tensor([[-9.0, -1.0, -0.5]], dtype=torch.float64, requires_grad=True)
    teacher = torch.tensor([[-0.1, -2.0, -0.5]], dtype=torch.float64)
    mask = torch.ones(1, 3)
    loss, metrics = get_loss("k1", adv_clip=2.0)(student, teacher, mask)
    loss.backward()
    # advantages 8.9 -> clipped to 2, -1, 0
    expected_grad = -torch.tensor([[2.0, -1.0, 0.0]], dtype=torch.float64) / 3
    torch.testing.assert_close(student.grad, expected_grad)
    assert metrics["clip_frac"] == pytest.approx(1 / 3)


# ---------------------------------------------------------------- k3


def test_k3_value_and_gradient_match_reference():
    student, teacher = _sampled_lps(seed=2)
    mask = _mask()
    student_ref = student.clone().requires_grad_(True)
    student.requires_grad_(True)

    loss, _ = K3Loss()(student, teacher, mask)
    loss.backward()

    delta = teacher.clamp(min=-10) - student_ref.clamp(min=-10)
    expected = _masked_mean(torch.exp(delta) - delta - 1, mask)
    expected.backward()
    torch.testing.assert_close(loss.double(), expected.detach())
    torch.testing.assert_close(student.grad, student_ref.grad)
    # analytic form: (1 - exp(d)) / N on unfloored response tokens, 0 on floored ones
    unfloored = student.detach() > -10
    analytic = (1 - torch.exp(delta.detach())) * mask * unfloored / mask.sum()
    torch.testing.assert_close(student.grad, analytic)
    assert (~unfloored & mask).any(), "fixture must exercise the floor"


def test_k3_without_floor_keeps_raw_values():
    student = torch.tensor([[-15.0, -0.2]], dtype=torch.float64)
    teacher = torch.tensor([[-12.0, -0.3]], dtype=torch.float64)
    mask = torch.ones(1, 2, dtype=torch.bool)
    loss, metrics = K3Loss(lp_floor=None)(student, teacher, mask)
    delta = teacher - student
    torch.testing.assert_close(loss.double(), (torch.exp(delta) - delta - 1).mean())
    assert metrics["clip_frac"] == 0.0
    floored, floored_metrics = K3Loss()(student, teacher, mask)
    delta_f = teacher.clamp(min=-10) - student.clamp(min=-10)
    torch.testing.assert_close(floored.double(), (torch.exp(delta_f) - delta_f - 1).mean())
    assert floored_metrics["clip_frac"] == pytest.approx(0.5)


# ---------------------------------------------------------------- forward-kl-topk


def _assert_topk_loss_matches(loss_fn, reference, seed: int) -> None:
    """``loss_fn`` on top-k log-probs equals the masked mean of
    ``reference(student_topk, teacher_topk)`` per token, in value and in the gradient
    it sends to the student's top-k log-probs."""
    student, teacher = _sampled_lps()
    student_topk, teacher_topk = _topk(seed=seed)
    student_topk.requires_grad_(True)
    ref_student_topk = student_topk.detach().clone().requires_grad_(True)
    mask = _mask()

    loss, _ = loss_fn(student, teacher, mask, student_topk=student_topk, teacher_topk=teacher_topk)
    loss.backward()
    expected = _masked_mean(reference(ref_student_topk, teacher_topk), mask)
    expected.backward()
    torch.testing.assert_close(loss.double(), expected.detach())
    torch.testing.assert_close(student_topk.grad, ref_student_topk.grad)


def _forward_kl_reference(student_topk, teacher_topk, renormalize):
    """Teacher-weighted log-ratio over the top-k ids (teacher optionally renormalised)."""
    log_pt = teacher_topk.clamp(min=-10)
    if renormalize:
        log_pt = log_pt - torch.logsumexp(log_pt, dim=-1, keepdim=True)
    pt = log_pt.exp()
    return (pt * (log_pt - student_topk.clamp(min=-10))).sum(-1)


@pytest.mark.parametrize("renormalize", [True, False])
def test_forward_kl_topk_matches_reference(renormalize):
    _assert_topk_loss_matches(
        ForwardKLTopKLoss(renormalize=renormalize),
        lambda student_topk, teacher_topk: _forward_kl_reference(
            student_topk, teacher_topk, renormalize
        ),
        seed=1,
    )


def test_forward_kl_topk_with_full_support_is_the_exact_forward_kl():
    gen = torch.Generator().manual_seed(3)
    teacher_full = torch.log_softmax(torch.randn(B, T, 12, generator=gen, dtype=torch.float64), -1)
    student_full = torch.log_softmax(torch.randn(B, T, 12, generator=gen, dtype=torch.float64), -1)
    mask = _mask()
    loss, _ = get_loss("forward-kl-topk", lp_floor=None)(
        student_full[..., 0],
        teacher_full[..., 0],
        mask,
        student_topk=student_full,
        teacher_topk=teacher_full,
    )
    kl = torch.nn.functional.kl_div(
        student_full, teacher_full, log_target=True, reduction="none"
    ).sum(-1)  # KL(T || S) per token
    torch.testing.assert_close(loss.double(), _masked_mean(kl, mask))


# ---------------------------------------------------------------- jsd


def _jsd_reference(student_topk, teacher_topk, beta):
    """GKD generalized JSD in probability space over the renormalised top-k support."""
    q = torch.softmax(student_topk.clamp(min=-10), -1)
    p = torch.softmax(teacher_topk.clamp(min=-10), -1)
    m = beta * p + (1 - beta) * q
    return beta * (p * (p / m).log()).sum(-1) + (1 - beta) * (q * (q / m).log()).sum(-1)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_jsd_matches_reference(beta):
    _assert_topk_loss_matches(
        JSDLoss(beta=beta),
        lambda student_topk, teacher_topk: _jsd_reference(student_topk, teacher_topk, beta),
        seed=4,
    )


def test_jsd_beta_limits_are_forward_and_reverse_kl():
    student, teacher = _sampled_lps()
    student_topk, teacher_topk = _topk(seed=5)
    mask = _mask()
    log_q = torch.log_softmax(student_topk.clamp(min=-10), -1)
    log_p = torch.log_softmax(teacher_topk.clamp(min=-10), -1)
    forward = _masked_mean((log_p.exp() * (log_p - log_q)).sum(-1), mask)
    reverse = _masked_mean((log_q.exp() * (log_q - log_p)).sum(-1), mask)
    assert not math.isclose(forward.item(), reverse.item(), rel_tol=1e-2)

    def jsd(beta):
        return get_loss("jsd", beta=beta)(
            student, teacher, mask, student_topk=student_topk, teacher_topk=teacher_topk
        )[0].double()

    torch.testing.assert_close(jsd(0.0), forward)
    torch.testing.assert_close(jsd(1.0), reverse)
    # The end points are the limits of the scaled divergence.
    eps = 1e-5
    torch.testing.assert_close(jsd(eps) / eps, forward, rtol=1e-3, atol=0)
    torch.testing.assert_close(jsd(1 - eps) / eps, reverse, rtol=1e-3, atol=0)


def test_jsd_of_identical_distributions_is_zero():
    student, teacher = _sampled_lps()
    _, teacher_topk = _topk()
    loss, _ = JSDLoss(beta=0.5)(
        student, teacher, _mask(), student_topk=teacher_topk.clone(), teacher_topk=teacher_topk
    )
    assert abs(loss.item()) < 1e-12


# ---------------------------------------------------------------- masks, clamps, shapes


@pytest.mark.parametrize("name", ["k1", "k3", "forward-kl-topk", "jsd"])
def test_zero_length_rows_do_not_change_the_token_mean(name):
    student, teacher = _sampled_lps()
    student_topk, teacher_topk = _topk()
    mask = _mask()  # row 1 is empty
    keep = torch.tensor([0, 2])
    loss_fn = get_loss(name)
    full, _ = loss_fn(student, teacher, mask, student_topk=student_topk, teacher_topk=teacher_topk)
    kept, _ = loss_fn(
        student[keep],
        teacher[keep],
        mask[keep],
        student_topk=student_topk[keep],
        teacher_topk=teacher_topk[keep],
    )
    torch.testing.assert_close(full, kept)
    float_mask, _ = loss_fn(
        student, teacher, mask.double(), student_topk=student_topk, teacher_topk=teacher_topk
    )
    torch.testing.assert_close(full, float_mask)


@pytest.mark.parametrize("name", ["k1", "k3", "forward-kl-topk", "jsd"])
def test_empty_mask_gives_zero_loss_and_zero_gradient(name):
    student, teacher = _sampled_lps()
    student_topk, teacher_topk = _topk()
    student.requires_grad_(True)
    student_topk.requires_grad_(True)
    mask = torch.zeros(B, T, dtype=torch.bool)
    loss, metrics = get_loss(name)(
        student, teacher, mask, student_topk=student_topk, teacher_topk=teacher_topk
    )
    loss.backward()
    assert loss.item() == 0.0
    assert metrics["tokens"] == 0.0 and metrics["reverse_kl"] == 0.0
    grads = [g for g in (student.grad, student_topk.grad) if g is not None]
    assert grads and all(torch.count_nonzero(g) == 0 for g in grads)


def test_topk_losses_floor_the_topk_log_probs():
    student = torch.zeros(1, 1, dtype=torch.float64)
    student_topk = torch.tensor([[[-0.1, -30.0]]], dtype=torch.float64)
    teacher_topk = torch.tensor([[[-0.5, -1.0]]], dtype=torch.float64)
    mask = torch.ones(1, 1)
    loss, metrics = ForwardKLTopKLoss(renormalize=False)(
        student, student, mask, student_topk=student_topk, teacher_topk=teacher_topk
    )
    pt = teacher_topk.exp()
    expected = (pt * (teacher_topk - torch.tensor([[[-0.1, -10.0]]], dtype=torch.float64))).sum()
    torch.testing.assert_close(loss.double(), expected)
    assert metrics["clip_frac"] == 1.0
    unfloored, _ = ForwardKLTopKLoss(renormalize=False, lp_floor=None)(
        student, student, mask, student_topk=student_topk, teacher_topk=teacher_topk
    )
    torch.testing.assert_close(unfloored.double(), (pt * (teacher_topk - student_topk)).sum())


def test_losses_return_fp32_for_bf16_inputs():
    student, teacher = _sampled_lps()
    student_topk, teacher_topk = _topk()
    for name in loss_names():
        loss, _ = get_loss(name)(
            student.bfloat16(),
            teacher.bfloat16(),
            _mask(),
            student_topk=student_topk.bfloat16(),
            teacher_topk=teacher_topk.bfloat16(),
        )
        assert loss.dtype == torch.float32 and torch.isfinite(loss)


# ---------------------------------------------------------------- registry and errors


def test_registry_names_and_default_settings():
    assert loss_names() == ["k1", "k3", "forward-kl-topk", "jsd"]
    assert get_loss("k1") == K1Loss(adv_clip=10.0, lp_floor=-10.0)
    assert get_loss("jsd").beta == 0.5
    assert [get_loss(n).needs_topk for n in loss_names()] == [False, False, True, True]


def test_unknown_loss_names_the_choices():
    with pytest.raises(
        ValueError,
        match=r"unknown loss 'kl'; choose one of: "
        r"k1, k3, forward-kl-topk, jsd",
    ):
        get_loss("kl")
    with pytest.raises(ConfigError):
        get_loss("kl")


def test_unknown_and_bad_settings_are_config_errors():
    with pytest.raises(
        ConfigError,
        match=r"loss 'k1' has no setting\(s\) beta; "
        r"it accepts: adv_clip, lp_floor",
    ):
        get_loss("k1", beta=0.5)
    with pytest.raises(ConfigError, match=r"beta must lie in \[0, 1\]; got 1.5"):
        get_loss("jsd", beta=1.5)
    with pytest.raises(ConfigError, match="adv_clip must be a positive number; got 0"):
        get_loss("k1", adv_clip=0)
    with pytest.raises(ConfigError, match="lp_floor must be a negative number or None; got 5"):
        get_loss("k3", lp_floor=5)


def test_shape_errors_and_missing_topk():
    student, teacher = _sampled_lps()
    with pytest.raises(
        ValueError,
        match=r"must share one \(B, T\) shape; got \(3, 6\), "
        r"\(3, 5\), \(3, 6\)",
    ):
        K1Loss()(student, teacher[:, :5], _mask())
    with pytest.raises(ValueError, match=r"student_lp must be \(B, T\); got shape \(18,\)"):
        K3Loss()(student.flatten(), teacher.flatten(), _mask().flatten())
    with pytest.raises(ValueError, match="loss 'jsd' needs student_topk and teacher_topk"):
        JSDLoss()(student, teacher, _mask())
    student_topk, teacher_topk = _topk()
    with pytest.raises(
        ValueError,
        match=r"student_topk must match teacher_topk \(3, 6, 5\); "
        r"got \(3, 6, 4\)",
    ):
        ForwardKLTopKLoss()(
            student, teacher, _mask(), student_topk=student_topk[..., :4], teacher_topk=teacher_topk
        )
