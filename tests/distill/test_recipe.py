"""The distill recipe end to end on tiny-random: losses, learning signal, resume, errors."""

from __future__ import annotations

import json
import logging

import pytest
import torch
import yaml
from click.testing import CliRunner
from tiny_run import VOLATILE, steady_metrics, tiny_config

from cuekit.cli import cli
from cuekit.distill.config import DistillConfig, load_config_file, resolve_config
from cuekit.distill.cue_module import get_cue_module, load_student
from cuekit.distill.metrics import read_metrics
from cuekit.distill.recipe import DistillRecipe, run_distill
from cuekit.errors import ConfigError, CuekitError, ModelLoadError

STEP_KEYS = {
    "step",
    "loss",
    "reverse_kl",
    "student_lp",
    "teacher_lp",
    "clip_frac",
    "response_len",
    "grad_norm",
    "lr",
    "module_lr",
} | VOLATILE


def _config(shards, tmp_path, **kw) -> DistillConfig:
    # this file's runs generate up to 12 new tokens (the tiny run's default is 8)
    return tiny_config(shards, tmp_path / "run", **{"max_new_tokens": 12, **kw})


@pytest.mark.parametrize("loss", ["k1", "k3", "forward-kl-topk", "jsd"])
def test_every_loss_runs_end_to_end(sample_shards, tmp_path, loss):
    config = _config(
        sample_shards, tmp_path, loss=loss, topk=8, rollouts_per_prompt=2, grad_accum=2
    )
    records = run_distill(config)
    assert [r["step"] for r in records] == [1, 2]
    logged = read_metrics(config.run_dir)
    assert [r["step"] for r in logged] == [1, 2]
    for record in logged:
        assert STEP_KEYS <= set(record), STEP_KEYS - set(record)
        assert record["rollouts"] == 8  # 4 prompts x 2 rollouts
        assert all(
            isinstance(record[k], float) and record[k] == record[k]  # not NaN
            for k in ("loss", "reverse_kl", "grad_norm")
        )
        assert 0 < record["response_len"] <= 12
    student, processor = load_student(config.run_dir / "student")
    assert get_cue_module(student) is not None
    saved = yaml.safe_load((config.run_dir / "config.yaml").read_text())
    assert saved["loss"] == loss and saved["student"] == "tiny-random"


def test_student_changes_and_teacher_stays_frozen(sample_shards, tmp_path):
    recipe = DistillRecipe(_config(sample_shards, tmp_path, max_steps=1))
    recipe.setup()
    teacher_before = {k: v.clone() for k, v in recipe.teacher.state_dict().items()}
    module_o_before = [p.clone() for p in get_cue_module(recipe.student).parameters()]
    recipe.train()
    recipe.cleanup()
    for key, value in recipe.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert not all(
        torch.equal(a, b)
        for a, b in zip(module_o_before, get_cue_module(recipe.student).parameters(), strict=True)
    )
    assert all(not p.requires_grad for p in recipe.teacher.parameters())
    groups = {g["name"]: g["lr"] for g in recipe.optimizer.param_groups}
    assert groups == {"backbone": 1e-3, "cue_module": 1e-2}


def test_reverse_kl_falls_on_a_held_out_batch(sample_shards, tmp_path):
    from cuekit.distill.tiny import build_tiny_qwen3_vl

    # A stronger-teacher (OPD) setting: another random tiny model, so the student has
    # something to learn. top-k = the whole vocabulary makes forward-kl-topk the exact
    # forward KL, whose low-variance gradient shows the signal within 30 steps.
    teacher, processor = build_tiny_qwen3_vl(seed=1)
    teacher.save_pretrained(tmp_path / "teacher")
    processor.save_pretrained(tmp_path / "teacher")
    vocab = teacher.config.text_config.vocab_size
    config = _config(
        sample_shards,
        tmp_path,
        max_steps=30,
        eval_shards=str(sample_shards),
        eval_every=10,
        eval_batches=1,
        loss="forward-kl-topk",
        topk=vocab,
        teacher=str(tmp_path / "teacher"),
        rollouts_per_prompt=2,
        max_new_tokens=10,
    )
    run_distill(config)
    evals = [r["eval_reverse_kl"] for r in read_metrics(config.run_dir) if "eval_reverse_kl" in r]
    assert len(evals) == 4  # steps 0, 10, 20, 30
    assert evals[0] > 0.01
    assert evals[-1] < 0.25 * evals[0], evals
    assert evals == sorted(evals, reverse=True), evals


