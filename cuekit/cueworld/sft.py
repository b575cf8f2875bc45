"""The supervised recipe that trains ``cueworld-base`` and ``cueworld-teacher`` from scratch.

It runs transformers' ``Trainer`` on examples built from a ``cuekit extract --dataset
cueworld --split train`` folder, with the prompts distill and eval build
(:func:`cuekit.distill.prompts.record_chat_pair` and the chat template):

1. **Captions first** (``--caption-steps``): dense descriptions, loss on every token. A
   tiny model trained on QA alone sits at the most-common-colour shortcut (docs/method.md
   §7); naming every object at its place first breaks that plateau. A share
   ``--grounding-share`` of them is the object-first form ("Where is each shape?" →
   ``circle: top left. star: centre.``), the rest the place-first caption ("Describe the
   image." → ``top left: large red circle 3. ...``). Place-first captions teach reading a
   named place; only the object-first form teaches finding a named shape, which is what
   a question without a cue needs and what real VLMs learn from grounding data.
2. **Then a mix**: ``--caption-share`` descriptions (same split), the rest QA with loss
   on the answer only. A QA prompt carries no hint, the extract stage's cue (``[Hint]: The image
   shows star (top left).``) or the answer hint (``[Hint]: The answer is red.``), in the
   proportions ``--hint-shares`` (none, cue, answer), so the model can answer alone and
   can use either privilege when a teacher prompt carries it.

Examples are drawn in a fixed order (example ``n`` uses train row ``n mod rows`` and
its own ``random.Random``), so a run is reproducible and its first steps need only the
first rows. Every ``--eval-every`` steps the model answers ``--eval-rows`` val questions
greedily with and without the cue; the scores go to ``curve.jsonl`` and a copy of the
model to ``steps/step-N/``. Retrain the shipped models with::

    cuekit extract --dataset cueworld --split train --detector annotations -o runs/cw-train
    cuekit extract --dataset cueworld --split val --detector annotations -o runs/cw-val
    python -m cuekit.cueworld.sft --model cueworld-base --train runs/cw-train \\
        --val runs/cw-val --output runs/sft-base --max-steps 6000 --caption-steps 400 \\
        --grounding-share 0.5 --eval-every 250 --eval-rows 200 --threads 1 \\
        --hint-shares 0.35 0.5 0.15 --lr 1e-3

(each shipped model's card names its snapshot, ``runs/sft-base/steps/step-N``).

``--init-from FOLDER`` continues from a saved model instead of a fresh one (pass
``--caption-steps 0``); ``--stop-after N`` runs only the first N steps of the schedule.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from cuekit.cueworld.scenes import grounding_text
from cuekit.distill.prompts import ChatPair, build_messages, pair_batch, record_chat_pair
from cuekit.evaluate.inputs import CueItem, iter_cue_items

CAPTION_PROMPT = "Describe the image."
GROUNDING_PROMPT = "Where is each shape?"
HINT_KINDS = ("none", "cue", "answer")


@dataclass(frozen=True)
class SFTConfig:
    model: str = "cueworld-base"
    init_from: str | None = None  # continue from a saved model folder instead of scratch
    vision_hidden_size: int = 0  # 0: the architecture's; else a wider or narrower tower
    train: str = ""
    val: str | None = None
    output: str = ""
    max_steps: int = 6000
    batch_size: int = 32
    # 3e-3 (the first probe's) learnt only one of colour and shape in 1,500 steps at
    # 96 px (BENCHMARKS.md, CueWorld); 1e-3 learnt both by step 750.
    lr: float = 1e-3
    warmup_steps: int = 150
    weight_decay: float = 0.01
    caption_steps: int = 600
    caption_share: float = 0.25
    grounding_share: float = 0.0  # of the descriptions, the object-first share
    hint_shares: tuple[float, float, float] = (0.35, 0.50, 0.15)  # none, cue, answer
    eval_every: int = 500
    eval_rows: int = 200
    seed: int = 0
    threads: int = 0  # torch threads (0: leave as is)
    stop_after: int = 0  # stop after this many steps of the schedule (0: run it all)


def _chat(item: CueItem, kind: str, images: Sequence[Any] = ()) -> ChatPair:
    """The prompt pair distill and eval build; its teacher side carries hint ``kind``."""
    return record_chat_pair(item.record.sample, images, cue=item.hint, privilege=kind)


def _target(item: CueItem, kind: str) -> tuple[str, str]:
    """(user text, assistant text) of one example; ``kind`` is caption|none|cue|answer."""
    sample = item.record.sample
    if kind == "caption":
        return CAPTION_PROMPT, str(sample.metadata["caption"])
    if kind == "grounding":
        return GROUNDING_PROMPT, grounding_text(sample.metadata["objects"])
    return _chat(item, kind).teacher_text, str(sample.answer)


def example_kind(step: int, rng: random.Random, config: SFTConfig) -> str:
    """Captions only for the first ``caption_steps`` steps, then the mix."""
    if step < config.caption_steps or rng.random() < config.caption_share:
        # Drawn only when asked for, so runs without grounding keep their random stream.
        if config.grounding_share and rng.random() < config.grounding_share:
            return "grounding"
        return "caption"
    return rng.choices(HINT_KINDS, weights=config.hint_shares)[0]


class ExampleStream(torch.utils.data.IterableDataset):
    """Examples in a fixed order: ``{user, answer, image, kind}`` dicts."""

    def __init__(self, items: Sequence[CueItem], config: SFTConfig) -> None:
        self.items, self.config = items, config

    def __iter__(self) -> Iterator[dict[str, Any]]:
        n = 0
        while True:
            rng = random.Random(f"cueworld-sft/{self.config.seed}/{n}")
            kind = example_kind(n // self.config.batch_size, rng, self.config)
            item = self.items[n % len(self.items)]
            user, answer = _target(item, kind)
            yield {"user": user, "answer": answer, "image": item.images()[0], "kind": kind}
            n += 1


class Collator:
    """Tokenize prompt + answer; labels are the answer tokens and the closing ``<|im_end|>``."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        processor = self.processor
        prompts = [
            processor.apply_chat_template(build_messages(ex["user"], 1), add_generation_prompt=True)
            for ex in examples
        ]
        # The answer follows "assistant\n" without a space, and BPE never merges across
        # that newline, so its tokens are the same alone and after the prompt.
        targets = [ex["answer"] + "<|im_end|>" for ex in examples]
        batch = processor(
            [p + t for p, t in zip(prompts, targets, strict=True)],
            [ex["image"] for ex in examples],
            padding_side="right",
        )
        labels = torch.full_like(batch["input_ids"], -100)
        lengths = batch["attention_mask"].sum(1).tolist()
        for row, (target, length) in enumerate(zip(targets, lengths, strict=True)):
            count = len(processor.tokenizer(target, add_special_tokens=False)["input_ids"])
            labels[row, length - count : length] = batch["input_ids"][row, length - count : length]
        return {**batch, "labels": labels}


