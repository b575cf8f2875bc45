"""Scores for phrase extraction against hand-labelled gold phrases.

A predicted phrase matches a gold phrase when both are equal after case folding and
whitespace collapsing; each gold phrase matches at most once. Precision and recall
are micro-averaged over all phrases, so a question with many phrases weighs more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cuekit.cues.phrases import PhraseExtractor

__all__ = ["PhraseCase", "PhraseScores", "comparable_phrase", "score_extractor"]


@dataclass(frozen=True)
class PhraseCase:
    """One labelled question: its id, the gold phrases, and a style for reports."""

    id: str
    question: str
    gold: tuple[str, ...]
    style: str = ""


@dataclass
class PhraseScores:
    """Micro-averaged counts, and the misses of each case for error analysis."""

    true_positives: int = 0
    predicted: int = 0
    gold: int = 0
    misses: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 1.0


def comparable_phrase(text: str) -> str:
    """The form a predicted and a gold phrase are compared in: casefolded, spaces folded."""
    return " ".join(text.casefold().split())


def score_extractor(extractor: PhraseExtractor, cases: Iterable[PhraseCase]) -> PhraseScores:
    """Run ``extractor`` on every case; ``misses`` holds (id, extra, missing) per case."""
    scores = PhraseScores()
    for case in cases:
        predicted = [comparable_phrase(p.text) for p in extractor(case.question)]
        gold = Counter(comparable_phrase(g) for g in case.gold)
        matched = Counter(predicted) & gold
        hits = sum(matched.values())
        scores.true_positives += hits
        scores.predicted += len(predicted)
        scores.gold += sum(gold.values())
        extra = list((Counter(predicted) - gold).elements())
        missing: Sequence[str] = list((gold - Counter(predicted)).elements())
        if extra or missing:
            scores.misses.append((case.id, extra, list(missing)))
    return scores
