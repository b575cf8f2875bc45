"""Held-out checks during distill: reverse KL(student || teacher) and greedy accuracy."""

from __future__ import annotations

from itertools import islice
from typing import Any

import torch

# The one judge of the project, shared with `cuekit eval`, so held-out accuracy during
# training and after it count the same answers as correct.
from cuekit.answers import judge_question
from cuekit.distill.prompts import (
    ChatPair,
    chat_prompt_pair,
    decoded_chat_pairs,
    pair_batch,
    vision_token_ids,
)
from cuekit.distill.rollout import Rollouts, SamplingSettings, generate_rollouts
from cuekit.distill.scoring import exact_reverse_kl, scoring_pair
from cuekit.pipelines.read.reader import ShardBatch, ShardReader
from cuekit.schemas.runs import EvalMetrics


def _chats(batch: ShardBatch, config: Any) -> list[ChatPair]:
    """The batch's prompts, built exactly as the training step builds them."""
    return decoded_chat_pairs(batch.samples, privilege=config.privilege, style=config.prompt_style)


class Evaluator:
    """Evaluates on the first ``eval_batches`` batches of the eval shards, always the same.

    The KL is measured teacher-forced on responses the student sampled greedily at the
    first evaluation, so successive values compare the same tokens; accuracy uses a
    fresh greedy answer each time.
    """

    def __init__(
        self,
        config: Any,
        student: Any,
        teacher: Any,
        processor: Any,
        teacher_processor: Any,
        device: torch.device,
    ) -> None:
        self.config, self.student, self.teacher = config, student, teacher
        self.processor, self.teacher_processor, self.device = processor, teacher_processor, device
        reader = ShardReader(config.eval_shards, shuffle_shards=False, shuffle_buffer=0, seed=0)
        loader = reader.loader(config.batch_size, generator=torch.Generator().manual_seed(0))
        self.batches: list[ShardBatch] = list(islice(iter(loader), config.eval_batches))
        self.chats = [_chats(b, config) for b in self.batches]
        self.sampling = SamplingSettings(config.max_new_tokens, greedy=True)
        self._fixed: list[Rollouts] | None = None

    def _generate(self, chats: list[ChatPair]) -> Rollouts:
        prompt = pair_batch(self.processor, chats, "student")
        return generate_rollouts(self.student, self.processor, prompt, self.sampling)

    def run(self) -> EvalMetrics:
        fresh = [self._generate(chats) for chats in self.chats]
        if self._fixed is None:
            self._fixed = fresh
        kl_sum, tokens, correct, total = 0.0, 0, 0, 0
        for batch, chats, fixed, now in zip(
            self.batches, self.chats, self._fixed, fresh, strict=True
        ):
            pair = chat_prompt_pair(self.processor, self.teacher_processor, chats)
            student_batch, teacher_batch = scoring_pair(
                pair.student, pair.teacher, fixed, vision_token_ids(self.processor)
            )
            kl = exact_reverse_kl(
                self.student,
                self.teacher,
                student_batch,
                teacher_batch,
                chunk_size=self.config.score_chunk_size,
                temperature=self.config.temperature,
            )
            mask = fixed.response_mask.to(kl.device).float()
            kl_sum += float((kl * mask).sum())
            tokens += int(mask.sum())
            texts = self.processor.batch_decode(now.response_ids, skip_special_tokens=True)
            for text, record in zip(texts, batch.records, strict=True):
                if record.sample.answer is None:
                    continue
                total += 1
                correct += judge_question(text, record.sample).correct
        return EvalMetrics(
            eval_reverse_kl=kl_sum / max(tokens, 1),
            eval_accuracy=correct / total if total else 0.0,
            eval_samples=float(sum(len(b) for b in self.batches)),
        )
