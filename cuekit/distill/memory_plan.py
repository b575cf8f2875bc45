"""GPU memory plan of one distill run: does student + teacher fit on one device?

Pure arithmetic on the architecture (no torch, no weights), so it can be printed at
start-up and checked in tests. Bytes per item, as the recipe runs on a GPU:

- student weights fp32 (autocast computes in bf16), gradients fp32, AdamW two fp32
  states: 16 bytes per student parameter, the cue recovery module included;
- teacher weights bf16, no gradients: 2 bytes per parameter;
- student activations per micro-batch of ``micro_batch * seq_len`` tokens: what one
  decoder layer saves for backward is **measured**, not guessed: with HF's sdpa layer,
  fp32 weights under bf16 autocast, ``torch.autograd.graph.saved_tensors_hooks`` counts
  ``26 d + 8 I + 10 q + 10 kv + 8 head_dim`` bytes per token (d hidden, I MLP, q/kv the
  query/key-value widths; a least-squares fit over six shapes, within 0.2% of the real
  2B's 134,312 and 8B's 257,320 bytes; tests re-measure it). The fp32 RMSNorm
  internals and autocast's separate bf16 copy of each linear's input are most of it.
  A checkpointed layer keeps only its fp32 input (4 d bytes), plus one layer's saved
  tensors while it recomputes. ``checkpoint_layers`` says how many decoder layers are
  checkpointed (None: all); :func:`fewest_checkpoint_layers` finds the fewest that fit,
  since each checkpointed layer runs its forward twice. The bf16 weight copies autocast
  saves for backward add 2 bytes per text parameter;
- teacher activations (bf16, inference): about two layers' transient intermediates,
  ``6 d + 2 kv + 4 I`` bf16 values per token each;
- log-probs: chunked, one ``(chunk, V)`` fp32 logits buffer plus its gradient buffer;
  full-vocab, bf16 logits + an fp32 copy + the fp32 log-softmax for every token;
- rollouts: KV cache ``2 * layers * kv_heads * head_dim`` bf16 values per token for
  ``rollout_batch * (prompt + response)`` tokens, one step's fp32 logits per row, and the
  bf16 weight copies (autocast's, per rollout; with ``compiled_rollout``, the decode
  path's, kept together with the cache through the update).

The peak is the larger of the rollout phase and the update phase; both hold the
student's weights, gradients (from the previous step), optimizer states and the teacher.
Estimates ignore the allocator's fragmentation: keep ``headroom`` free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

GB = 1e9


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a Qwen3-VL architecture that decide its memory."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    vision_depth: int
    vision_hidden: int
    vision_intermediate: int
    deepstack_layers: int
    cue_interval: int = 5  # cue recovery modules after layers i % interval == 0, not the last

    @classmethod
    def from_config(cls, name: str, config: Any, cue_interval: int = 5) -> ModelShape:
        """The shape of a loaded Qwen3-VL (``model.config``)."""
        text, vision = config.text_config, config.vision_config
        return cls(
            name,
            hidden=text.hidden_size,
            intermediate=text.intermediate_size,
            layers=text.num_hidden_layers,
            heads=text.num_attention_heads,
            kv_heads=text.num_key_value_heads,
            head_dim=getattr(text, "head_dim", None)
            or text.hidden_size // text.num_attention_heads,
            vocab=text.vocab_size,
            tied_embeddings=bool(
                getattr(config, "tie_word_embeddings", False)
                or getattr(text, "tie_word_embeddings", False)
            ),
            vision_depth=vision.depth,
            vision_hidden=vision.hidden_size,
            vision_intermediate=vision.intermediate_size,
            deepstack_layers=len(vision.deepstack_visual_indexes),
            cue_interval=cue_interval,
        )

    def text_params(self) -> int:
        d, kv = self.hidden, self.kv_heads * self.head_dim
        q = self.heads * self.head_dim
        attention = d * q + 2 * d * kv + q * d + 2 * self.head_dim  # q, k, v, o, q/k norms
        mlp = 3 * d * self.intermediate
        per_layer = attention + mlp + 2 * d  # two RMSNorms
        embeddings = self.vocab * d * (1 if self.tied_embeddings else 2)
        return self.layers * per_layer + embeddings + d

    def vision_params(self) -> int:
        """Transformer blocks plus the merger and one merger per DeepStack layer (no biases)."""
        vh, vi = self.vision_hidden, self.vision_intermediate
        blocks = self.vision_depth * (4 * vh * vh + 2 * vh * vi)
        merged = 4 * vh  # 2x2 spatial merge
        mergers = (1 + self.deepstack_layers) * (merged * merged + merged * self.hidden)
        return blocks + mergers

    def cue_modules(self) -> int:
        return len(range(0, self.layers - 1, self.cue_interval))

    def cue_module_params(self) -> int:
        """q, k, v, o (d x d each) per module, plus the shared RMSNorm pair."""
        return self.cue_modules() * 4 * self.hidden * self.hidden + 2 * self.hidden

    def params(self) -> int:
        return self.text_params() + self.vision_params()

    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2  # K and V, bf16

    def layer_activation_values(self) -> int:
        """Values one layer's forward holds per token at once (inference, bf16)."""
        return 6 * self.hidden + 2 * self.kv_heads * self.head_dim + 4 * self.intermediate

    def layer_saved_bytes(self) -> int:
        """Bytes one decoder layer saves per token for backward (fp32 weights, bf16
        autocast, sdpa); measured, see the module docstring."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return 26 * self.hidden + 8 * self.intermediate + 10 * q + 10 * kv + 8 * self.head_dim


# docs/method.md §4.
QWEN3_VL_2B = ModelShape(
    "qwen3-vl-2b",
    hidden=2048,
    intermediate=6144,
    layers=28,
    heads=16,
    kv_heads=8,
    head_dim=128,
    vocab=151_936,
    tied_embeddings=True,
    vision_depth=24,
    vision_hidden=1024,
    vision_intermediate=4096,
    deepstack_layers=3,
)
# The 8B shares the 2B's attention head layout, vocabulary and DeepStack depth.
QWEN3_VL_8B = replace(
    QWEN3_VL_2B,
    name="qwen3-vl-8b",
    hidden=4096,
    intermediate=12288,
    layers=36,
    heads=32,
    tied_embeddings=False,
    vision_depth=27,
    vision_hidden=1152,
    vision_intermediate=4304,
)


@dataclass(frozen=True)
class RunShape:
    """Lengths and batching of one step."""

    prompt_len: int = 2048
    response_len: int = 4096
    batch_size: int = 128  # rollouts per optimizer step (the paper's batch)
    micro_batch: int = 1  # rows per student forward/backward (grad accumulation)
    rollout_batch: int = 32  # rows generated at once
    teacher_micro_batch: int = 1
    grad_checkpointing: bool = True
    checkpoint_layers: int | None = None  # decoder layers checkpointed (None: all of them)
    compiled_rollout: bool = False  # --rollout-compile: the rollout's cache stays allocated
    chunked_logprobs: bool = True
    chunk_size: int = 512

    def __post_init__(self) -> None:
        for name in (
            "prompt_len",
            "response_len",
            "batch_size",
            "micro_batch",
            "rollout_batch",
            "teacher_micro_batch",
            "chunk_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.checkpoint_layers is not None and self.checkpoint_layers < 0:
            raise ValueError(f"checkpoint_layers must be >= 0, got {self.checkpoint_layers}")

    @property
    def seq_len(self) -> int:
        return self.prompt_len + self.response_len


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes of each item; ``peak`` is the larger of the two phases."""

    items: dict[str, int]
    rollout_phase: int
    update_phase: int

    @property
    def peak(self) -> int:
        return max(self.rollout_phase, self.update_phase)

    def table(self) -> str:
        lines = [f"{'item':<44}{'GB':>9}"]
        lines += [f"{name:<44}{value / GB:>9.2f}" for name, value in self.items.items()]
        lines.append(f"{'rollout phase total':<44}{self.rollout_phase / GB:>9.2f}")
        lines.append(f"{'update phase total':<44}{self.update_phase / GB:>9.2f}")
        lines.append(f"{'peak':<44}{self.peak / GB:>9.2f}")
        return "\n".join(lines)


