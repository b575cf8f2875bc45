"""Where the CueWorld distillation signal is: the teacher's per-token k1 advantage on the
student's own samples, by question family and by whether the sample was right.

For each test question the student (no cue) samples ``--samples`` answers at temperature
1; the teacher scores them with and without its privilege. A k1 step raises each sampled
token's log-prob in proportion to ``A = lT - lS``, so a family where A does not separate
right from wrong answers gives the student nothing to learn from.

    python benchmarks/cueworld_signal.py --teacher cueworld-base --privilege cue
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch

from cuekit.answers import judge
from cuekit.distill.models import load_model
from cuekit.distill.prompts import (
    build_scoring_batch,
    pair_batch,
    record_chat_pair,
    response_mask_until_stop,
    vision_token_ids,
)
from cuekit.distill.scoring import score_responses
from cuekit.evaluate.inputs import iter_cue_items


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", default="cueworld-base")
    parser.add_argument("--teacher", default="cueworld-base")
    parser.add_argument("--privilege", default="cue", choices=["cue", "answer", "none"])
    parser.add_argument("--test", default="runs/cueworld-grid/data/test-600")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    student, processor = load_model(args.student)
    teacher, _ = load_model(args.teacher)
    items = list(iter_cue_items(args.test, limit=args.limit))
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for start in range(0, len(items), 25):
        chunk = [it for it in items[start : start + 25] for _ in range(args.samples)]
        # distill's own prompt pairs: the student's prompt, and the teacher's with its hint.
        pairs = [
            record_chat_pair(it.record.sample, it.images(), cue=it.hint, privilege=args.privilege)
            for it in chunk
        ]
        prompt = pair_batch(processor, pairs, "student")
        with torch.no_grad():
            out = student.generate(
                **prompt,
                max_new_tokens=4,
                do_sample=True,
                top_k=0,
                eos_token_id=processor.im_end_token_id,
                pad_token_id=processor.tokenizer.pad_token_id,
                suppress_tokens=vision_token_ids(processor),
            )
        response = out[:, prompt["input_ids"].shape[1] :]
        mask = response_mask_until_stop(response, [processor.im_end_token_id])
        teacher_prompt = pair_batch(processor, pairs, "teacher")
        with torch.no_grad():
            s_lp = score_responses(
                student, build_scoring_batch(prompt, response, mask), chunk_size=256
            )[0].logprobs
            t_lp = score_responses(
                teacher, build_scoring_batch(teacher_prompt, response, mask), chunk_size=256
            )[0].logprobs
        texts = processor.batch_decode(response, skip_special_tokens=True)
        advantage = (t_lp - s_lp).clamp(-10, 10)  # (B, R), the k1 advantage per token
        for row, (item, text) in enumerate(zip(chunk, texts, strict=True)):
            family = item.record.sample.metadata["family"]
            sample = item.record.sample
            correct = judge(text, sample.answer, sample.choices, finished=True).correct
            first = float(advantage[row, 0])  # the answer token
            stats[family]["right" if correct else "wrong"].append(first)
    report = {}
    for family, groups in sorted(stats.items()):
        right, wrong = groups.get("right", []), groups.get("wrong", [])
        n = len(right) + len(wrong)
        report[family] = {
            "samples": n,
            "sampled_right": len(right) / n if n else 0.0,
            "advantage_right": sum(right) / len(right) if right else None,
            "advantage_wrong": sum(wrong) / len(wrong) if wrong else None,
        }
    report = {
        "student": args.student,
        "teacher": args.teacher,
        "privilege": args.privilege,
        "families": report,
    }
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
