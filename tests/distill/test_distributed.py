"""Distill over 2 CPU processes (gloo, FSDP2) against one process on the same global batch.

The 2-process side runs ``tests/distill/distributed_worker.py`` under torchrun; the
reference runs in this process. Rollouts are greedy so each sample's response is the same
whichever rank (and batch) holds it; everything else is the recipe's own code path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cuekit.distill import distributed as dd
from cuekit.distill.checkpoint import latest_checkpoint, load_trainer_state
from cuekit.distill.recipe import DistillRecipe
from cuekit.pipelines.read.reader import ShardReader

sys.path.insert(0, str(Path(__file__).parent))
from distributed_worker import full_grads, greedy, rank_batch, step_config  # noqa: E402

WORKER = Path(__file__).with_name("distributed_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _torchrun(torchrun, child_env, *args: str) -> None:
    done = subprocess.run(
        [*torchrun(2), str(WORKER), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]


@pytest.fixture(scope="module")
def single_run(sample_shards, tmp_path_factory):
    """One process, the whole global batch, one step, then a checkpoint."""
    root = tmp_path_factory.mktemp("single")
    recipe = DistillRecipe(step_config(str(sample_shards), str(root / "run"), 1))
    recipe.setup()
    greedy(recipe)
    initial = {k: v.detach().clone() for k, v in recipe.student.state_dict().items()}
    record = recipe.train_step(rank_batch(str(sample_shards), 0, 1))
    grads = full_grads(recipe.student)
    weights = {k: v.detach().clone() for k, v in recipe.student.state_dict().items()}
    optimizer = recipe.optimizer.state_dict()
    recipe.save()
    recipe.cleanup()
    return {
        "record": record,
        "grads": grads,
        "weights": weights,
        "optimizer": optimizer,
        "initial": initial,
        "run": root / "run",
    }


@pytest.fixture(scope="module")
def two_process_run(sample_shards, tmp_path_factory, torchrun, child_env):
    root = tmp_path_factory.mktemp("two")
    _torchrun(torchrun, child_env, "step", str(sample_shards), str(root / "run"), str(root))
    return {
        "record": json.loads((root / "record.json").read_text()),
        "grads": load_file(str(root / "grads.safetensors")),
        "weights": load_file(str(root / "weights.safetensors")),
        "run": root / "run",
    }


def test_one_step_matches_one_process_on_the_global_batch(single_run, two_process_run):
    one, two = single_run["record"], two_process_run["record"]
    assert two["rollouts"] == one["rollouts"] == 4
    assert two["response_tokens"] == one["response_tokens"]  # same greedy rollouts
    for key in ("loss", "reverse_kl", "student_lp", "teacher_lp", "grad_norm", "response_len"):
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-7), key
    assert set(two_process_run["grads"]) == set(single_run["grads"])
    moved = 0
    for name, grad in single_run["grads"].items():
        torch.testing.assert_close(
            two_process_run["grads"][name], grad, rtol=1e-4, atol=1e-7, msg=name
        )
        moved += int(grad.abs().max() > 0)
    assert moved > 10  # the check covers real gradients, not only zeros
    # The update is Adam's first step on those gradients from the same start: lr * g /
    # (|g| + eps). (Comparing the two runs' weights directly would amplify gradient float
    # noise 1e5-fold wherever |g| < eps = 1e-8.)
    assert set(two_process_run["weights"]) == set(single_run["weights"])
    for name, grad in two_process_run["grads"].items():
        lr = 1e-2 if name.startswith("cue_module.") else 1e-3
        expected = single_run["initial"][name] - lr * grad / (grad.abs() + 1e-8)
        torch.testing.assert_close(
            two_process_run["weights"][name], expected, rtol=0, atol=1e-6, msg=name
        )
    assert torch.equal(
        two_process_run["weights"]["lm_head.weight"],  # tied, saved once
        two_process_run["weights"]["model.language_model.embed_tokens.weight"],
    )


def test_two_process_checkpoint_loads_in_one_process(sample_shards, single_run, two_process_run):
    recipe = DistillRecipe(
        step_config(str(sample_shards), str(two_process_run["run"]), 1, resume=True)
    )
    recipe.setup()
    try:
        assert recipe.step == 1
        state = recipe.student.state_dict()
        for name, weight in two_process_run["weights"].items():
            assert torch.equal(state[name], weight), name
        # Adam's moments after one step are (1 - b1) g and (1 - b2) g^2 of the 2-process
        # gradients: the sharded state came back whole and in the right parameter order.
        names = {id(p): n for n, p in recipe.student.named_parameters()}
        order = [names[id(p)] for g in recipe.optimizer.param_groups for p in g["params"]]
        loaded = recipe.optimizer.state_dict()["state"]
        assert len(loaded) == len(order) == len(single_run["optimizer"]["state"])
        for index, name in enumerate(order):
            grad = two_process_run["grads"][name]
            torch.testing.assert_close(
                loaded[index]["exp_avg"], 0.1 * grad, rtol=1e-5, atol=1e-12, msg=name
            )
            torch.testing.assert_close(
                loaded[index]["exp_avg_sq"], 0.001 * grad**2, rtol=1e-5, atol=1e-16, msg=name
            )
            assert float(loaded[index]["step"]) == 1.0
        reader = recipe.reader.state_dict()
        assert (reader["world_size"], reader["rank"], reader["epoch"]) == (1, 0, 0)
    finally:
        recipe.cleanup()


def test_one_process_checkpoint_loads_in_two_processes(
    sample_shards, single_run, tmp_path, torchrun, child_env
):
    _torchrun(
        torchrun, child_env, "resume", str(sample_shards), str(single_run["run"]), str(tmp_path)
    )
    saved = load_trainer_state(latest_checkpoint(single_run["run"]))
    weights = load_file(str(tmp_path / "weights.safetensors"))
    assert set(weights) == set(single_run["weights"])
    for name, weight in single_run["weights"].items():
        assert torch.equal(weights[name], weight), name
    optimizer = load_file(str(tmp_path / "optimizer.safetensors"))
    expected = {
        f"{i}.{name}": value
        for i, state in saved.optimizer["state"].items()
        for name, value in state.items()
    }
    assert set(optimizer) == set(expected)
    for key, value in expected.items():  # sliced to shards and gathered back: exact
        assert torch.equal(optimizer[key], value), key
    resumed = json.loads((tmp_path / "resumed.json").read_text())
    assert resumed["step"] == 1
    assert (resumed["reader"]["world_size"], resumed["reader"]["epoch"]) == (2, 0)


def _reader_states(shards, world_size: int, epoch: int, consumed: int) -> list[dict]:
    states = []
    for rank in range(world_size):
        reader = ShardReader(str(shards), rank=rank, world_size=world_size)
        state = reader.state_dict()
        states.append({**state, "epoch": epoch, "consumed": [consumed]})
    return states


def test_reader_resumes_exactly_with_the_same_world_size(sample_shards):
    saved = _reader_states(sample_shards, 2, epoch=3, consumed=5)
    saved[1]["consumed"] = [6]
    reader = ShardReader(str(sample_shards), rank=1, world_size=2)
    state = dd.reader_resume_state(saved, reader)
    assert state == saved[1]
    reader.load_state_dict(state)
    assert (reader.epoch, reader.consumed) == (3, [6])


@pytest.mark.parametrize(("consumed", "expected_epoch"), [(5, 4), (0, 3)])
def test_reader_restarts_at_the_next_epoch_when_the_world_size_changes(
    sample_shards, caplog, consumed, expected_epoch
):
    saved = _reader_states(sample_shards, 2, epoch=3, consumed=consumed)
    for rank, world_size in [(0, 1), (2, 3)]:
        reader = ShardReader(str(sample_shards), rank=rank, world_size=world_size)
        with caplog.at_level("WARNING", logger="cuekit.distill"):
            state = dd.reader_resume_state(saved, reader)
        reader.load_state_dict(state)  # accepted: no world-size mismatch error
        assert (reader.epoch, reader.consumed) == (expected_epoch, [0])
        assert (state["rank"], state["world_size"]) == (rank, world_size)
    warned = [m for m in caplog.messages if "the reader restarts at epoch 4" in m]
    assert bool(warned) == (consumed > 0)
    assert dd.reader_resume_state([], ShardReader(str(sample_shards), rank=0, world_size=1)) is None