def test_resume_reproduces_the_uninterrupted_metrics(sample_shards, tmp_path):
    full = _config(sample_shards, tmp_path / "full", max_steps=4, save_every=2)
    run_distill(full)
    part = _config(sample_shards, tmp_path / "part", max_steps=2, save_every=2)
    run_distill(part)
    resumed = _config(sample_shards, tmp_path / "part", max_steps=4, save_every=2, resume=True)
    run_distill(resumed)
    assert steady_metrics(resumed.run_dir) == steady_metrics(full.run_dir)


def test_existing_run_needs_resume(sample_shards, tmp_path):
    run_distill(_config(sample_shards, tmp_path, max_steps=1))
    with pytest.raises(ConfigError, match="already holds checkpoints; pass --resume"):
        run_distill(_config(sample_shards, tmp_path, max_steps=1))


def test_config_file_and_flags(tmp_path, sample_shards):
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump(
            {"batch-size": 2, "lr": 5e-4, "loss": "k3", "shards": str(sample_shards), "output": "x"}
        )
    )
    file_settings = load_config_file(path)
    config = resolve_config(file_settings, {"lr": 1e-2, "max_steps": 3})
    assert (config.batch_size, config.lr, config.loss, config.max_steps) == (2, 1e-2, "k3", 3)
    assert config.module_lr == DistillConfig.module_lr  # untouched default
    path.write_text("bogus_setting: 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'bogus_setting'"):
        load_config_file(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config_file(path)


def test_cli_flags_override_the_file_and_config_is_saved(tmp_path, sample_shards):
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "student": "tiny-random",
                "batch_size": 4,
                "lr": 5e-4,
                "max_new_tokens": 8,
                "max_steps": 5,
                "tensorboard": False,
            }
        )
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        [
            "distill",
            "--config",
            str(path),
            "--shards",
            str(sample_shards),
            "--output",
            str(out),
            "--max-steps",
            "1",
            "--lr",
            "0.002",
        ],
    )
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["max_steps"], saved["lr"], saved["batch_size"]) == (1, 0.002, 4)
    assert saved["max_new_tokens"] == 8 and saved["tensorboard"] is False
    assert "distill: 1 steps; training reverse-KL estimate" in result.output


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"loss": "kl"}, "loss must be one of k1, k3, forward-kl-topk, jsd"),
        ({"privilege": "everything"}, "privilege must be one of cue, answer, none"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"grad_accum": 9}, "grad_accum (9) cannot exceed the rollouts per step (4)"),
        ({"top_p": 0}, "0 < top_p <= 1"),
        ({"eval_every": 2}, "eval_every needs eval_shards"),
        ({"checkpoint_layers": -1}, "checkpoint_layers must be >= 0, got -1"),
        (
            {"rollout_engine": "vllm"},
            "rollout_engine must be one of cuekit, cuekit-continuous, generate, generate-static",
        ),
        (
            {"rollout_engine": "generate", "rollout_compile": True},
            "rollout_compile needs rollout_engine cuekit, not 'generate'",
        ),
    ],
)
def test_bad_settings(tmp_path, kw, fragment):
    with pytest.raises(ConfigError) as info:
        _config("shards", tmp_path, **kw)
    assert fragment in str(info.value)


def test_long_prompts_are_skipped_not_truncated(sample_shards, tmp_path, caplog):
    # Prompts here are ~60-150 tokens with an image; 90 keeps some and skips others.
    config = _config(sample_shards, tmp_path, max_steps=2, max_prompt_len=90)
    with caplog.at_level(logging.WARNING, logger="cuekit.distill"):
        records = run_distill(config)
    assert records[-1]["skipped_long_prompts"] > 0
    assert any("longer than --max-prompt-len 90" in m for m in caplog.messages)
    assert all(r["rollouts"] <= 4 for r in records)


