"""Token-level distillation losses with one signature, chosen by name.

Every loss is called as::

    loss, metrics = loss_fn(student_lp, teacher_lp, mask,
                            student_topk=None, teacher_topk=None)

with
- ``student_lp`` (B, T): the student's log-prob of each sampled token, WITH gradient;
- ``teacher_lp`` (B, T): the teacher's log-prob of the same token (no gradient needed,
  it is detached here anyway). distill scores both models at the rollout's temperature,
  so ``student_lp`` is the log-prob of the policy that sampled the token;
- ``mask`` (B, T) bool or float: 1 on response tokens, 0 on prompt and padding;
- ``teacher_topk`` (B, T, k): the teacher's top-k log-probs (full-vocabulary normalised)
  and ``student_topk`` (B, T, k): the student's log-probs at the teacher's top-k token ids.
  Only ``forward-kl-topk`` and ``jsd`` read them (``loss_fn.needs_topk`` is True there).

The scalar loss is a token-mean over response tokens: the sum over masked tokens divided
by the number of masked tokens in the whole batch (0 when the batch has none).

Settings are bound at construction (``get_loss("jsd", beta=0.3)``). ``lp_floor`` (default
-10, ``None`` disables) clamps log-probs from below before they enter a divergence. The
released ViCuR code floors at -10 only on its forward-KL (top-k) path; its k1 and k3 paths
take raw log-probs, and clamp elsewhere (k1 the advantage at +-10, k3 the log-ratio at
+-20 and the value at 10). cuekit floors every loss, which changes three things: it
bounds ``exp(lT - lS)`` and avoids ``0 * -inf``; a floored student log-prob is a constant,
so that token gives no gradient in k3 / forward-kl-topk / jsd; and in k1 a token whose
student or teacher log-prob is below -10 gets an advantage computed from -10 (at most
``lT - (-10)``), which only matters where the ``adv_clip`` of 10 has not already bitten.
k1 floors only inside its (detached) advantage, so its policy gradient always flows.
``lp_floor=None`` reproduces the released k1/k3 exactly.

Metrics (python floats, all over response tokens): ``loss``, ``reverse_kl`` (the k1
estimate mean(lS - lT) of KL(student || teacher) on student samples, unclamped),
``student_lp`` and ``teacher_lp`` (means, unclamped), ``clip_frac`` (fraction of response
tokens where any clamp changed a value), ``tokens`` (number of response tokens).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from cuekit.errors import ConfigError

Metrics = dict[str, float]


def _check_inputs(student_lp: Tensor, teacher_lp: Tensor, mask: Tensor) -> None:
    if student_lp.dim() != 2:
        raise ValueError(f"student_lp must be (B, T); got shape {tuple(student_lp.shape)}")
    if teacher_lp.shape != student_lp.shape or mask.shape != student_lp.shape:
        raise ValueError(
            "student_lp, teacher_lp and mask must share one (B, T) shape; got "
            f"{tuple(student_lp.shape)}, {tuple(teacher_lp.shape)}, {tuple(mask.shape)}"
        )


def _check_topk(
    name: str, student_lp: Tensor, student_topk: Tensor | None, teacher_topk: Tensor | None
) -> tuple[Tensor, Tensor]:
    """The (student, teacher) top-k log-probs, checked: present and (B, T, k) alike."""
    if student_topk is None or teacher_topk is None:
        raise ValueError(
            f"loss {name!r} needs student_topk and teacher_topk (B, T, k): the teacher's "
            "top-k log-probs and the student's log-probs at those token ids"
        )
    expected = tuple(student_lp.shape)
    if teacher_topk.dim() != 3 or tuple(teacher_topk.shape[:2]) != expected:
        raise ValueError(
            f"teacher_topk must be (B, T, k) with (B, T) = {expected}; "
            f"got {tuple(teacher_topk.shape)}"
        )
    if student_topk.shape != teacher_topk.shape:
        raise ValueError(
            f"student_topk must match teacher_topk {tuple(teacher_topk.shape)}; "
            f"got {tuple(student_topk.shape)}"
        )
    return student_topk, teacher_topk


def _upcast(values: Tensor) -> Tensor:
    """bf16/fp16 -> fp32; fp32 and fp64 unchanged (losses are always computed in >= fp32)."""
    return values.to(torch.promote_types(values.dtype, torch.float32))


def _floor(values: Tensor, lp_floor: float | None) -> Tensor:
    return values if lp_floor is None else values.clamp(min=lp_floor)


def _token_mean(per_token: Tensor, mask: Tensor) -> Tensor:
    """Sum over masked tokens / number of masked tokens (0 for an empty mask). (B, T) -> ()."""
    weights = mask.to(per_token.dtype)
    return (per_token * weights).sum() / weights.sum().clamp(min=1.0)


def _base_metrics(
    loss: Tensor, student_lp: Tensor, teacher_lp: Tensor, mask: Tensor, clipped: Tensor
) -> Metrics:
    """Scalar metrics over response tokens; ``clipped`` (B, T) bool marks clamped tokens."""
    with torch.no_grad():
        lS, lT = _upcast(student_lp.detach()), _upcast(teacher_lp.detach())
        weights = mask.to(lS.dtype)
        return {
            "loss": float(loss.detach()),
            "reverse_kl": float(_token_mean(lS - lT, weights)),
            "student_lp": float(_token_mean(lS, weights)),
            "teacher_lp": float(_token_mean(lT, weights)),
            "clip_frac": float(_token_mean(clipped.float(), weights)),
            "tokens": float(weights.sum()),
        }


def _check_floor(lp_floor: float | None) -> None:
    if lp_floor is not None and not (math.isfinite(lp_floor) and lp_floor < 0):
        raise ConfigError(f"lp_floor must be a negative number or None; got {lp_floor!r}")


def _floored_topk(
    lp_floor: float | None, student_topk: Tensor, teacher_topk: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Floor both (B, T, k) log-prob tensors; also return (B, T) 'any entry clamped'."""
    lS, lT = _upcast(student_topk), _upcast(teacher_topk.detach())
    floored_s, floored_t = _floor(lS, lp_floor), _floor(lT, lp_floor)
    clipped = ((floored_s.detach() != lS.detach()) | (floored_t != lT)).any(dim=-1)
    return floored_s, floored_t, clipped