def logits_bytes(shape: ModelShape, tokens: int, run: RunShape, *, train: bool) -> int:
    """Memory of the lm-head log-probs over ``tokens`` tokens."""
    if run.chunked_logprobs:
        buffers = 2 if train else 1  # logits chunk (+ the gradient chunk in backward)
        return min(tokens, run.chunk_size) * shape.vocab * 4 * buffers
    per_token = 2 + 4 + 4  # bf16 logits, fp32 copy, fp32 log-softmax
    if train:
        per_token += 4  # gradient of the log-softmax
    return tokens * shape.vocab * per_token


def checkpointed_layers(shape: ModelShape, run: RunShape) -> int:
    """How many of the student's decoder layers recompute their forward in backward."""
    if not run.grad_checkpointing:
        return 0
    return (
        shape.layers if run.checkpoint_layers is None else min(run.checkpoint_layers, shape.layers)
    )


def student_activation_bytes(shape: ModelShape, run: RunShape) -> int:
    """Saved tensors of the text layers, plus autocast's bf16 weight copies."""
    tokens = run.micro_batch * run.seq_len
    layer = tokens * shape.layer_saved_bytes()
    checkpointed = checkpointed_layers(shape, run)
    kept = checkpointed * tokens * shape.hidden * 4 + (shape.layers - checkpointed) * layer
    recompute = layer if checkpointed else 0  # one layer's saved tensors at a time
    return kept + recompute + 2 * shape.text_params()


