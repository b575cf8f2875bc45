"""OPD step throughput: TRL's ``DistillationTrainer`` against cuekit's recipe step.

Same process, same tiny-bench Qwen3-VL weights (``bench_distill``'s model: 4 text layers,
real-size 151,936-token vocabulary), same shard batch (prompts and images), same max new
tokens, batch and sampling settings (temperature 1, no top-p/top-k), learning rates 0, fp32:

- **trl**: ``trl.DistillationTrainer`` (on-policy: the student samples with HF
  ``generate``; generalized JSD(``beta``) over the full vocabulary with TRL's chunked
  lm-head kernel; AdamW through ``transformers.Trainer``). One ``trainer.train()`` of
  ``max_steps=1`` per repeat, so its steps interleave with cuekit's.
- **cuekit none / cuekit cue**: ``DistillRecipe.train_step`` with privilege ``none`` (the
  teacher sees the student's prompt, like TRL) and ``cue`` (the hint is appended to the
  teacher's prompt: TRL has no equivalent). cuekit's student carries its cue recovery
  module (zero-initialised output: the same function, a little extra compute).

The teacher is the frozen student base (same seed, same weights) on every side; TRL is
handed cuekit's teacher object. TRL needs a ``ProcessorMixin``: ``Qwen3VLProcessor`` is
built here without its video processor (that needs torchvision, which has no CPU build for
this torch), and its prompts are checked token for token against cuekit's before timing.

Per-phase times (TRL's from wrappers around its own methods):

- rollout: tokenize + ``generate`` (TRL: ``_generate_and_score_completions``, which also
  re-processes the images for the forward);
- teacher: teacher scoring (TRL: teacher backbone only; its lm-head projection runs inside
  the chunked JSD, i.e. in TRL's student phase; cuekit: backbone + chunked lm-head log-probs);
- student: student scoring, loss and backward (TRL: the rest of ``training_step``);
- optimizer: clip + AdamW (+ TRL's Trainer bookkeeping between ``training_step`` and the
  end of the step);
- teacher+student: the sum of the two, which is like for like (both lm heads included).

Response tokens are counted alike on both sides: generated tokens up to and including the
first ``<|im_end|>``. Throughput is response tokens per second; medians of ``--repeats``.

    PYTHONPATH=/tmp/trl_pkgs .venv/bin/python benchmarks/bench_trl.py --out trl.json
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_distill import (  # noqa: E402
    PHASES,
    TINY_BENCH,
    cuekit_step,
    median,
    model_loader,
    run_side,
    setup_recipe,
)
from common import (  # noqa: E402
    add_run_options,
    format_table,
    header_line,
    machine_info,
    set_threads,
    write_json,
)

from cuekit.distill import recipe as recipe_module  # noqa: E402
from cuekit.distill.prompts import build_prompt_batch, response_mask_until_stop  # noqa: E402
from cuekit.distill.rollout import rollout_rows  # noqa: E402


def import_trl() -> Any:
    """The ``trl`` module, or exit with the one line that says how to get it."""
    try:
        import accelerate  # noqa: F401  (trl imports it lazily, at trainer construction)
        import trl
    except ImportError as error:
        sys.exit(
            f"bench_trl needs TRL ({error}): pip install trl (it also needs accelerate), "
            "e.g. `pip install --target /tmp/trl_pkgs trl` and PYTHONPATH=/tmp/trl_pkgs"
        )
    return trl


# -- TRL's processing class ---------------------------------------------------------


def image_only_qwen3_vl_processor(cue_processor: Any) -> Any:
    """transformers' own ``Qwen3VLProcessor`` logic with only an image processor and a
    tokenizer (its ``ProcessorMixin`` attributes come from the ``__init__`` signature).

    It expands each image pad per ``image_grid_thw`` and returns ``mm_token_type_ids``,
    as the stock processor does. The tokenizer is a copy padding on the left, as TRL
    requires (it aligns ``mm_token_type_ids`` with its left-padded prompts).
    """
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

    class ImageOnlyQwen3VLProcessor(Qwen3VLProcessor):
        def __init__(
            self,
            image_processor: Any = None,
            tokenizer: Any = None,
            chat_template: str | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(
                image_processor, tokenizer, None, chat_template=chat_template, **kwargs
            )

    tokenizer = copy.deepcopy(cue_processor.tokenizer)
    tokenizer.padding_side = "left"
    return ImageOnlyQwen3VLProcessor(
        cue_processor.image_processor, tokenizer, chat_template=cue_processor.chat_template
    )


def trl_rows(questions: list[str], images: list[list[Any]]) -> list[dict[str, Any]]:
    """TRL's conversational VLM format: the images go before the user text, as in cuekit."""
    return [
        {"prompt": [{"role": "user", "content": question}], "images": list(sample)}
        for question, sample in zip(questions, images, strict=True)
    ]


