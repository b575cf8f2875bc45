"""Student and teacher inputs, and the prompt + response batches both models score.

The student sees ``image(s) + question``; the teacher sees the same user turn with
the hint appended to the user text (``question + "\\n\\n[Hint]: ..."``). Each side is
built with its own processor (so image token counts follow each model's image
processor), but the two must share one tokenizer so that the sampled response ids
mean the same tokens to both: :func:`check_same_tokenizer` enforces it.

For teacher-forced scoring, :func:`build_scoring_batch` appends the SAME response
ids (B, R) to each side's left-padded prompt (B, P) and keeps the response mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cuekit.distill.processor import REQUIRED_SPECIAL_TOKENS, ImageOnlyProcessor
from cuekit.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from transformers import BatchFeature, PreTrainedTokenizerBase

HINT_LABEL = "[Hint]:"
HINT_SEPARATOR = "\n\n"


def append_hint(question: str, hint: str | None) -> str:
    """The teacher's user text: ``question`` + blank line + ``[Hint]: hint`` (None: unchanged)."""
    if hint is None or not hint.strip():
        return question
    hint = hint.strip()
    block = hint if hint.startswith(HINT_LABEL) else f"{HINT_LABEL} {hint}"
    return f"{question}{HINT_SEPARATOR}{block}"


def build_messages(question: str, num_images: int, *, system: str | None = None
                   ) -> list[dict[str, Any]]:
    """One chat: optional system turn, then a user turn with the images before the text."""
    if num_images < 0:
        raise ValueError(f"num_images must be >= 0, got {num_images}")
    content: list[dict[str, str]] = [{"type": "image"} for _ in range(num_images)]
    content.append({"type": "text", "text": question})
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": content})
    return messages


def build_prompt_batch(
    processor: ImageOnlyProcessor,
    questions: Sequence[str],
    images: Sequence[Sequence[Image.Image]],
    *,
    hints: Sequence[str | None] | None = None,
    system: str | None = None,
    padding_side: str = "left",
) -> BatchFeature:
    """Tokenized prompts ending in the assistant header (``add_generation_prompt=True``).

    ``images[b]`` are sample b's images; ``hints`` (teacher side) are appended to
    the user text. Left padding by default, as generation needs.
    """
    if len(images) != len(questions):
        raise ValueError(f"got {len(questions)} questions but {len(images)} image lists")
    if hints is not None and len(hints) != len(questions):
        raise ValueError(f"got {len(questions)} questions but {len(hints)} hints")
    texts = []
    for index, question in enumerate(questions):
        user_text = append_hint(question, hints[index]) if hints is not None else question
        messages = build_messages(user_text, len(images[index]), system=system)
        texts.append(processor.apply_chat_template(messages, add_generation_prompt=True))
    flat_images = [image for sample_images in images for image in sample_images]
    return processor(texts, flat_images, padding_side=padding_side)


def check_same_tokenizer(student: PreTrainedTokenizerBase, teacher: PreTrainedTokenizerBase
                         ) -> None:
    """Raise ConfigError naming the first difference between two tokenizers."""
    student_vocab, teacher_vocab = student.get_vocab(), teacher.get_vocab()
    advice = ("student and teacher must share one tokenizer so both score identical "
              "response token ids; pick a teacher from the same model family")
    for token in REQUIRED_SPECIAL_TOKENS:
        if student_vocab.get(token) != teacher_vocab.get(token):
            raise ConfigError(
                f"tokenizer mismatch: special token {token} is id {student_vocab.get(token)} "
                f"for the student but {teacher_vocab.get(token)} for the teacher; {advice}")
    for name in ("eos_token_id", "pad_token_id"):
        if getattr(student, name) != getattr(teacher, name):
            raise ConfigError(
                f"tokenizer mismatch: {name} is {getattr(student, name)} for the student but "
                f"{getattr(teacher, name)} for the teacher; {advice}")
    if student_vocab != teacher_vocab:
        only_student = sorted(set(student_vocab) - set(teacher_vocab))
        only_teacher = sorted(set(teacher_vocab) - set(student_vocab))
        moved = sorted(token for token in set(student_vocab) & set(teacher_vocab)
                       if student_vocab[token] != teacher_vocab[token])
        detail = (f"vocab sizes {len(student_vocab)} vs {len(teacher_vocab)}, "
                  f"{len(only_student)} tokens only in the student (e.g. {only_student[:3]}), "
                  f"{len(only_teacher)} only in the teacher (e.g. {only_teacher[:3]}), "
                  f"{len(moved)} with different ids (e.g. {moved[:3]})")
        raise ConfigError(f"tokenizer mismatch: {detail}; {advice}")


def format_question(question: str, choices: Sequence[str] | None) -> str:
    """``question``, plus its lettered options when it has some and does not list them.

    Training, eval and audit all build prompts from this, so a multiple-choice answer
    letter always refers to options the model was shown.
    """
    if not choices or all(choice in question for choice in choices):
        return question
    options = "\n".join(f"({chr(ord('A') + i)}) {choice}" for i, choice in enumerate(choices))
    return f"{question}\nChoices:\n{options}"


def privileged_hint(privilege: str, hint: str, answer: str | None) -> str | None:
    """What the teacher sees beyond the student's prompt: the cue (ViCuR), the answer
    (the OPSD answer-hint baseline), or nothing (plain OPD)."""
    if privilege == "cue":
        return hint or None
    if privilege == "answer":
        return f"The answer is {answer}." if answer else None
    return None