def memory_plan(student: ModelShape, teacher: ModelShape, run: RunShape) -> MemoryPlan:
    """The plan for a student trained against a frozen teacher (OPD; OPSD: teacher=student)."""
    student_params = student.params() + student.cue_module_params()
    items = {
        "student weights (fp32)": student_params * 4,
        "student gradients (fp32)": student_params * 4,
        "AdamW states (2 x fp32)": student_params * 8,
        "teacher weights (bf16)": teacher.params() * 2,
    }
    static = sum(items.values())
    rollout_tokens = run.rollout_batch * run.seq_len
    items["rollout KV cache (bf16)"] = rollout_tokens * student.kv_bytes_per_token()
    items["rollout step logits (fp32)"] = run.rollout_batch * student.vocab * 4
    # Eager autocast caches a bf16 copy of each weight for the whole rollout; a compiled
    # rollout keeps bf16 copies of the decode path's weights (and its cache) for good.
    items["rollout bf16 weight copies"] = 2 * (
        student.text_params() if run.compiled_rollout else student.params()
    )
    items["student activations"] = student_activation_bytes(student, run)
    items["student log-probs"] = logits_bytes(
        student, run.micro_batch * run.seq_len, run, train=True
    )
    teacher_tokens = run.teacher_micro_batch * run.seq_len
    # Inference: about two layers' intermediates alive at once.
    items["teacher activations"] = 2 * teacher_tokens * teacher.layer_activation_values() * 2
    items["teacher log-probs"] = logits_bytes(teacher, teacher_tokens, run, train=False)
    rollout = (
        static
        + items["rollout KV cache (bf16)"]
        + items["rollout step logits (fp32)"]
        + items["rollout bf16 weight copies"]
    )
    # Teacher scoring and the student update alternate per micro-batch; take the larger.
    update = static + max(
        items["student activations"] + items["student log-probs"],
        items["teacher activations"] + items["teacher log-probs"],
    )
    if run.compiled_rollout:  # captured graphs hold the cache and the copies' addresses
        update += items["rollout KV cache (bf16)"] + items["rollout bf16 weight copies"]
    return MemoryPlan(items=items, rollout_phase=rollout, update_phase=update)