def greedy_texts(
    model: Any, processor: Any, inputs: Mapping[str, Any], max_new_tokens: int
) -> list[str]:
    """Greedy responses to left-padded ``inputs``, decoded by distill's rollout engine as
    ``cuekit eval`` decodes them (it puts the model in eval mode and back)."""
    from cuekit.distill.rollout import SamplingSettings, generate_rollouts

    rollouts = generate_rollouts(
        model, processor, inputs, SamplingSettings(max_new_tokens, greedy=True)
    )
    return processor.batch_decode(rollouts.response_ids, skip_special_tokens=True)


def answer_scores(
    model: Any, processor: Any, items: Sequence[CueItem], kind: str, batch_size: int = 50
) -> dict[str, float]:
    """Greedy accuracy on ``items`` with hint ``kind`` (none|cue|answer), overall
    (``"all"``) and per question family, judged as eval judges (a bare answer, as
    CueWorld's are, is its own extraction)."""
    from cuekit.answers import judge

    hits: dict[str, list[bool]] = {}
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        inputs = pair_batch(processor, [_chat(it, kind, it.images()) for it in chunk], "teacher")
        texts = greedy_texts(model, processor, inputs, max_new_tokens=4)
        for text, it in zip(texts, chunk, strict=True):
            sample = it.record.sample
            correct = judge(text, sample.answer, sample.choices, finished=True).correct
            hits.setdefault("all", []).append(correct)
            hits.setdefault(str(sample.metadata.get("family", "?")), []).append(correct)
    return {name: sum(flags) / len(flags) for name, flags in sorted(hits.items())}