def test_model_that_is_not_qwen3_vl(tmp_path, sample_shards):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50)).save_pretrained(
        folder
    )
    with pytest.raises(ModelLoadError, match="is a gpt2, not a Qwen3-VL"):
        run_distill(_config(sample_shards, tmp_path, student=str(folder)))


def test_failed_download_names_the_fix(tmp_path, sample_shards, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(
        cli,
        [
            "distill",
            "--student",
            "org/not-cached-model",
            "--shards",
            str(sample_shards),
            "--output",
            str(tmp_path / "r"),
            "--no-tensorboard",
        ],
    )
    assert result.exit_code == 1
    assert "HF_HUB_OFFLINE" in result.output and "local folder" in result.output
    assert "Traceback" not in result.output


def test_out_of_memory_gives_a_hint(sample_shards, tmp_path, monkeypatch):
    def explode(self, batch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(DistillRecipe, "train_step", explode)
    with pytest.raises(CuekitError, match="reduce --batch-size.*--grad-checkpointing"):
        run_distill(_config(sample_shards, tmp_path))


def test_metrics_lines_are_json(sample_shards, tmp_path):
    config = _config(sample_shards, tmp_path, max_steps=1)
    run_distill(config)
    lines = (config.run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["step"] == 1


def test_privileged_hint_per_setting():
    from cuekit.distill.prompts import privileged_hint

    assert privileged_hint("cue", "[Hint]: point A (top left)", "5") == "[Hint]: point A (top left)"
    assert privileged_hint("cue", "", "5") is None  # no cue: the teacher sees the plain prompt
    assert privileged_hint("answer", "[Hint]: x", "5") == "The answer is 5."
    assert privileged_hint("answer", "[Hint]: x", None) is None
    assert privileged_hint("none", "[Hint]: x", "5") is None


@pytest.mark.parametrize("privilege", ["answer", "none"])
def test_other_privileges_train(sample_shards, tmp_path, privilege):
    records = run_distill(_config(sample_shards, tmp_path, privilege=privilege, max_steps=1))
    assert records[0]["step"] == 1


def test_teacher_prompt_carries_the_hint(sample_shards, tmp_path):
    recipe = DistillRecipe(_config(sample_shards, tmp_path, max_steps=1))
    recipe.setup()
    batch = next(recipe.batches())
    prompts = recipe.step_batch(batch)
    recipe.cleanup()
    assert [c.hint for c in prompts.chats] == [s.hint or None for s in batch.samples]
    # Multiple-choice questions show their options, as eval and audit prompts do.
    for question, sample in zip(
        [c.student_text for c in prompts.chats], batch.samples, strict=True
    ):
        record = sample.record.sample
        options = "".join(f"\n({chr(65 + i)}) {c}" for i, c in enumerate(record.choices or []))
        expected = f"{record.question}\nChoices:{options}" if record.choices else record.question
        assert question == expected


def test_freeze_vision_leaves_the_vision_tower_untouched(sample_shards, tmp_path):
    recipe = DistillRecipe(_config(sample_shards, tmp_path, max_steps=2, freeze_vision=True))
    recipe.setup()
    before = {k: v.clone() for k, v in recipe.student.model.visual.state_dict().items()}
    lm_before = recipe.student.lm_head.weight.clone()
    recipe.train()
    recipe.cleanup()
    for key, value in recipe.student.model.visual.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not torch.equal(recipe.student.lm_head.weight, lm_before)


def test_micro_batches_group_rows_by_response_length(sample_shards, tmp_path):
    recipe = DistillRecipe(_config(sample_shards, tmp_path, grad_accum=3, batch_size=6))
    chunks = recipe.micro_batches(torch.tensor([3, 9, 1, 7, 7, 2]))
    assert chunks == [([1, 3], 1.0), ([4, 0], 1.0), ([5, 2], 1.0)]


def test_tensorboard_receives_the_step_scalars(sample_shards, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = _config(sample_shards, tmp_path, max_steps=2, tensorboard=True)
    run_distill(config)
    events = EventAccumulator(str(config.run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"loss", "reverse_kl", "tokens_per_s", "time_rollout"} <= set(scalars)
    logged = read_metrics(config.run_dir)
    assert [e.step for e in events.Scalars("loss")] == [1, 2]
    assert [round(e.value, 5) for e in events.Scalars("loss")] == [
        round(r["loss"], 5) for r in logged
    ]


def test_wandb_is_opt_in_and_names_its_install(sample_shards, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb":
            raise ImportError("No module named 'wandb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    with pytest.raises(ConfigError, match="--wandb needs `pip install wandb`"):
        run_distill(_config(sample_shards, tmp_path, max_steps=1, wandb=True))


def _one_step(config):
    recipe = DistillRecipe(config)
    recipe.setup()
    try:
        records = recipe.train()
        weights = {k: v.clone() for k, v in recipe.student.state_dict().items()}
    finally:
        recipe.cleanup()
    return recipe, records, weights


def test_selective_checkpointing_flags_the_first_layers_and_changes_no_numbers(
    sample_shards, tmp_path, caplog
):
    plain_recipe, plain, plain_weights = _one_step(
        _config(sample_shards, tmp_path / "plain", max_steps=1, grad_checkpointing=False)
    )
    assert plain_recipe.checkpoint_layers == 0
    caplog.set_level(logging.INFO, logger="cuekit.distill")
    recipe, records, weights = _one_step(
        _config(
            sample_shards,
            tmp_path / "some",
            max_steps=1,
            grad_checkpointing=True,
            checkpoint_layers=1,
        )
    )
    layers = recipe.student.model.language_model.layers
    assert [layer.gradient_checkpointing for layer in layers] == [True] + [False] * (
        len(layers) - 1
    )
    assert recipe.checkpoint_layers == 1
    assert f"activation checkpointing: 1 of {len(layers)} decoder layers" in caplog.text
    # Recomputing a layer's forward gives the same loss and the same update.
    for key in ("loss", "reverse_kl", "grad_norm"):
        assert records[0][key] == pytest.approx(plain[0][key], rel=1e-5, abs=1e-7), key
    for name, value in weights.items():
        torch.testing.assert_close(value, plain_weights[name], rtol=1e-5, atol=1e-6)


def test_checkpointing_every_layer_on_cpu_by_default(sample_shards, tmp_path):
    recipe = DistillRecipe(_config(sample_shards, tmp_path, max_steps=1, grad_checkpointing=True))
    recipe.setup()
    recipe.cleanup()
    layers = recipe.student.model.language_model.layers
    assert all(layer.gradient_checkpointing for layer in layers)  # no GPU memory to plan
    assert recipe.checkpoint_layers == len(layers)


def test_continuous_rollouts_train_through_the_recipe(sample_shards, tmp_path):
    config = _config(
        sample_shards,
        tmp_path,
        rollouts_per_prompt=2,
        rollout_batch_size=3,
        rollout_engine="cuekit-continuous",
    )
    records = run_distill(config)
    assert [r["step"] for r in records] == [1, 2]
    for record in read_metrics(config.run_dir):
        assert record["rollouts"] == 8  # 4 prompts x 2, through 3 refilled slots
        assert 0 < record["response_len"] <= 12
        assert all(record[k] == record[k] for k in ("loss", "reverse_kl", "grad_norm"))


def test_the_gpu_recipe_shape_runs_on_cpu_with_every_rollout_engine(
    sample_shards, tmp_path, monkeypatch
):
    """The recipe as it runs on a GPU: fp32 student under bf16 autocast (CPU autocast
    here), a bf16 teacher, every decoder layer checkpointed. This is where transformers
    5.1x broke static caches and checkpointed cue hooks; the losses must not depend on
    the rollout engine."""
    monkeypatch.setattr(
        DistillRecipe, "autocast", lambda self: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    losses = {}
    for engine in ("cuekit", "generate-static", "generate"):
        recipe = DistillRecipe(
            _config(
                sample_shards,
                tmp_path / engine,
                max_steps=1,
                grad_checkpointing=True,
                rollout_engine=engine,
                rollouts_per_prompt=2,
                rollout_batch_size=3,
            )
        )
        recipe.setup()
        recipe.teacher.to(torch.bfloat16)
        try:
            records = recipe.train()
        finally:
            recipe.cleanup()
        assert all(
            layer.gradient_checkpointing for layer in recipe.student.model.language_model.layers
        )
        losses[engine] = [record["loss"] for record in records]
        assert all(loss == loss for loss in losses[engine])  # not NaN
    assert losses["cuekit"] == losses["generate-static"] == losses["generate"]


def test_both_models_are_scored_at_the_rollout_temperature(sample_shards, tmp_path, monkeypatch):
    """At T != 1 the student's log-probs must be those of the policy that sampled."""
    from cuekit.distill import recipe as recipe_module

    seen = []
    real = recipe_module.score_responses

    def recording(*args, **kwargs):
        seen.append(kwargs["temperature"])
        return real(*args, **kwargs)

    monkeypatch.setattr(recipe_module, "score_responses", recording)
    run_distill(_config(sample_shards, tmp_path, max_steps=1, temperature=0.6))
    assert seen and set(seen) == {0.6}


def test_forward_kl_topk_normalisation_is_a_setting(tmp_path):
    base = {"shards": "s", "output": str(tmp_path), "loss": "forward-kl-topk"}
    assert DistillConfig(**base).loss_settings() == {"lp_floor": -10.0, "renormalize": True}
    raw = resolve_config({"topk_renormalize": False, **base}, {})
    assert raw.topk_renormalize is False
    assert DistillConfig(**base, topk_renormalize=False).loss_settings()["renormalize"] is False
    result = CliRunner().invoke(cli, ["distill", "--help"])
    assert "--topk-renormalize / --no-topk-renormalize" in result.output


def test_the_student_can_train_without_the_cue_module(sample_shards, tmp_path):
    config = _config(sample_shards, tmp_path, max_steps=1, cue_module=False)
    records = run_distill(config)
    assert records[0]["step"] == 1 and records[0]["loss"] == records[0]["loss"]
    student, _ = load_student(config.run_dir / "student")
    assert get_cue_module(student) is None
    assert not (config.run_dir / "student" / "cue_module.json").exists()


def test_opsd_without_privilege_has_exactly_zero_k1_advantage_at_step_0(
    sample_shards, tmp_path, monkeypatch
):
    """The teacher is the student's frozen base and sees nothing more: nothing to learn."""
    from cuekit.distill import recipe as recipe_module

    advantages = []
    real = recipe_module.get_loss

    def recording_loss(name, **settings):
        loss_fn = real(name, **settings)

        def wrapped(student_lp, teacher_lp, mask, **kwargs):
            advantages.append(((teacher_lp - student_lp.detach()) * mask).abs().max().item())
            return loss_fn(student_lp, teacher_lp, mask, **kwargs)

        return wrapped

    monkeypatch.setattr(recipe_module, "get_loss", recording_loss)
    records = run_distill(
        _config(sample_shards, tmp_path, max_steps=1, teacher="self", privilege="none", loss="k1")
    )
    assert advantages and max(advantages) == 0.0
    assert records[0]["loss"] == 0.0 and records[0]["reverse_kl"] == 0.0
    assert records[0]["grad_norm"] == 0.0


def test_marks_reach_the_teacher_in_distill_and_audit(tmp_path, monkeypatch):
    """--cue-style marks: the teacher sees the marked copy, the student the original."""
    import cuekit.evaluate.audit as audit
    from cuekit.datasets.sources import SourceSpec
    from cuekit.evaluate.inputs import iter_cue_items
    from cuekit.grounding.base import DetectorOptions
    from cuekit.pipelines.extract.run import ExtractConfig, run_extract
    from cuekit.pipelines.shard.run import ShardSettings, shard

    run_extract(
        ExtractConfig(
            source=SourceSpec(dataset="sample"),
            output=tmp_path / "ex",
            detectors=("annotations",),
            detector=DetectorOptions(),
            cue_style="marks",
            limit=8,
        )
    )
    shard(tmp_path / "ex", tmp_path / "shards", ShardSettings(maxcount=8))
    recipe = DistillRecipe(_config(tmp_path / "shards", tmp_path, max_steps=1, shuffle_buffer=0))
    recipe.setup()
    try:
        batch = next(recipe.batches())
        prompts = recipe.step_batch(batch)
    finally:
        recipe.cleanup()
    marked = [s for s in batch.samples if s.marked_image is not None]
    assert marked, "the sample set should give some samples marks"
    for sample, chat in zip(batch.samples, prompts.chats, strict=True):
        assert chat.student_images == sample.images
        if sample.marked_image is None:
            assert chat.teacher_images == sample.images
            continue
        index = sample.record.cue.marked_image_index
        assert index is not None and chat.hint == sample.hint
        assert chat.teacher_images[index] is sample.marked_image
        others = [im for i, im in enumerate(chat.teacher_images) if i != index]
        assert others == [im for i, im in enumerate(sample.images) if i != index]

    seen = []

    def capture(model, processor, pairs, targets, *, chunk_size):
        seen.extend(pairs)
        return [audit.Advantage([0.0], 0.0, 0.0) for _ in pairs]

    monkeypatch.setattr(audit, "pair_advantage", capture)
    audit.run_audit(
        audit.AuditConfig(
            input=str(tmp_path / "ex"),
            output=tmp_path / "audit",
            teacher="tiny-random",
            plots=False,
        )
    )
    # audit scores every sample with a reference answer, in id order
    items = [item for item in iter_cue_items(tmp_path / "ex") if item.record.sample.answer]
    assert len(seen) == len(items) and any(item.marked_bytes for item in items)
    for item, chat in zip(items, seen, strict=True):  # both in id order
        assert chat.hint == (item.hint or None)
        assert [im.tobytes() for im in chat.student_images] == [
            im.tobytes() for im in item.images()
        ]
        expected = item.images()
        if item.marked_bytes is not None:
            expected[item.marked_index] = item.marked()
        assert [im.tobytes() for im in chat.teacher_images] == [im.tobytes() for im in expected]


def test_fp16_loss_scaling_unscales_before_clipping_and_checkpoints_its_scale(
    sample_shards, tmp_path
):
    """--dtype fp16 trains under a GradScaler (on CUDA; the CPU scaler stands in here).
    Gradients are unscaled before clipping, so a scaled step is the unscaled step (a
    power-of-two scale is exact in fp32); the scale is saved, so a resume keeps it."""
    records = {}
    for name in ("plain", "scaled"):
        recipe = DistillRecipe(
            _config(sample_shards, tmp_path / name, max_steps=1, max_grad_norm=0.5)
        )
        recipe.setup()
        if name == "scaled":
            recipe.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
        try:
            records[name] = recipe.train()[0]
        finally:
            recipe.cleanup()
    assert records["scaled"]["grad_norm"] == records["plain"]["grad_norm"]
    assert records["scaled"]["loss"] == records["plain"]["loss"]
    from cuekit.distill.checkpoint import latest_checkpoint, load_trainer_state

    saved = load_trainer_state(latest_checkpoint(tmp_path / "scaled" / "run"))
    assert saved.extra["grad_scaler"]["scale"] == 2.0**10
    assert (
        "grad_scaler" not in load_trainer_state(latest_checkpoint(tmp_path / "plain" / "run")).extra
    )


# The schedule follows the step counter, so it advances on a skipped update too; when the
# skipped update is the run's first, torch warns that the scheduler stepped first.
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_a_loss_scale_overflow_is_skipped_without_counting_as_divergence(sample_shards, tmp_path):
    """A finite loss with inf gradients under fp16 loss scaling means the scale was too
    high: the step is skipped and the scale lowered, and the non-finite guard (which stops
    runs that diverge) does not count it."""
    recipe = DistillRecipe(_config(sample_shards, tmp_path, max_steps=2, max_nonfinite_steps=1))
    recipe.setup()
    recipe.scaler = torch.amp.GradScaler("cpu", init_scale=float("inf"))  # grads overflow
    try:
        records = recipe.train()
    finally:
        recipe.cleanup()
    assert [r["skipped_update"] for r in records] == [1, 1]
    assert [r["nonfinite_steps"] for r in records] == [0, 0]
    assert all(r["loss"] == r["loss"] for r in records)  # the loss itself was finite