def check_same_prompts(
    trl_processor: Any,
    cue_processor: Any,
    rows: list[dict[str, Any]],
    questions: list[str],
    images: list[list[Any]],
) -> None:
    """Both sides must feed the models the same prompt tensors (TRL's two processor calls:
    the chat-template tokenization for generate, the plain call for the forward)."""
    from trl.data_utils import apply_chat_template, prepare_multimodal_messages

    expected = build_prompt_batch(cue_processor, questions, images)
    prompts = [prepare_multimodal_messages(row["prompt"], images=row["images"]) for row in rows]
    tokenized = trl_processor.apply_chat_template(
        conversation=prompts, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    for b, ids in enumerate(tokenized["input_ids"]):
        reference = expected["input_ids"][b][expected["attention_mask"][b].bool()].tolist()
        if list(ids) != reference:
            raise RuntimeError(f"TRL's prompt {b} tokenizes differently from cuekit's")
    texts = [apply_chat_template({"prompt": p}, trl_processor)["prompt"] for p in prompts]
    forward = trl_processor(
        images=[row["images"] for row in rows], text=texts, padding=True, return_tensors="pt"
    )
    for key in (
        "input_ids",
        "attention_mask",
        "mm_token_type_ids",
        "pixel_values",
        "image_grid_thw",
    ):
        if not torch.equal(forward[key], expected[key]):
            raise RuntimeError(f"TRL's forward inputs differ from cuekit's in {key}")


# -- TRL trainer with phase timers ----------------------------------------------------


class TrlPhaseTimer:
    """Wraps the trainer's own methods (instance attributes shadow the class methods) and
    times the step with a callback; ``finish()`` returns one step's record."""

    def __init__(self, trainer: Any, seed: int) -> None:
        from transformers import TrainerCallback

        self.trainer, self.seed = trainer, seed
        self.last_rollout: torch.Tensor | None = None  # (B, R) completion ids of the last step
        self.reset()
        timer = self

        class StepCallback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                torch.manual_seed(timer.seed)  # the sampling seed cuekit's side uses
                timer.step_start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                timer.record["step"] = time.perf_counter() - timer.step_start

        trainer.add_callback(StepCallback())
        self._wrap("_generate_and_score_completions", self._rollout)
        self._wrap("_get_last_hidden_state", self._hidden_state)
        self._wrap("training_step", self._training_step)

    def reset(self) -> None:
        self.record: dict[str, float] = {"rollout": 0.0, "teacher": 0.0, "training_step": 0.0}
        self.step_start = 0.0

    def _wrap(self, name: str, wrapper: Any) -> None:
        original = getattr(self.trainer, name)
        setattr(self.trainer, name, lambda *a, **kw: wrapper(original, *a, **kw))

    def _rollout(self, original, *args, **kwargs):
        start = time.perf_counter()
        output = original(*args, **kwargs)
        self.record["rollout"] += time.perf_counter() - start
        # cuekit's count: generated tokens up to and including the first <|im_end|>.
        completion = output["completion_ids"].cpu()
        tokens = int(response_mask_until_stop(completion, self.trainer.eos_token_ids).sum())
        if tokens != int(output["completion_mask"].sum()):
            raise RuntimeError("TRL's completion mask and cuekit's token count disagree")
        self.record["tokens"] = tokens
        self.last_rollout = completion
        return output

    def _hidden_state(self, original, unwrapped_model, *args, **kwargs):
        start = time.perf_counter()
        output = original(unwrapped_model, *args, **kwargs)
        if unwrapped_model is self.trainer.accelerator.unwrap_model(self.trainer.teacher_model):
            self.record["teacher"] += time.perf_counter() - start
        return output

    def _training_step(self, original, *args, **kwargs):
        start = time.perf_counter()
        output = original(*args, **kwargs)
        self.record["training_step"] += time.perf_counter() - start
        return output

    def finish(self) -> dict[str, float]:
        rec = self.record
        result = {
            "tokens": rec["tokens"],
            "rollout": rec["rollout"],
            "teacher": rec["teacher"],
            "student": rec["training_step"] - rec["rollout"] - rec["teacher"],
            "optimizer": rec["step"] - rec["training_step"],
            "step": rec["step"],
        }
        self.reset()
        return result


def build_trl_trainer(
    recipe: Any, rows: list[dict[str, Any]], work: Path, *, layers: int, vocab_size: int
) -> Any:
    """A ``DistillationTrainer`` over exactly ``rows`` (one step = the whole batch)."""
    from transformers import PrinterCallback
    from trl import DistillationConfig, DistillationTrainer

    cfg = recipe.config
    # Same loader and seed as cuekit's models: TRL's student starts from the same weights.
    student, _ = model_loader(layers, vocab_size)(
        TINY_BENCH, device=str(recipe.device), seed=cfg.seed
    )
    args = DistillationConfig(
        output_dir=str(work / "trl"),
        per_device_train_batch_size=len(rows),
        gradient_accumulation_steps=1,
        max_steps=1,
        learning_rate=0.0,
        max_grad_norm=cfg.max_grad_norm,
        max_completion_length=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=cfg.top_k,
        beta=cfg.beta,
        bf16=False,
        activation_checkpointing=False,
        use_cpu=recipe.device.type == "cpu",
        shuffle_dataset=False,
        dataloader_num_workers=0,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=cfg.seed,
    )
    trainer = DistillationTrainer(
        model=student,
        teacher_model=recipe.teacher,
        args=args,
        train_dataset=rows,
        processing_class=image_only_qwen3_vl_processor(recipe.processor),
    )
    trainer.remove_callback(PrinterCallback)  # its end-of-train summary would flood the output
    return trainer


# -- the comparison --------------------------------------------------------------------


def compare(
    recipe: Any, batch: Any, trainer: Any, timer: TrlPhaseTimer, *, repeats: int, seed: int
) -> dict[str, Any]:
    """trl, cuekit none, cuekit cue, round-robin after one warm-up each; medians.

    Every step starts from the same sampling seed; the rollouts of all sides are compared.
    """
    configs = {
        "none": dataclasses.replace(recipe.config, privilege="none"),
        "cue": dataclasses.replace(recipe.config, privilege="cue"),
    }
    rollouts: dict[str, torch.Tensor] = {}
    stop_ids = [recipe.processor.im_end_token_id]

    def trl_step() -> dict[str, float]:
        start = time.perf_counter()
        trainer.train()
        train_call = time.perf_counter() - start  # with Trainer set-up outside the step
        rollouts["trl"] = timer.last_rollout
        return {**timer.finish(), "train_call": train_call}

    def cuekit_side(privilege: str):
        def step() -> dict[str, float]:
            recipe.config = configs[privilege]  # read by step_batch at each step
            result = run_side(cuekit_step, recipe, batch, seed)
            if "cuekit" not in rollouts:
                raise RuntimeError(
                    "the recipe no longer calls rollout_rows: update bench_trl's rollout check"
                )
            rollouts[f"cuekit_{privilege}"] = rollouts.pop("cuekit")
            return result

        return step

    def keep_rollout(*args: Any, **kwargs: Any) -> Any:
        out = rollout_rows(*args, **kwargs)
        rollouts["cuekit"] = out.response_ids.cpu()
        return out

    sides = {"trl": trl_step, "cuekit_none": cuekit_side("none"), "cuekit_cue": cuekit_side("cue")}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    identical = True
    with mock.patch.object(recipe_module, "rollout_rows", keep_rollout):
        for repeat in range(repeats + 1):  # the first round is the warm-up
            for name, step_fn in sides.items():
                result = step_fn()
                if repeat:
                    runs[name].append(result)
            identical &= all(
                same_tokens(rollouts["trl"], rollouts[name], stop_ids) for name in sides
            )
    rows = []
    for phase in (*PHASES, "teacher+student", "step"):
        row: dict[str, Any] = {"phase": phase}
        for name, side_runs in runs.items():
            parts = ("teacher", "student") if phase == "teacher+student" else (phase,)
            seconds = median([sum(r[p] for p in parts) for r in side_runs])
            row[f"{name}_s"] = seconds
            row[f"{name}_tok_s"] = median([r["tokens"] for r in side_runs]) / seconds
        row["none_vs_trl"] = row["cuekit_none_tok_s"] / row["trl_tok_s"]
        row["cue_vs_trl"] = row["cuekit_cue_tok_s"] / row["trl_tok_s"]
        rows.append(row)
    tokens = {
        name: sorted({int(r["tokens"]) for r in side_runs}) for name, side_runs in runs.items()
    }
    return {"rows": rows, "runs": runs, "tokens": tokens, "identical_rollouts": identical}


def same_tokens(a: torch.Tensor, b: torch.Tensor, stop_ids: list[int]) -> bool:
    """Equal rollouts: each row's tokens up to and including its first stop token
    (the padding after it differs: TRL trims to the longest completion)."""

    def kept(ids: torch.Tensor) -> list[list[int]]:
        mask = response_mask_until_stop(ids, stop_ids).bool()
        return [row[m].tolist() for row, m in zip(ids, mask, strict=True)]

    return kept(a) == kept(b)


# DistillationConfig fields recorded in the JSON.
TRL_SETTINGS = (
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "optim",
    "max_grad_norm",
    "max_completion_length",
    "temperature",
    "top_p",
    "top_k",
    "beta",
    "bf16",
    "activation_checkpointing",
    "use_vllm",
    "cache_implementation",
    "seed",
)
COLUMNS = [
    "phase",
    "trl_s",
    "cuekit_none_s",
    "cuekit_cue_s",
    "trl_tok_s",
    "cuekit_none_tok_s",
    "cuekit_cue_tok_s",
    "none_vs_trl",
    "cue_vs_trl",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layers", type=int, default=4, help="tiny-bench text layers")
    parser.add_argument("--vocab-size", type=int, default=151_936, help="tiny-bench vocab")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--loss", default="jsd", help="cuekit's loss (TRL: JSD, beta 0.5)")
    add_run_options(parser)
    args = parser.parse_args()
    trl = import_trl()
    set_threads(args.threads)

    info = machine_info()
    info["versions"]["trl"] = trl.__version__
    print(header_line(info) + f" | trl {trl.__version__}")
    work = Path(tempfile.mkdtemp(prefix="bench_trl_"))
    try:
        recipe, batch = setup_recipe(
            work,
            student=TINY_BENCH,
            device=args.device,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            loss=args.loss,
            layers=args.layers,
            vocab_size=args.vocab_size,
        )
        recipe.config = dataclasses.replace(recipe.config, privilege="none")
        step = recipe.step_batch(batch)  # the student's questions and images of the batch
        if len(step) != args.batch_size:
            raise RuntimeError("the bench batch lost prompts to --max-prompt-len")
        questions = [chat.student_text for chat in step.chats]
        images = [chat.student_images for chat in step.chats]
        rows = trl_rows(questions, images)
        trainer = build_trl_trainer(
            recipe, rows, work, layers=args.layers, vocab_size=args.vocab_size
        )
        check_same_prompts(trainer.processing_class, recipe.processor, rows, questions, images)
        timer = TrlPhaseTimer(trainer, args.seed)
        params = sum(p.numel() for p in trainer.model.parameters())
        trl_config = {key: str(getattr(trainer.args, key)) for key in TRL_SETTINGS}
        print(
            f"student {TINY_BENCH} ({params / 1e6:.1f}M params; teacher: its frozen copy); "
            f"batch {args.batch_size}, {args.max_new_tokens} new tokens; TRL "
            f"DistillationTrainer JSD beta {recipe.config.beta} full vocab; cuekit loss "
            f"{args.loss} (top-k {recipe.config.topk}); prompts identical on both sides"
        )
        result = compare(recipe, batch, trainer, timer, repeats=args.repeats, seed=args.seed)
        recipe.cleanup()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        "response tokens per step: "
        + ", ".join(f"{name} {tokens}" for name, tokens in result["tokens"].items())
        + (" (identical rollouts)" if result["identical_rollouts"] else " (rollouts DIFFER)")
    )
    print(format_table(result["rows"], COLUMNS))
    write_json(
        args.out,
        {
            "benchmark": "trl",
            "machine": info,
            "args": vars(args),
            "trainer": "trl.DistillationTrainer",
            "trl_config": trl_config,
            "student_params": params,
            **result,
        },
    )


if __name__ == "__main__":
    main()