def _callback(
    config: SFTConfig, processor: Any, val_items: Sequence[CueItem], output: Path, started: float
) -> Any:
    from transformers import TrainerCallback

    class CurveCallback(TrainerCallback):
        """Logs the training loss; scores val and keeps a model copy every eval_every steps."""

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if logs and "loss" in logs:
                self._write(
                    {
                        "step": state.global_step,
                        "loss": logs["loss"],
                        "lr": logs.get("learning_rate"),
                    }
                )

        def on_step_end(
            self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
        ) -> None:
            step = state.global_step
            if config.stop_after and step >= config.stop_after:
                control.should_training_stop = True  # same schedule, first steps only
            if not val_items or (step % config.eval_every and step != config.max_steps):
                return
            scores = {kind: answer_scores(model, processor, val_items, kind) for kind in HINT_KINDS}
            self._write(
                {
                    "step": step,
                    "val": {k: v["all"] for k, v in scores.items()},
                    "val_by_family": scores,
                    "elapsed_s": time.time() - started,
                }
            )
            folder = output / "steps" / f"step-{step}"
            model.save_pretrained(folder)
            processor.save_pretrained(folder)

        @staticmethod
        def _write(record: dict[str, Any]) -> None:
            with (output / "curve.jsonl").open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)

    return CurveCallback()


def train(config: SFTConfig) -> Path:
    """Run the recipe; return the folder of the final model (``OUTPUT/final``)."""
    from transformers import Trainer, TrainingArguments

    from cuekit.cueworld.model import build_cueworld_model

    if config.threads:
        torch.set_num_threads(config.threads)
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "curve.jsonl").unlink(missing_ok=True)
    (output / "sft_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    rows_needed = (config.stop_after or config.max_steps) * config.batch_size
    items = list(iter_cue_items(config.train, limit=rows_needed))
    val_items = list(iter_cue_items(config.val, limit=config.eval_rows)) if config.val else []
    if config.init_from:
        from cuekit.distill.models import load_model

        model, processor = load_model(config.init_from)
        model.train()
    else:
        model, processor = build_cueworld_model(
            config.model, seed=config.seed, vision_hidden_size=config.vision_hidden_size
        )
    args = TrainingArguments(
        output_dir=str(output / "trainer"),
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr,
        warmup_steps=config.warmup_steps,
        lr_scheduler_type="cosine",
        weight_decay=config.weight_decay,
        adam_beta1=0.9,
        adam_beta2=0.98,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=True,
        disable_tqdm=True,
        # Batches are built whole by the collator: pixel_values rows are patches, not
        # samples, so accelerate must not slice them by batch size.
        accelerator_config={"dispatch_batches": False},
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=ExampleStream(items, config),
        data_collator=Collator(processor),
        callbacks=[_callback(config, processor, val_items, output, time.time())],
    )
    trainer.train()
    final = output / "final"
    model.save_pretrained(final)
    processor.save_pretrained(final)
    return final


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = SFTConfig()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, tuple):
            parser.add_argument(flag, type=float, nargs=len(value), default=value)
        elif value is None:
            parser.add_argument(flag, default=None)
        else:
            parser.add_argument(flag, type=type(value), default=value)
    args = vars(parser.parse_args(argv))
    args["hint_shares"] = tuple(args["hint_shares"])
    final = train(SFTConfig(**args))
    print(f"model written to {final}")


if __name__ == "__main__":
    main()
