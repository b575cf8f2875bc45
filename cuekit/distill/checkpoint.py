"""Atomic training checkpoints, with no pickle anywhere.

A checkpoint is a folder ``RUN/checkpoints/step-NNNNNN/`` holding:

- ``student/``: the HF student folder plus the cue module (``save_student``);
- ``trainer_state.safetensors``: optimizer tensors, torch RNG states and any extra tensors
  (``extra.*``: e.g. every rank's RNG state in a multi-process run);
- ``trainer_state.json``: step, optimizer hyper-parameters, scheduler, python RNG,
  the reader's position and the resolved config.

It is written under a temporary name and renamed when complete, so a crash never
leaves a half checkpoint where ``--resume`` would find it. A multi-process run writes the
same layout from rank 0, with the optimizer state gathered to full tensors
(``optimizer_state``), so a checkpoint loads under any world size
(cuekit.distill.distributed).
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cuekit.distill.config import DistillConfig, changed_settings
from cuekit.errors import ConfigError, CuekitError, OutputError
from cuekit.outputs import new_temp_dir, share_like_umask, writing

logger = logging.getLogger("cuekit.distill")

CHECKPOINTS_DIR = "checkpoints"
_STATE_TENSORS = "trainer_state.safetensors"
_STATE_JSON = "trainer_state.json"


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, param_state in state["state"].items():
        for name, value in param_state.items():
            key = f"optim.{index}.{name}"
            if isinstance(value, torch.Tensor):
                tensors[key] = value.detach().cpu().contiguous()
            else:
                scalars[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *meta["scalars"].items()]:
        if not key.startswith("optim."):
            continue
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


@dataclass(frozen=True)
class TrainerState:
    step: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    reader: dict[str, Any] | None
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor]
    python_rng: Any
    extra: dict[str, Any]
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def save_checkpoint(
    run_dir: Path,
    step: int,
    *,
    save_student_fn: Any,
    optimizer: Any,
    scheduler: Any,
    reader_state: dict[str, Any] | None,
    config: dict[str, Any],
    keep: int,
    extra: dict[str, Any] | None = None,
    optimizer_state: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write checkpoint ``step`` atomically and prune all but the newest ``keep``.

    ``optimizer_state`` replaces ``optimizer.state_dict()`` (a state gathered from shards);
    ``extra_tensors`` are stored as ``extra.NAME`` and come back in ``extra_tensors``.
    """
    root = run_dir / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    with writing(root):
        tmp = new_temp_dir(root)  # 0777 minus the umask: teammates can read checkpoints
    try:
        save_student_fn(tmp / "student")
        tensors, optim_meta = _flatten_optimizer(
            optimizer.state_dict() if optimizer_state is None else optimizer_state
        )
        for name, value in (extra_tensors or {}).items():
            tensors[f"extra.{name}"] = value.detach().cpu().contiguous()
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            for i, rng in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = rng
        save_file(tensors, str(tmp / _STATE_TENSORS))
        scheduler_state = scheduler.state_dict()  # lr_lambdas of closures are saved as None
        meta = {
            "step": step,
            "optimizer": optim_meta,
            "scheduler": scheduler_state,
            "reader": reader_state,
            "python_rng": random.getstate(),
            "config": config,
            "extra": extra or {},
        }
        (tmp / _STATE_JSON).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        share_like_umask(tmp)  # safetensors writes 0600
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except OSError as exc:  # a full disk: say where, and leave no half checkpoint
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(exc.filename or final, exc.strerror or str(exc)) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_partial_checkpoints(run_dir: Path) -> list[Path]:
    """Delete the temp folders of checkpoints a killed run never finished (each can be
    many GB). Call it only while holding the run folder's lock."""
    found = sorted((run_dir / CHECKPOINTS_DIR).glob(".tmp-*"))
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return found