@dataclass
class Prompts:
    """The rows of one distill step: each kept sample repeated ``rollouts_per_prompt`` times."""

    questions: list[str]
    images: list[list[Any]]
    hints: list[str | None]
    answers: list[str | None]


@dataclass(frozen=True)
class PromptPair:
    """The student's and the teacher's tokenized prompts for one batch of samples."""

    student: BatchFeature
    teacher: BatchFeature


def build_prompt_pair(
    student_processor: ImageOnlyProcessor,
    teacher_processor: ImageOnlyProcessor,
    questions: Sequence[str],
    images: Sequence[Sequence[Image.Image]],
    hints: Sequence[str | None] | None,
    *,
    system: str | None = None,
) -> PromptPair:
    """Student prompts (no hint) and teacher prompts (hint appended), both left-padded."""
    check_same_tokenizer(student_processor.tokenizer, teacher_processor.tokenizer)
    student = build_prompt_batch(student_processor, questions, images, system=system)
    teacher = build_prompt_batch(teacher_processor, questions, images, hints=hints,
                                 system=system)
    return PromptPair(student=student, teacher=teacher)


def vision_token_ids(processor: ImageOnlyProcessor) -> list[int]:
    """Ids a rollout must never sample (pass as ``suppress_tokens``): a sampled image pad
    would be taken for an image placeholder when the response is scored."""
    return [processor.image_token_id, processor.video_token_id,
            processor.vision_start_token_id, processor.vision_end_token_id]


def response_mask_until_stop(response_ids: torch.Tensor, stop_token_ids: Sequence[int]
                             ) -> torch.Tensor:
    """(B, R) long mask: 1 up to and including each row's first stop token, 0 after."""
    import torch

    is_stop = torch.isin(response_ids, torch.tensor(list(stop_token_ids),
                                                    device=response_ids.device))
    # Stops strictly before position t: a token is kept while none came before it.
    stops_before = torch.cumsum(is_stop.long(), dim=1) - is_stop.long()
    return (stops_before == 0).long()


@dataclass(frozen=True)
class ScoringBatch:
    """Prompt + response for one model's teacher-forced forward.

    ``inputs`` goes straight into the model (input_ids, attention_mask,
    mm_token_type_ids (B, P+R), pixel_values, image_grid_thw). The hidden states
    (or logits) that predict the response are those at ``predictor_positions``,
    ``P - 1 .. P + R - 2``: the last R + 1 positions minus the final one.
    """

    inputs: dict[str, torch.Tensor]
    response_ids: torch.Tensor  # (B, R), identical for student and teacher
    response_mask: torch.Tensor  # (B, R), 1 at response tokens that count
    prompt_length: int  # P, the padded prompt length

    @property
    def predictor_positions(self) -> slice:
        """Positions whose outputs predict response tokens 0..R-1."""
        return slice(self.prompt_length - 1, self.prompt_length + self.response_ids.shape[1] - 1)

    @property
    def logits_to_keep(self) -> int:
        """``logits_to_keep`` for a forward that only needs the response logits (+1 extra)."""
        return self.response_ids.shape[1] + 1


def build_scoring_batch(prompt_inputs: BatchFeature | dict[str, Any], response_ids: torch.Tensor,
                        response_mask: torch.Tensor, *,
                        forbidden_token_ids: Sequence[int] = ()) -> ScoringBatch:
    """Append ``response_ids`` (B, R) to left-padded prompts (B, P).

    The response keeps its own mask in the attention mask, so padding after EOS
    is ignored. ``forbidden_token_ids`` (see :func:`vision_token_ids`) must not
    appear in the response: the model would take them for image placeholders.
    """
    import torch

    prompt_ids = prompt_inputs["input_ids"]
    if response_ids.ndim != 2 or response_ids.shape[0] != prompt_ids.shape[0]:
        raise ValueError(f"response_ids must be (B={prompt_ids.shape[0]}, R), "
                         f"got {tuple(response_ids.shape)}")
    if response_mask.shape != response_ids.shape:
        raise ValueError(f"response_mask must have shape {tuple(response_ids.shape)}, "
                         f"got {tuple(response_mask.shape)}")
    if bool(prompt_inputs["attention_mask"][:, -1].eq(0).any()):
        raise ValueError("prompts must be left-padded (build them with padding_side='left')")
    if forbidden_token_ids:
        forbidden = torch.tensor(list(forbidden_token_ids), device=response_ids.device)
        if bool(torch.isin(response_ids, forbidden).any()):
            raise ValueError("the response contains vision placeholder tokens; sample with "
                             "suppress_tokens=vision_token_ids(processor)")
    response_ids = response_ids.to(prompt_ids.device, prompt_ids.dtype)
    response_mask = response_mask.to(prompt_ids.device).long()
    inputs = {key: value for key, value in prompt_inputs.items()
              if key not in ("input_ids", "attention_mask", "mm_token_type_ids")}
    inputs["input_ids"] = torch.cat([prompt_ids, response_ids], dim=1)
    inputs["attention_mask"] = torch.cat(
        [prompt_inputs["attention_mask"].to(response_mask.dtype), response_mask], dim=1)
    prompt_types = prompt_inputs["mm_token_type_ids"]
    inputs["mm_token_type_ids"] = torch.cat(
        [prompt_types, torch.zeros_like(response_ids, dtype=prompt_types.dtype)], dim=1)
    return ScoringBatch(inputs=inputs, response_ids=response_ids, response_mask=response_mask,
                        prompt_length=prompt_ids.shape[1])