def _kl_from_logs(log_p: Tensor, log_q: Tensor) -> Tensor:
    """sum_k p (log p - log q) over the last dim, with 0 * anything = 0. (B, T, k) -> (B, T)."""
    p = log_p.exp()
    # Select before multiplying, so a -inf log-prob at p = 0 gives neither nan values
    # nor nan gradients.
    log_ratio = torch.where(p > 0, log_p - log_q, torch.zeros_like(p))
    return (p * log_ratio).sum(dim=-1)


class _TokenLoss:
    """The one call every loss shares: check, per-token divergence, token-mean, metrics.

    A loss is a frozen dataclass of its settings (``lp_floor`` among them) that says
    whether it reads the top-k tensors and implements one hook:
    - ``_sampled(lS, lT)`` for a loss on the sampled token's log-probs (B, T), or
    - ``_topk(lS, lT)`` for a loss on the floored top-k log-probs (B, T, k).
    Each returns the per-token loss (B, T) (and ``_sampled`` the (B, T) clamp mask too).
    """

    name: ClassVar[str]
    needs_topk: ClassVar[bool]
    lp_floor: float | None

    def __post_init__(self) -> None:
        _check_floor(self.lp_floor)

    def __call__(
        self,
        student_lp: Tensor,
        teacher_lp: Tensor,
        mask: Tensor,
        *,
        student_topk: Tensor | None = None,
        teacher_topk: Tensor | None = None,
    ) -> tuple[Tensor, Metrics]:
        _check_inputs(student_lp, teacher_lp, mask)
        if self.needs_topk:
            student_k, teacher_k = _check_topk(self.name, student_lp, student_topk, teacher_topk)
            lS_k, lT_k, clipped = _floored_topk(self.lp_floor, student_k, teacher_k)
            per_token = self._topk(lS_k, lT_k)
        else:
            per_token, clipped = self._sampled(_upcast(student_lp), _upcast(teacher_lp.detach()))
        loss = _token_mean(per_token, mask)
        return loss, _base_metrics(loss, student_lp, teacher_lp, mask, clipped)

    def _sampled(self, lS: Tensor, lT: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError  # only the losses with needs_topk False implement it

    def _topk(self, lS: Tensor, lT: Tensor) -> Tensor:
        raise NotImplementedError  # only the losses with needs_topk True implement it


@dataclass(frozen=True)
class K1Loss(_TokenLoss):
    """Detached per-token advantage used as a policy gradient (released ViCuR default).

    A = clamp(max(lT, f) - max(lS, f), -c, +c)  (detached; f = lp_floor, c = adv_clip)
    loss = token-mean(-A * lS)

    Its gradient wrt lS is -A * mask / N: REINFORCE with reward A per token, no baseline,
    no discount. Because E_{y~S}[-A grad lS] = grad KL(S || T) (for unclamped A), this is
    the k1 reverse-KL estimator used as a reward (on-policy distillation).
    """

    adv_clip: float = 10.0
    lp_floor: float | None = -10.0
    name: ClassVar[str] = "k1"
    needs_topk: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.adv_clip) and self.adv_clip > 0):
            raise ConfigError(f"adv_clip must be a positive number; got {self.adv_clip!r}")
        super().__post_init__()

    def _sampled(self, lS: Tensor, lT: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            floored_s, floored_t = _floor(lS, self.lp_floor), _floor(lT, self.lp_floor)
            raw_adv = floored_t - floored_s
            advantage = raw_adv.clamp(-self.adv_clip, self.adv_clip)
            clipped = (floored_s != lS) | (floored_t != lT) | (advantage != raw_adv)
        return -advantage * lS, clipped


@dataclass(frozen=True)
class K3Loss(_TokenLoss):
    """k3 estimator of KL(S || T) minimised directly (gradient flows through lS).

    d = max(lT, f) - max(lS, f);  loss = token-mean(exp(d) - d - 1)
    (Schulman 2020, "Approximating KL divergence": k3 = (r - 1) - log r with r = pT / pS.)
    """

    lp_floor: float | None = -10.0
    name: ClassVar[str] = "k3"
    needs_topk: ClassVar[bool] = False

    def _sampled(self, lS: Tensor, lT: Tensor) -> tuple[Tensor, Tensor]:
        floored_s, floored_t = _floor(lS, self.lp_floor), _floor(lT, self.lp_floor)
        delta = floored_t - floored_s
        clipped = (floored_s.detach() != lS.detach()) | (floored_t != lT)
        return torch.expm1(delta) - delta, clipped


@dataclass(frozen=True)
class ForwardKLTopKLoss(_TokenLoss):
    """Forward KL(T || S) restricted to the teacher's top-k tokens (verl's forward_kl_topk).

    loss = token-mean( sum_{v in topk_T} pT~(v) (log pT~(v) - log pS(v)) )

    With ``renormalize=True`` (default) pT~ = softmax over the teacher's k log-probs, i.e.
    the teacher's distribution conditioned on its top-k set, and log pS stays the student's
    full-vocabulary log-prob. This is an exact KL between two distributions over the full
    vocabulary (pT~ is zero outside the top-k): it is >= 0, is 0 only when the student puts
    exactly pT~ on the top-k, and still penalises student mass outside the top-k.
    With ``renormalize=False`` pT~ = pT (unnormalised truncation of the full forward KL):
    same gradient direction per token, scaled by the top-k mass, but the value can be < 0.
    """

    renormalize: bool = True
    lp_floor: float | None = -10.0
    name: ClassVar[str] = "forward-kl-topk"
    needs_topk: ClassVar[bool] = True

    def _topk(self, lS: Tensor, lT: Tensor) -> Tensor:
        if self.renormalize:
            lT = torch.log_softmax(lT, dim=-1)
        return _kl_from_logs(lT, lS)


@dataclass(frozen=True)
class JSDLoss(_TokenLoss):
    """Generalized Jensen-Shannon divergence of GKD (Agarwal et al. 2024, eq. in sec. 3).

    With P = teacher, Q = student and M = beta * P + (1 - beta) * Q:
        JSD(beta) = beta * KL(P || M) + (1 - beta) * KL(Q || M)
    which is ~ beta * KL(P || Q) as beta -> 0 and ~ (1 - beta) * KL(Q || P) as beta -> 1.
    As in GKD / TRL, the end points are defined by those limits: beta = 0 gives forward
    KL(P || Q) and beta = 1 gives reverse KL(Q || P) exactly.

    P and Q are computed on the teacher's top-k support and both renormalised there
    (softmax over the k log-probs), so each is a distribution over the same k tokens: a JSD
    needs two normalised distributions on one support. Student mass outside the top-k is
    therefore not penalised by this loss (use forward-kl-topk for that).
    """

    beta: float = 0.5
    lp_floor: float | None = -10.0
    name: ClassVar[str] = "jsd"
    needs_topk: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not (0.0 <= self.beta <= 1.0):
            raise ConfigError(f"beta must lie in [0, 1]; got {self.beta!r}")
        super().__post_init__()

    def _topk(self, lS: Tensor, lT: Tensor) -> Tensor:
        log_q, log_p = torch.log_softmax(lS, dim=-1), torch.log_softmax(lT, dim=-1)
        if self.beta == 0.0:
            return _kl_from_logs(log_p, log_q)
        if self.beta == 1.0:
            return _kl_from_logs(log_q, log_p)
        # log M = logsumexp(log beta + log P, log(1 - beta) + log Q), in log space.
        log_m = torch.logaddexp(log_p + math.log(self.beta), log_q + math.log1p(-self.beta))
        return self.beta * _kl_from_logs(log_p, log_m) + (1.0 - self.beta) * _kl_from_logs(
            log_q, log_m
        )


DistillLoss = K1Loss | K3Loss | ForwardKLTopKLoss | JSDLoss

LOSSES: dict[str, type[DistillLoss]] = {
    loss_cls.name: loss_cls for loss_cls in (K1Loss, K3Loss, ForwardKLTopKLoss, JSDLoss)
}


def loss_names() -> list[str]:
    """The registered loss names, in registry order (k1 first: the default)."""
    return list(LOSSES)


def get_loss(name: str, **settings: Any) -> DistillLoss:
    """Build the loss called ``name`` with its settings, e.g. ``get_loss("jsd", beta=0.3)``.

    Raises ``ConfigError`` (a ``ValueError``) for an unknown name, an unknown setting or
    a bad setting value; the message lists what is accepted.
    """
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    loss_cls = LOSSES[name]
    accepted = [field.name for field in dataclasses.fields(loss_cls)]
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ConfigError(
            f"loss {name!r} has no setting(s) {', '.join(unknown)}; "
            f"it accepts: {', '.join(accepted)}"
        )
    return loss_cls(**settings)