@dataclass(frozen=True)
class FitCheck:
    fits: bool
    plan: MemoryPlan
    run: RunShape
    budget: int

    def summary(self) -> str:
        verdict = "fits" if self.fits else "does NOT fit"
        return (
            f"{verdict} in {self.budget / GB:.0f} GB: peak {self.plan.peak / GB:.1f} GB with "
            f"rollout batch {self.run.rollout_batch}, micro-batch {self.run.micro_batch}, "
            f"{self.run.batch_size // self.run.micro_batch} accumulation steps"
        )


def check_fit(
    student: ModelShape,
    teacher: ModelShape,
    run: RunShape,
    *,
    device_gb: float = 80.0,
    headroom: float = 0.10,
) -> FitCheck:
    """Fit ``run`` in ``device_gb`` minus ``headroom``, lowering the rollout batch by halves
    (down to 1) when the KV cache is what does not fit. Micro-batching keeps the paper's
    batch: ``batch_size`` rollouts per step in ``batch_size / rollout_batch`` generate calls
    and ``batch_size / micro_batch`` accumulation steps."""
    if not 0 <= headroom < 1:
        raise ValueError(f"headroom must be in [0, 1), got {headroom}")
    if device_gb <= 0:
        raise ValueError(f"device_gb must be > 0, got {device_gb}")
    budget = int(device_gb * GB * (1 - headroom))
    candidate = run
    while True:
        plan = memory_plan(student, teacher, candidate)
        if plan.peak <= budget or candidate.rollout_batch == 1:
            return FitCheck(plan.peak <= budget, plan, candidate, int(device_gb * GB))
        candidate = replace(candidate, rollout_batch=max(1, candidate.rollout_batch // 2))


def fewest_checkpoint_layers(
    student: ModelShape,
    teacher: ModelShape,
    run: RunShape,
    *,
    device_gb: float,
    headroom: float = 0.10,
) -> int | None:
    """The fewest checkpointed decoder layers whose plan fits ``device_gb`` minus
    ``headroom`` (0 when nothing needs checkpointing); None when even all do not fit.

    Activation memory falls by the same amount for each layer checkpointed, so the
    answer is found by a scan from 0 (at most ``layers + 1`` plans of pure arithmetic).
    """
    budget = device_gb * GB * (1 - headroom)
    for count in range(student.layers + 1):
        candidate = replace(run, grad_checkpointing=count > 0, checkpoint_layers=count)
        if memory_plan(student, teacher, candidate).peak <= budget:
            return count
    return None


def startup_plan(
    student: ModelShape, teacher: ModelShape, run: RunShape, *, device_gb: float | None = None
) -> str:
    """The plan of a configured run, as printed when distill starts (one GPU, unsharded)."""
    plan = memory_plan(student, teacher, run)
    text = plan.table()
    text += (
        f"\ncheckpointed decoder layers: {checkpointed_layers(student, run)} of {student.layers}"
    )
    if device_gb is not None:
        verdict = "fits" if plan.peak <= device_gb * GB * 0.9 else "may NOT fit"
        text += (
            f"\n{verdict} on this {device_gb:.0f} GB device (10% headroom); to lower it: "
            "--rollout-batch-size, --grad-accum, --max-new-tokens, --checkpoint-layers"
        )
    return text


def main() -> None:
    """Print the plan for the paper's OPD setting: 2B student, 8B teacher, on 80 GB."""
    result = check_fit(QWEN3_VL_2B, QWEN3_VL_8B, RunShape(rollout_batch=128))
    print(result.plan.table())
    print(result.summary())
    fewest = fewest_checkpoint_layers(QWEN3_VL_2B, QWEN3_VL_8B, result.run, device_gb=80.0)
    print(f"fewest checkpointed decoder layers that fit: {fewest} of {QWEN3_VL_2B.layers}")


if __name__ == "__main__":
    main()
