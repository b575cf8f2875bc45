"""Student and teacher inputs, and the prompt + response batches both models score.

**The one prompt builder.** :func:`build_chat_pair` turns ``(sample, privilege)`` into the
student's and the teacher's messages and images; distill, its held-out check, eval,
audit and the verl export all call it, so every path trains and evaluates on the same
tokens. Its wording is a :class:`PromptStyle`: an optional system turn, the question
with its lettered options when it has some, an optional answer-format instruction,
and (teacher only) the privileged block last. Images always come before the text.

The student sees ``image(s) + question``; the teacher sees the same user turn with
the hint appended to the user text (``question + "\\n\\n[Hint]: ..."``) and, for cue
style ``marks``, the marked copy of the image instead of the original. Each side is
built with its own processor (so image token counts follow each model's image
processor), but the two must share one tokenizer so that the sampled response ids
mean the same tokens to both: :func:`check_same_tokenizer` enforces it.

For teacher-forced scoring, :func:`build_scoring_batch` appends the SAME response
ids (B, R) to each side's left-padded prompt (B, P) and keeps the response mask.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cuekit.distill.processor import REQUIRED_SPECIAL_TOKENS, ImageOnlyProcessor
from cuekit.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from transformers import BatchFeature, PreTrainedTokenizerBase

    from cuekit.pipelines.read.reader import DecodedSample
    from cuekit.schemas import Sample

HINT_LABEL = "[Hint]:"
HINT_SEPARATOR = "\n\n"


def append_hint(question: str, hint: str | None) -> str:
    """The teacher's user text: ``question`` + blank line + ``[Hint]: hint`` (None: unchanged)."""
    if hint is None or not hint.strip():
        return question
    hint = hint.strip()
    block = hint if hint.startswith(HINT_LABEL) else f"{HINT_LABEL} {hint}"
    return f"{question}{HINT_SEPARATOR}{block}"