def _safetensors_problem(path: Path) -> str | None:
    """Why a safetensors file is not whole, from its header alone (cheap), or None."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if length < 0 or 8 + length > size:
            return f"truncated: {size} bytes, too short for its header"
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            return "unreadable header"
    tensors = [v for k, v in header.items() if k != "__metadata__"]
    end = 8 + length + max((t["data_offsets"][1] for t in tensors), default=0)
    if end != size:
        return f"truncated: {size} bytes, its header describes {end}"
    return None


def checkpoint_problem(folder: Path) -> str | None:
    """The first file of ``folder`` that is missing, unreadable or truncated, or None."""
    for path in [folder / _STATE_JSON, folder / _STATE_TENSORS]:
        if not path.is_file():
            return f"{path} is missing"
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"{path} is unreadable ({exc})"
        # A sharded save's index names its weight files: a lost one is a damaged checkpoint.
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if isinstance(weight_map, dict):
            for name in sorted(set(map(str, weight_map.values()))):
                if not (path.parent / name).is_file():
                    return f"{path.parent / name} is missing (listed in {path.name})"
    for path in sorted(folder.rglob("*.safetensors")):
        problem = _safetensors_problem(path)
        if problem is not None:
            return f"{path}: {problem}"
    return None


def latest_intact_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint whose files are whole; a damaged one (a disk that filled, a
    copy cut short) is skipped with a warning naming the file. Raises when checkpoints
    exist but none is whole, rather than silently starting over."""
    found = list_checkpoints(run_dir)
    problems: list[str] = []
    for folder in reversed(found):
        problem = checkpoint_problem(folder)
        if problem is None:
            if problems:
                logger.warning("resuming from the previous intact checkpoint %s", folder)
            return folder
        logger.warning("checkpoint %s is damaged: %s", folder.name, problem)
        problems.append(problem)
    if problems:
        raise CuekitError("no intact checkpoint to resume from: " + "; ".join(problems))
    return None


def resume_checkpoint(run_dir: Path, config: DistillConfig, world_size: int) -> Path | None:
    """The checkpoint ``--resume`` continues from: the newest intact one, whose training
    settings must match ``config`` unless ``allow_config_change`` says otherwise. None
    without ``--resume`` or without checkpoints."""
    if not config.resume:
        return None
    found = latest_intact_checkpoint(run_dir)
    if found is None:
        return None
    saved, saved_world_size = checkpoint_config(found)
    changed = changed_settings(
        saved, config, saved_world_size=saved_world_size, world_size=world_size
    )
    listed = ", ".join(f"{name} {old!r} -> {new!r}" for name, (old, new) in changed.items())
    if changed and not config.allow_config_change:
        raise ConfigError(
            f"--resume with changed training settings ({listed}): the run in "
            f"{run_dir} was trained with the old values. Resume with them, or "
            "pass --allow-config-change to go on with the new"
        )
    if changed:
        logger.warning("resuming with changed training settings: %s", listed)
    return found


def checkpoint_config(folder: Path) -> tuple[dict[str, Any], int]:
    """The resolved config a checkpoint was written with, and the world size it ran at."""
    meta = json.loads((folder / _STATE_JSON).read_text(encoding="utf-8"))
    return dict(meta.get("config") or {}), int(meta.get("extra", {}).get("world_size", 1))


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = run_dir / CHECKPOINTS_DIR
    return sorted(p for p in root.glob("step-*") if (p / _STATE_JSON).is_file())


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def load_trainer_state(folder: Path) -> TrainerState:
    try:
        meta = json.loads((folder / _STATE_JSON).read_text(encoding="utf-8"))
        tensors = load_file(str(folder / _STATE_TENSORS))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CuekitError(f"checkpoint {folder} is unreadable: {exc}") from None
    python_rng = meta["python_rng"]
    # JSON turns the state tuple into lists; random.setstate wants tuples back.
    python_rng = (python_rng[0], tuple(python_rng[1]), python_rng[2])
    cuda = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
    return TrainerState(
        step=int(meta["step"]),
        optimizer=_unflatten_optimizer(tensors, meta["optimizer"]),
        scheduler=meta["scheduler"],
        reader=meta["reader"],
        torch_rng=tensors["rng.torch"],
        cuda_rng=cuda,
        python_rng=python_rng,
        extra=meta.get("extra", {}),
        extra_tensors={
            k.removeprefix("extra."): v for k, v in tensors.items() if k.startswith("extra.")
        },
    )


def restore_rng(state: TrainerState) -> None:
    torch.set_rng_state(state.torch_rng)
    if state.cuda_rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state.cuda_rng)
    random.setstate(state.python_rng)
