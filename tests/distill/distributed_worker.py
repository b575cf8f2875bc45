"""One rank of the 2-process distill checks in test_distributed.py (run under torchrun).

Modes:
- ``step``: one training step on rank r's half of a fixed global batch (greedy rollouts,
  so a sample's rollout does not depend on which rank or batch holds it), then a
  checkpoint; rank 0 writes the step record and the full gathered weights and gradients.
- ``resume``: resume from OUTPUT's checkpoint (written by any world size); rank 0 writes
  the gathered weights and the gathered optimizer state it loaded.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from tiny_run import tiny_config

from cuekit.distill import distributed as dd
from cuekit.distill.config import DistillConfig
from cuekit.distill.recipe import DistillRecipe
from cuekit.distill.rollout import SamplingSettings
from cuekit.pipelines.read.reader import ShardBatch, ShardReader, iter_batches

GLOBAL_BATCH = 4


def step_config(shards: str, output: str, world_size: int, **extra) -> DistillConfig:
    """The same run for any world size: each rank takes GLOBAL_BATCH / world_size prompts."""
    return tiny_config(
        shards,
        output,
        batch_size=GLOBAL_BATCH // world_size,
        max_steps=1,
        shuffle_buffer=0,
        **extra,
    )


def global_batch(shards: str) -> list:
    """The first GLOBAL_BATCH samples in shard order, the same in every process."""
    reader = ShardReader(shards, rank=0, world_size=1, shuffle_shards=False, shuffle_buffer=0)
    return next(iter_batches(iter(reader), GLOBAL_BATCH)).samples


def rank_batch(shards: str, rank: int, world_size: int) -> ShardBatch:
    per_rank = GLOBAL_BATCH // world_size
    return ShardBatch(global_batch(shards)[rank * per_rank : (rank + 1) * per_rank])


def greedy(recipe: DistillRecipe) -> None:
    recipe.sampling = SamplingSettings(recipe.config.max_new_tokens, greedy=True)


def full_grads(student: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: dd.full_value(p.grad).detach().cpu().clone()
        for name, p in student.named_parameters()
        if p.grad is not None
    }


def main() -> None:
    mode, shards, output, result = sys.argv[1:5]
    info = dd.init_distributed("cpu")[0]
    result_dir = Path(result)
    if mode == "step":
        recipe = DistillRecipe(step_config(shards, output, info.world_size))
        recipe.setup()
        greedy(recipe)
        start = time.perf_counter()
        record = recipe.train_step(rank_batch(shards, info.rank, info.world_size))
        seconds = time.perf_counter() - start
        grads = full_grads(recipe.student)
        weights = dd.full_model_state(recipe.student)
        recipe.save()
        if info.is_main:
            save_file(
                {k: v.contiguous() for k, v in weights.items()},
                str(result_dir / "weights.safetensors"),
            )
            save_file(grads, str(result_dir / "grads.safetensors"))
            (result_dir / "record.json").write_text(json.dumps({**record, "seconds": seconds}))
    else:
        recipe = DistillRecipe(step_config(shards, output, info.world_size, resume=True))
        recipe.setup()
        weights = dd.full_model_state(recipe.student)
        optimizer = dd.full_optimizer_state(recipe.optimizer, keep=info.is_main)
        if info.is_main:
            save_file(
                {k: v.contiguous() for k, v in weights.items()},
                str(result_dir / "weights.safetensors"),
            )
            save_file(
                {
                    f"{i}.{name}": value
                    for i, state in optimizer["state"].items()
                    for name, value in state.items()
                },
                str(result_dir / "optimizer.safetensors"),
            )
            (result_dir / "resumed.json").write_text(
                json.dumps({"step": recipe.step, "reader": recipe.reader.state_dict()})
            )
    recipe.cleanup()


if __name__ == "__main__":
    main()