def build_messages(
    question: str, num_images: int, *, system: str | None = None
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
    chats = []
    for index, question in enumerate(questions):
        user_text = append_hint(question, hints[index]) if hints is not None else question
        chats.append(build_messages(user_text, len(images[index]), system=system))
    return render_prompt_batch(processor, chats, images, padding_side=padding_side)


def render_prompt_batch(
    processor: ImageOnlyProcessor,
    chats: Sequence[list[dict[str, Any]]],
    images: Sequence[Sequence[Image.Image]],
    *,
    padding_side: str = "left",
) -> BatchFeature:
    """Chats (``build_messages`` output) through the chat template and the processor."""
    if len(images) != len(chats):
        raise ValueError(f"got {len(chats)} chats but {len(images)} image lists")
    texts = [processor.apply_chat_template(chat, add_generation_prompt=True) for chat in chats]
    flat_images = [image for sample_images in images for image in sample_images]
    return processor(texts, flat_images, padding_side=padding_side)


def check_same_tokenizer(
    student: PreTrainedTokenizerBase, teacher: PreTrainedTokenizerBase
) -> None:
    """Raise ConfigError naming the first difference between two tokenizers."""
    student_vocab, teacher_vocab = student.get_vocab(), teacher.get_vocab()
    advice = (
        "student and teacher must share one tokenizer so both score identical "
        "response token ids; pick a teacher from the same model family"
    )
    for token in REQUIRED_SPECIAL_TOKENS:
        if student_vocab.get(token) != teacher_vocab.get(token):
            raise ConfigError(
                f"tokenizer mismatch: special token {token} is id {student_vocab.get(token)} "
                f"for the student but {teacher_vocab.get(token)} for the teacher; {advice}"
            )
    for name in ("eos_token_id", "pad_token_id"):
        if getattr(student, name) != getattr(teacher, name):
            raise ConfigError(
                f"tokenizer mismatch: {name} is {getattr(student, name)} for the student but "
                f"{getattr(teacher, name)} for the teacher; {advice}"
            )
    if student_vocab != teacher_vocab:
        only_student = sorted(set(student_vocab) - set(teacher_vocab))
        only_teacher = sorted(set(teacher_vocab) - set(student_vocab))
        moved = sorted(
            token
            for token in set(student_vocab) & set(teacher_vocab)
            if student_vocab[token] != teacher_vocab[token]
        )
        detail = (
            f"vocab sizes {len(student_vocab)} vs {len(teacher_vocab)}, "
            f"{len(only_student)} tokens only in the student (e.g. {only_student[:3]}), "
            f"{len(only_teacher)} only in the teacher (e.g. {only_teacher[:3]}), "
            f"{len(moved)} with different ids (e.g. {moved[:3]})"
        )
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


@dataclass(frozen=True)
class PromptStyle:
    """How every path words a prompt; distill saves it in its config, exports record it.

    system: the system turn (None: none).
    instruction: an answer-format line after the question and its options, e.g.
        ``"Put the final answer in \\boxed{}."`` (None: none).
    choices_in_prompt: list a multiple-choice question's options when it does not.
    """

    system: str | None = None
    instruction: str | None = None
    choices_in_prompt: bool = True

    def user_text(self, question: str, choices: Sequence[str] | None) -> str:
        """The student's user text: question, its options, then the instruction."""
        text = format_question(question, choices if self.choices_in_prompt else None)
        instruction = (self.instruction or "").strip()
        return f"{text}{HINT_SEPARATOR}{instruction}" if instruction else text


@dataclass(frozen=True)
class ChatPair:
    """One sample's two prompts: the teacher's differs by ``hint`` and maybe one image."""

    student_text: str
    hint: str | None  # what the teacher reads beyond the student's text (None: nothing)
    student_images: list[Any]
    teacher_images: list[Any]
    system: str | None = None

    @property
    def teacher_text(self) -> str:
        return append_hint(self.student_text, self.hint)

    def student_messages(self) -> list[dict[str, Any]]:
        return build_messages(self.student_text, len(self.student_images), system=self.system)

    def teacher_messages(self) -> list[dict[str, Any]]:
        return build_messages(self.teacher_text, len(self.teacher_images), system=self.system)


def build_chat_pair(
    question: str,
    images: Sequence[Any],
    *,
    privilege: str = "cue",
    cue: str = "",
    answer: str | None = None,
    choices: Sequence[str] | None = None,
    marked_image: Any = None,
    marked_index: int | None = None,
    style: PromptStyle | None = None,
) -> ChatPair:
    """``(sample, privilege) -> (student messages, teacher messages, images)``.

    ``privilege`` is what the teacher sees beyond the student (:func:`privileged_hint`):
    ``cue`` (the cue text, and the marked image when the cue has one), ``answer`` or
    ``none``. The student always keeps the original images.
    """
    style = style or PromptStyle()
    hint = privileged_hint(privilege, cue, answer)
    teacher_images = list(images)
    if privilege == "cue" and marked_image is not None:
        index = marked_index or 0
        if not 0 <= index < len(teacher_images):
            raise ValueError(
                f"marked image index {index} is out of range for {len(teacher_images)} image(s)"
            )
        # The cue text numbers the marks, so the teacher must see the marked copy.
        teacher_images[index] = marked_image
    return ChatPair(
        style.user_text(question, choices), hint, list(images), teacher_images, style.system
    )


def pair_batch(
    processor: ImageOnlyProcessor,
    pairs: Sequence[ChatPair],
    side: str,
    *,
    padding_side: str = "left",
) -> BatchFeature:
    """One side (``"student"`` or ``"teacher"``) of ``pairs`` tokenized as a batch."""
    if side not in ("student", "teacher"):
        raise ValueError(f"side must be 'student' or 'teacher', got {side!r}")
    messages = [p.student_messages() if side == "student" else p.teacher_messages() for p in pairs]
    images = [p.student_images if side == "student" else p.teacher_images for p in pairs]
    return render_prompt_batch(processor, messages, images, padding_side=padding_side)


def chat_prompt_pair(
    student_processor: ImageOnlyProcessor,
    teacher_processor: ImageOnlyProcessor,
    pairs: Sequence[ChatPair],
) -> PromptPair:
    """Student and teacher prompts of ``pairs``, both left-padded (see build_prompt_pair)."""
    check_same_tokenizer(student_processor.tokenizer, teacher_processor.tokenizer)
    return PromptPair(
        student=pair_batch(student_processor, pairs, "student"),
        teacher=pair_batch(teacher_processor, pairs, "teacher"),
    )


def record_chat_pair(
    sample: Sample,
    images: Sequence[Any],
    *,
    cue: str = "",
    marked_image: Any = None,
    marked_index: int | None = None,
    privilege: str = "cue",
    style: PromptStyle | None = None,
) -> ChatPair:
    """:func:`build_chat_pair` for a cuekit :class:`~cuekit.schemas.Sample` and its cue."""
    return build_chat_pair(
        sample.question,
        images,
        privilege=privilege,
        cue=cue,
        answer=sample.answer,
        choices=sample.choices,
        marked_image=marked_image,
        marked_index=marked_index,
        style=style,
    )


def decoded_chat_pairs(
    samples: Sequence[DecodedSample], *, privilege: str = "cue", style: PromptStyle | None = None
) -> list[ChatPair]:
    """:func:`record_chat_pair` for each sample decoded from shards: its images, its hint,
    and (cue style marks) its marked image in place of the one the cue marks."""
    return [
        record_chat_pair(
            s.record.sample,
            s.images,
            cue=s.hint,
            marked_image=s.marked_image,
            marked_index=s.record.cue.marked_image_index,
            privilege=privilege,
            style=style,
        )
        for s in samples
    ]


@dataclass(frozen=True)
class PromptRows:
    """One side's prompts, tokenized once for a whole step and left-padded.

    ``inputs``: input_ids, attention_mask, mm_token_type_ids (N, P); pixel_values
    (patches, C*T*P*P) and image_grid_thw (images, 3) when there are images.
    ``images_per_row`` (N,) says which images (and so which patches) belong to a row.
    :meth:`select` gives the inputs of some rows exactly as tokenizing them alone would:
    a row's tokens and patches do not depend on the other rows, and the left padding is
    trimmed to the longest selected row.
    """

    inputs: Mapping[str, Any]
    images_per_row: tuple[int, ...]

    @classmethod
    def tokenize(
        cls, processor: ImageOnlyProcessor, pairs: Sequence[ChatPair], side: str
    ) -> PromptRows:
        """``side`` (``"student"`` or ``"teacher"``) of ``pairs``, as :func:`pair_batch`."""
        images = [p.student_images if side == "student" else p.teacher_images for p in pairs]
        return cls(pair_batch(processor, pairs, side), tuple(len(i) for i in images))

    def __len__(self) -> int:
        return len(self.images_per_row)

    @property
    def lengths(self) -> torch.Tensor:
        """(N,) prompt tokens per row."""
        return self.inputs["attention_mask"].sum(1)

    def select(self, rows: Sequence[int]) -> PromptRows:
        """The rows ``rows`` (repeats allowed), padded to the longest of them."""
        rows = list(rows)
        width = int(self.lengths[rows].max()) if rows else 0
        selected = {
            key: self.inputs[key][rows][:, self.inputs[key].shape[1] - width :]
            for key in _TOKEN_KEYS
        }
        grid = self.inputs.get("image_grid_thw")
        if grid is not None:
            import torch

            image_start = [0, *itertools.accumulate(self.images_per_row)]
            patch_start = [0, *itertools.accumulate(int(n) for n in grid.prod(-1))]
            images = [i for r in rows for i in range(image_start[r], image_start[r + 1])]
            if images:  # a batch without images has no image keys, as the processor gives
                pixels = self.inputs["pixel_values"]
                selected["pixel_values"] = torch.cat(
                    [pixels[patch_start[i] : patch_start[i + 1]] for i in images]
                )
                selected["image_grid_thw"] = grid[images]
        return PromptRows(selected, tuple(self.images_per_row[r] for r in rows))


_TOKEN_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids")


@dataclass(frozen=True)
class StepBatch:
    """One distill step's rows, built once: every kept sample ``repeats`` times in a row.

    The student's prompts feed the rollout and, with the teacher's, the scoring of each
    micro-batch (:meth:`PromptRows.select`), so no prompt is tokenized twice in a step.
    """

    chats: list[ChatPair]  # (N,)
    answers: list[str | None]  # (N,)
    student: PromptRows  # (N, P_s)
    teacher: PromptRows  # (N, P_t): the hint appended, maybe a marked image
    skipped: int  # samples dropped because a prompt is longer than the limit

    def __len__(self) -> int:
        return len(self.chats)


def build_step_batch(
    student_processor: ImageOnlyProcessor,
    teacher_processor: ImageOnlyProcessor,
    pairs: Sequence[ChatPair],
    answers: Sequence[str | None],
    *,
    max_prompt_len: int,
    repeats: int,
) -> StepBatch:
    """Tokenize both sides of ``pairs`` once, drop the samples whose student or teacher
    prompt is longer than ``max_prompt_len`` (never truncated), repeat the rest.

    The processors must share one tokenizer (:func:`check_same_tokenizer`, which the
    caller runs once, not every step)."""
    student = PromptRows.tokenize(student_processor, pairs, "student")
    teacher = PromptRows.tokenize(teacher_processor, pairs, "teacher")
    import torch

    lengths = torch.maximum(student.lengths, teacher.lengths)
    kept = [i for i, n in enumerate(lengths.tolist()) if n <= max_prompt_len]
    rows = [i for i in kept for _ in range(repeats)]
    return StepBatch(
        chats=[pairs[i] for i in rows],
        answers=[answers[i] for i in rows],
        student=student.select(rows),
        teacher=teacher.select(rows),
        skipped=len(pairs) - len(kept),
    )


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
    teacher = build_prompt_batch(teacher_processor, questions, images, hints=hints, system=system)
    return PromptPair(student=student, teacher=teacher)


def vision_token_ids(processor: ImageOnlyProcessor) -> list[int]:
    """Ids a rollout must never sample (pass as ``suppress_tokens``): a sampled image pad
    would be taken for an image placeholder when the response is scored."""
    return [
        processor.image_token_id,
        processor.video_token_id,
        processor.vision_start_token_id,
        processor.vision_end_token_id,
    ]


def response_mask_until_stop(
    response_ids: torch.Tensor, stop_token_ids: Sequence[int]
) -> torch.Tensor:
    """(B, R) long mask: 1 up to and including each row's first stop token, 0 after."""
    import torch

    is_stop = torch.isin(
        response_ids, torch.tensor(list(stop_token_ids), device=response_ids.device)
    )
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


def build_scoring_batch(
    prompt_inputs: Mapping[str, Any],
    response_ids: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    forbidden_token_ids: Sequence[int] = (),
) -> ScoringBatch:
    """Append ``response_ids`` (B, R) to left-padded prompts (B, P).

    The response keeps its own mask in the attention mask, so padding after EOS
    is ignored. ``forbidden_token_ids`` (see :func:`vision_token_ids`) must not
    appear in the response: the model would take them for image placeholders.
    """
    import torch

    prompt_ids = prompt_inputs["input_ids"]
    if response_ids.ndim != 2 or response_ids.shape[0] != prompt_ids.shape[0]:
        raise ValueError(
            f"response_ids must be (B={prompt_ids.shape[0]}, R), got {tuple(response_ids.shape)}"
        )
    if response_mask.shape != response_ids.shape:
        raise ValueError(
            f"response_mask must have shape {tuple(response_ids.shape)}, "
            f"got {tuple(response_mask.shape)}"
        )
    if bool(prompt_inputs["attention_mask"][:, -1].eq(0).any()):
        raise ValueError("prompts must be left-padded (build them with padding_side='left')")
    if forbidden_token_ids:
        forbidden = torch.tensor(list(forbidden_token_ids), device=response_ids.device)
        if bool(torch.isin(response_ids, forbidden).any()):
            raise ValueError(
                "the response contains vision placeholder tokens; sample with "
                "suppress_tokens=vision_token_ids(processor)"
            )
    response_ids = response_ids.to(prompt_ids.device, prompt_ids.dtype)
    response_mask = response_mask.to(prompt_ids.device).long()
    inputs = {
        key: value
        for key, value in prompt_inputs.items()
        if key not in ("input_ids", "attention_mask", "mm_token_type_ids")
    }
    inputs["input_ids"] = torch.cat([prompt_ids, response_ids], dim=1)
    inputs["attention_mask"] = torch.cat(
        [prompt_inputs["attention_mask"].to(response_mask.dtype), response_mask], dim=1
    )
    prompt_types = prompt_inputs["mm_token_type_ids"]
    inputs["mm_token_type_ids"] = torch.cat(
        [prompt_types, torch.zeros_like(response_ids, dtype=prompt_types.dtype)], dim=1
    )
    return ScoringBatch(
        inputs=inputs,
        response_ids=response_ids,
        response_mask=response_mask,
        prompt_length=prompt_ids.shape[1],
    )
