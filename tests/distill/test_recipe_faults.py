"""distill under faults: prompts that never fit, resumes without or with damaged
checkpoints, config files of the wrong types, changed settings on resume, non-finite
steps, folder permissions and the final checkpoint."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from tiny_run import steady_metrics, tiny_config

from cuekit.cli import cli
from cuekit.distill import checkpoint as ckpt
from cuekit.distill.config import DistillConfig, load_config_file, resolve_config
from cuekit.distill.metrics import read_metrics
from cuekit.distill.recipe import DistillRecipe, run_distill
from cuekit.errors import ConfigError, CuekitError
from cuekit.outputs import exclusive_lock


def _config(shards, tmp_path, **kw) -> DistillConfig:
    return tiny_config(shards, tmp_path / "run", **kw)


# ------------------------------------------------------------- 2: no prompt fits


def test_an_epoch_without_a_usable_batch_stops_the_run(sample_shards, tmp_path):
    with pytest.raises(
        CuekitError,
        match="epoch 0 yielded no usable batch \\(9 batches\\): "
        "every prompt is longer than --max-prompt-len 10 "
        "tokens",
    ):
        run_distill(_config(sample_shards, tmp_path, max_prompt_len=10, max_steps=5))


# ------------------------------------------------------------- 5: resumes and checkpoints


def test_resume_without_a_checkpoint_does_not_duplicate_metrics(
    sample_shards, tmp_path, monkeypatch
):
    config = _config(sample_shards, tmp_path, max_steps=3, save_every=100)
    real = DistillRecipe.save

    def crash(self):  # killed before the first checkpoint was complete
        raise KeyboardInterrupt

    monkeypatch.setattr(DistillRecipe, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        run_distill(config)
    assert [r["step"] for r in read_metrics(config.run_dir)] == [1, 2, 3]
    monkeypatch.setattr(DistillRecipe, "save", real)
    run_distill(_config(sample_shards, tmp_path, max_steps=3, save_every=100, resume=True))
    assert [r["step"] for r in read_metrics(config.run_dir)] == [1, 2, 3]


def test_a_metrics_line_cut_short_does_not_stop_the_resume(tmp_path):
    """A kill or a full disk mid-append leaves half a line; the resume drops it (and the
    steps after the checkpoint) instead of failing to parse it."""
    from cuekit.distill.metrics import METRICS_FILE, truncate_metrics

    path = tmp_path / METRICS_FILE
    path.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo')
    truncate_metrics(tmp_path, 2)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]
    path.write_text('{"step": 1}\n{"step": 2}\n{"st')
    truncate_metrics(tmp_path, -1)
    assert path.read_text() == ""


def test_unfinished_checkpoint_folders_are_removed(sample_shards, tmp_path):
    config = _config(sample_shards, tmp_path, max_steps=1)
    stale = config.run_dir / ckpt.CHECKPOINTS_DIR / ".tmp-123-abc"
    (stale / "student").mkdir(parents=True)
    (stale / "student" / "model.safetensors").write_bytes(b"half")
    run_distill(config)
    assert not stale.exists()
    assert [p.name for p in (config.run_dir / ckpt.CHECKPOINTS_DIR).iterdir()] == ["step-000001"]


def test_a_truncated_checkpoint_falls_back_to_the_previous_one(sample_shards, tmp_path, caplog):
    full = _config(sample_shards, tmp_path / "full", max_steps=4, save_every=2)
    run_distill(full)
    part = _config(sample_shards, tmp_path / "part", max_steps=4, save_every=2)
    run_distill(part)
    damaged = part.run_dir / ckpt.CHECKPOINTS_DIR / "step-000004" / "student" / "model.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with caplog.at_level("WARNING", logger="cuekit.distill"):
        run_distill(
            _config(sample_shards, tmp_path / "part", max_steps=4, save_every=2, resume=True)
        )
    assert any(f"{damaged}: truncated" in m for m in caplog.messages), caplog.messages
    # it resumed from step 2 and redid steps 3 and 4 exactly
    assert steady_metrics(part.run_dir) == steady_metrics(full.run_dir)


def test_no_intact_checkpoint_names_the_damaged_file(sample_shards, tmp_path):
    config = _config(sample_shards, tmp_path, max_steps=1)
    run_distill(config)
    state = config.run_dir / ckpt.CHECKPOINTS_DIR / "step-000001" / "trainer_state.safetensors"
    state.write_bytes(state.read_bytes()[:20])
    with pytest.raises(
        CuekitError, match=f"no intact checkpoint to resume from: {state}: truncated"
    ):
        run_distill(_config(sample_shards, tmp_path, max_steps=2, resume=True))


def test_a_lost_weight_shard_of_a_sharded_save_is_a_damaged_checkpoint(tmp_path):
    """Large students save in several weight files plus an index; a file the index lists
    but the folder lacks must send the resume to the previous checkpoint, not to a
    load error."""
    from safetensors.torch import save_file

    for step in (1, 2):
        folder = tmp_path / ckpt.CHECKPOINTS_DIR / f"step-{step:06d}"
        (folder / "student").mkdir(parents=True)
        (folder / "trainer_state.json").write_text("{}")
        save_file({"x": torch.zeros(2)}, str(folder / "trainer_state.safetensors"))
        names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        for name in names:
            save_file({"w": torch.ones(3)}, str(folder / "student" / name))
        (folder / "student" / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": {"a.weight": names[0], "b.weight": names[1]}})
        )
    lost = tmp_path / ckpt.CHECKPOINTS_DIR / "step-000002" / "student" / names[1]
    lost.unlink()
    assert ckpt.checkpoint_problem(lost.parent.parent) == (
        f"{lost} is missing (listed in model.safetensors.index.json)"
    )
    assert ckpt.latest_intact_checkpoint(tmp_path) == lost.parent.parent.parent / "step-000001"


# ------------------------------------------------------------- 6: typed config files


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tensorboard: 'no'\n", "tensorboard must be true or false, got 'no'"),
        ("resume: 'false'\n", "resume must be true or false, got 'false'"),
        ("max_steps: 2.5\n", "max_steps must be an integer, got 2.5"),
        ("seed: abc\n", "seed must be an integer, got 'abc'"),
        ("lr: .nan\n", "lr must be a finite number, got nan"),
        ("cue_layers: [1, x]\n", "cue_layers must be a list of integers or null, got 'x'"),
    ],
)
def test_config_file_values_are_type_checked(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(info.value) == f"config file {path}: {message}"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"dtype": "fp16", "device": "cpu"},
            "dtype fp16 needs a CUDA device (fp16 autocast with "
            "loss scaling), but the device is 'cpu'",
        ),
        ({"dtype": "bfloat17"}, "dtype must be one of"),
        (
            {"device": "gpu"},
            "device must be auto or a torch device (cpu, cuda, cuda:1, mps...), got 'gpu'",
        ),
        ({"seed": 2**70}, f"seed must be in [0, {2**32 - 1}], got {2**70}"),
        ({"seed": -1}, f"seed must be in [0, {2**32 - 1}], got -1"),
    ],
)
def test_config_values_of_the_right_type_but_unusable_are_refused(tmp_path, settings, message):
    """A value of the right type can still lie: an unknown dtype trained silently in fp32,
    a device or seed torch refuses failed later with a bare RuntimeError / ValueError."""
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError) as info:
        resolve_config(load_config_file(path), {"shards": "s", "output": "o"})
    assert str(info.value).startswith(message)


def test_config_file_numbers_as_yaml_users_write_them(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("lr: 1e-6\nmodule_lr: 1\ntensorboard: no\nmax_steps: 7\ncue_layers: [0, 5]\n")
    settings = load_config_file(path)  # PyYAML reads 1e-6 as a string, `no` as False
    assert settings == {
        "lr": 1e-6,
        "module_lr": 1.0,
        "tensorboard": False,
        "max_steps": 7,
        "cue_layers": (0, 5),
    }
    assert isinstance(settings["module_lr"], float)
    config = resolve_config(settings, {"shards": "s", "output": "o"})
    assert (config.lr, config.tensorboard, config.max_steps) == (1e-6, False, 7)


def test_python_settings_of_the_wrong_type(tmp_path):
    with pytest.raises(ConfigError, match="settings: max_steps must be an integer, got 2.5"):
        _config("shards", tmp_path, max_steps=2.5)
    with pytest.raises(
        ConfigError, match="settings: lr must be a finite number, got '1e-3' \\(str\\)"
    ):
        _config("shards", tmp_path, lr="1e-3")


# ------------------------------------------------------------- 7: changed settings on resume


def test_resume_refuses_changed_training_settings(sample_shards, tmp_path):
    run_distill(_config(sample_shards, tmp_path, max_steps=1))
    saved_yaml = (tmp_path / "run" / "config.yaml").read_text()
    with pytest.raises(
        ConfigError,
        match=r"--resume with changed training settings \(loss "
        r"'k1' -> 'k3', lr 0.001 -> 0.002\).*"
        r"--allow-config-change",
    ):
        run_distill(_config(sample_shards, tmp_path, max_steps=2, resume=True, lr=2e-3, loss="k3"))
    assert (tmp_path / "run" / "config.yaml").read_text() == saved_yaml  # still the truth


def test_an_allowed_change_takes_effect_and_is_recorded(sample_shards, tmp_path):
    run_distill(_config(sample_shards, tmp_path, max_steps=1))
    records = run_distill(
        _config(
            sample_shards,
            tmp_path,
            max_steps=2,
            resume=True,
            lr=2e-3,
            module_lr=3e-2,
            allow_config_change=True,
        )
    )
    assert [r["step"] for r in records] == [2]
    assert (records[0]["lr"], records[0]["module_lr"]) == (2e-3, 3e-2)
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert (saved["lr"], saved["module_lr"]) == (2e-3, 3e-2)


def test_operational_settings_may_change_on_resume(sample_shards, tmp_path):
    run_distill(_config(sample_shards, tmp_path, max_steps=1))
    records = run_distill(
        _config(sample_shards, tmp_path, max_steps=2, resume=True, score_chunk_size=64, log_every=2)
    )
    assert [r["step"] for r in records] == [2]


# ------------------------------------------------------------- 8: non-finite training


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), 1e2])
def test_learning_rates_that_cannot_train_are_refused(tmp_path, lr):
    with pytest.raises(ConfigError, match="lr"):
        _config("shards", tmp_path, lr=lr)


def test_cli_refuses_a_nan_learning_rate(tmp_path):
    result = CliRunner().invoke(
        cli, ["distill", "--shards", "s", "--output", str(tmp_path / "o"), "--lr", "nan"]
    )
    assert result.exit_code == 2
    assert "command line: lr must be a finite number, got nan" in result.output


def _nan_loss_at(recipe: DistillRecipe, steps: set[int]) -> None:
    real = recipe.loss_fn

    def loss_fn(*args, **kwargs):
        loss, metrics = real(*args, **kwargs)
        if recipe.step + 1 in steps:
            loss = loss * float("nan")
        return loss, metrics

    recipe.loss_fn = loss_fn


def _train_expecting(config: DistillConfig, damage, message: str) -> None:
    """Set up, apply ``damage(recipe)``, train: the run must stop with ``message``."""
    recipe = DistillRecipe(config)
    recipe.setup()
    damage(recipe)
    try:
        with pytest.raises(CuekitError, match=message):
            recipe.train()
    finally:
        recipe.cleanup()


def test_a_non_finite_step_is_skipped_and_counted(sample_shards, tmp_path):
    recipe = DistillRecipe(_config(sample_shards, tmp_path, max_steps=3))
    recipe.setup()
    _nan_loss_at(recipe, {2})
    weights: list[dict[str, torch.Tensor]] = []
    real_step = recipe.train_step

    def step(batch):
        weights.append({k: v.clone() for k, v in recipe.student.state_dict().items()})
        return real_step(batch)

    recipe.train_step = step
    try:
        records = recipe.train()
    finally:
        recipe.cleanup()
    assert [(r["step"], r["skipped_update"], r["nonfinite_steps"]) for r in records] == [
        (1, 0, 0),
        (2, 1, 1),
        (3, 0, 1),
    ]
    after_skip = {k: v for k, v in recipe.student.state_dict().items()}
    assert all(torch.isfinite(v).all() for v in after_skip.values())
    # step 2 changed nothing: the weights before step 3 equal those before step 2
    assert all(torch.equal(weights[1][k], weights[2][k]) for k in weights[1])
    assert [r["nonfinite_steps"] for r in read_metrics(recipe.run_dir)] == [0, 1, 1]


def test_non_finite_steps_in_a_row_stop_the_run(sample_shards, tmp_path):
    _train_expecting(
        _config(sample_shards, tmp_path, max_steps=6, max_nonfinite_steps=2),
        lambda recipe: _nan_loss_at(recipe, {2, 3, 4}),
        "step 3: 2 steps in a row had a non-finite loss or gradient .* Lower --lr",
    )


# ------------------------------------------------------------- 10, 14, 15: folder and saves


def test_a_second_run_on_the_same_folder_is_refused(sample_shards, tmp_path):
    config = _config(sample_shards, tmp_path, max_steps=1)
    with exclusive_lock(config.run_dir, ".cuekit-distill.lock", "distill"):
        with pytest.raises(CuekitError, match="is in use by another `cuekit distill` run"):
            run_distill(config)


def test_checkpoints_respect_the_umask(sample_shards, tmp_path):
    previous = os.umask(0o022)
    try:
        run_distill(_config(sample_shards, tmp_path, max_steps=1))
    finally:
        os.umask(previous)
    folder = tmp_path / "run" / ckpt.CHECKPOINTS_DIR / "step-000001"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    student = tmp_path / "run" / "student"
    for path in [*folder.rglob("*"), *student.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path


def test_the_final_checkpoint_is_written_once(sample_shards, tmp_path, monkeypatch):
    written = []
    real = ckpt.save_checkpoint

    def counting(run_dir, step, **kwargs):
        written.append(step)
        return real(run_dir, step, **kwargs)

    monkeypatch.setattr("cuekit.distill.resume.save_checkpoint", counting)
    run_distill(_config(sample_shards, tmp_path, max_steps=4, save_every=2))
    assert written == [2, 4]
    run_distill(_config(sample_shards, tmp_path, max_steps=4, save_every=2, resume=True))
    assert written == [2, 4]  # nothing left to do: nothing rewritten


def test_the_global_batch_is_what_must_match_across_world_sizes():
    from cuekit.distill.config import changed_settings

    config = _config("s", Path("."), batch_size=4, lr=1e-3)
    saved = {**config.to_dict(), "batch_size": 2}
    assert changed_settings(saved, config, saved_world_size=2) == {}
    assert changed_settings(saved, config) == {"global batch_size": (2, 4)}
    cosine = _config("s", Path("."), lr_schedule="cosine")
    assert changed_settings({**cosine.to_dict(), "max_steps": 9}, cosine) == {"max_steps": (9, 2)}


def test_a_checkpoint_on_a_full_disk_names_the_file_and_leaves_nothing(
    sample_shards, tmp_path, monkeypatch
):
    from cuekit.errors import OutputError

    def full(tensors, filename, metadata=None):
        raise OSError(28, "No space left on device", filename)

    monkeypatch.setattr(ckpt, "save_file", full)
    config = _config(sample_shards, tmp_path, max_steps=1)
    with pytest.raises(
        OutputError,
        match="cannot write the output .*trainer_state.safetensors: No space left on device",
    ):
        run_distill(config)
    assert list((config.run_dir / ckpt.CHECKPOINTS_DIR).iterdir()) == []


def test_diverged_weights_stop_with_a_hint_instead_of_a_sampler_crash(sample_shards, tmp_path):
    def diverge(recipe: DistillRecipe) -> None:
        with torch.no_grad():
            recipe.student.lm_head.weight.fill_(float("inf"))

    _train_expecting(
        _config(sample_shards, tmp_path, max_steps=2),
        diverge,
        "step 1: the student's token probabilities are inf/NaN, so its weights have diverged",
    )
