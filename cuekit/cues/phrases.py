"""Query phrases: the parts of a question worth grounding in the image.

A :class:`PhraseExtractor` turns a question into :class:`~cuekit.schemas.Phrase`
records with exact character spans. Extractors live in a small registry so a
model-based one can be plugged in later; the default, ``"rules"``, needs no
downloads (GLIP-style chunking needs NLTK data, and spaCy models are not on PyPI).

How :class:`RulePhraseExtractor` reads a question:

0. **Read the math.** LaTeX and math symbols are rewritten into words first
   (:mod:`cuekit.cues.latex`): ``\\odot P`` -> "circle P", ``m\\angle ABC`` / ``∠ABC`` ->
   "angle ABC", ``\\overline{AB}`` -> "segment AB"; relations such as ``\\cong`` are
   punctuation; Greek letters are angle names (``\\theta`` -> θ). A phrase's text is
   its reading; its span is its source in the question.
1. **Ignore what is not the question.** The list of choices (everything from a
   ``Choices:``/``Options:`` header, or from an ``(A)``/line-initial ``A.`` with a
   ``(B)``/``B.`` after it), instruction lines (``Hint:``, any line asking to "please
   ... answer"), instructions about the answer ("Round to the nearest tenth", "if
   necessary", "Express your answer in ...", "(Unit: cm)"), any other option marker,
   ``e.g.`` to the end of its line, chart-type names ("bar chart"), named eras
   ("World War II"), who answered a survey ("percentage of people like ...", "how many
   people prefer ...", "the share of X who ..."), statistics of a series ("the high
   median"), a function's signature ("f: R to R"), an "axis of symmetry", a story's
   "kept track of" and sentences on how to answer ("Answer by typing ...").
2. **Tokenize** into words, point labels, numbers and punctuation. Point labels are
   runs of 1-4 capitals (``O``, ``AB``, ``LN``; not the pronoun "I", a sentence-initial
   article "A", nor a shouted word such as "AND"), indexed names (``l1``, ``P2``) and
   single lowercase variables such as ``x`` (not after an apostrophe as in "man's", not
   a unit after a number as in "40 m", not a function name before "(" as in "f(x)",
   and "a" only where it cannot be an article: "lines a and b", "the line a"), a
   letter glued to its coefficient ("2a - 2"), a label glued to a function ("sinA")
   and Greek letters.
3. **Break** on punctuation, numbers, line ends and on listed words: question words,
   determiners, pronouns, prepositions, auxiliaries and common verbs (including
   instruction verbs such as "subtract"), number words, function names ("cos"), units,
   words for the whole image ("figure", "chart"), and measure words that name what is
   asked rather than something visible ("length", "value", "gap"). A run right before a
   measure word names what is measured ("surface area", "scale factor") and is dropped,
   as is one right before a word for the picture ("the composite figure"). A measure
   word that modifies a noun is a noun ("age group"), and a "slant height" is drawn.
   "tangent to" and "are tangent" are relations; "most"/"least" with a participle is a
   superlative; a past tense before a function word is a story's verb ("tracked how");
   the word after "how" asks a measure ("how far"); "the median of the values" is a
   statistic, "center O" a point and "the center of the image" a position.
4. **Chunk.** A run of the remaining words is a candidate phrase, trimmed to its last
   four words and to its last noun. A run made only of adjectives (colours, sizes,
   superlatives, ordinals, left/right/top/bottom...) is dropped, so "to the left of"
   yields nothing while "left hand" is kept; a title-case name keeps its colour word
   ("Web Green"). A lowercase plural ends a run ("the algorithms magic and secure").
   A geometry or chart noun takes the label right after it ("triangle
   ABC", "angle 1", "circle O"), but a length noun takes no number ("radius 5"); other
   labels stand alone. A noun before a LaTeX figure names it in other words and is a
   phrase of its own ("median $\\overline{EF}$"); a generic head before a category's
   name gives way to the name ("the object hut" -> "hut"); a title-case name after
   lowercase modifiers stands alone ("negative Influence Scores"), and a name before a
   measure word is kept ("exports of China peak").
5. **Finish.** Phrases come in order of appearance, deduplicated case-insensitively
   (first occurrence wins; a bare label after a named one, "AB" after "chord AB", is
   the same thing, and so is a later bare "function" after "function g"; but line "b"
   and point "B" are two), at most ``max_phrases`` of them. A phrase that is one of
   the question's answer options ("a shortage or a surplus?") is dropped: a cue that
   names the right option leaks it.

Measured on the hand-labelled questions of ``tests/cues/phrase_gold*.jsonl`` (sets A-E;
see ``tests/cues/test_phrase_quality.py`` and BENCHMARKS.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cuekit.cues.latex import read_math
from cuekit.errors import ConfigError
from cuekit.schemas import Phrase

__all__ = [
    "PhraseExtractor",
    "RulePhraseExtractor",
    "get_phrase_extractor",
    "phrase_extractor_names",
    "register_phrase_extractor",
]


@runtime_checkable
class PhraseExtractor(Protocol):
    """``extractor(question) -> phrases`` with exact spans, in order of appearance."""

    name: str

    def __call__(self, question: str) -> list[Phrase]: ...


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# What is asked, not what is visible. A noun right before one names what is measured
# ("surface area", "scale factor", "age gap") and is no phrase either.
MEASURE_WORDS = _words(
    "length lengths measure measures measurement value values difference sum total average "
    "mean mode ratio area perimeter circumference volume degree degrees percent "
    "percentage proportion number numbers amount size height width distance year years "
    "peak time color colour shape kind type name part option options choice choices letter "
    "integer decimal place places result solution maximum minimum max min rate trend data "
    "information relationship frequency probability factor gap age decline growth drop "
    "derivative price cost money fraction equation amplitude period zero zeros intercept "
    "intercepts y-intercept x-intercept material elevation slope speed weight temperature "
    "colors colours kinds types names sizes share shares domain range appeal "
    # what a function question asks: "the limit as x approaches 0", "slope-intercept form"
    "limit limits interval intervals form symmetry asymptote asymptotes "
    # plurals of what is measured
    "measurements dimensions"
)

# Words for the whole picture: a run right before one describes the picture ("the
# composite figure"), not a thing in it.
WHOLE_PICTURE = _words(
    "image images picture pictures photo photos figure figures diagram "
    "diagrams graph graphs chart charts plot plots ad ads advertisement pie"
)

STOPWORDS = _words(
    # question words, determiners, pronouns
    "what which who whom whose where when why how many much the a an this that these those "
    "there here it its they them their theirs he him his she her hers we us our you your i me "
    "my mine one ones each every all any some other another same own both either neither "
    "such something anything nothing everything someone "
    # prepositions, conjunctions, adverbs
    "of in on at to from by with without for about into onto over under between among "
    "through during before after above below behind beside besides near across along around "
    "against toward towards upon within beneath inside outside and or but nor not no yes if "
    "then than so as also only just very more most less least too approximately about nearly "
    "exactly respectively together apart per via "
    # auxiliaries and common verbs
    "is are was were be been being am do does did done has have had having can could will "
    "would shall should may might must isn aren wasn weren don doesn didn won can't "
    "find calculate compute determine choose select pick estimate round write provide solve "
    "tell describe explain identify state give given let suppose assume denote denoted "
    "represent represents represented show shows shown see seen look looks looking appear "
    "appears reach reaches reached hold holds holding held wear wears wearing sit sits sitting "
    "stand stands standing carry carries carrying ride rides riding play plays playing eat "
    "eats eating use uses used using make makes made get gets got go goes going take takes "
    "taking intersect intersects intersecting bisect bisects cross crosses meet meets lie "
    "lies lying pass passes passing draw drawn measure measured label labeled labelled mark "
    "marked increase increases increased decrease decreases decreased change changes changed "
    "compare compared exceed exceeds remain remains become becomes contain contains containing "
    "locate located inscribed circumscribed equal equals based according rounded correct "
    "please answer question following note hint true false written printed directly "
    # instruction and story verbs: what to do, or what happened off the picture
    "subtract add remove count move consider express exist exists necessary born died end "
    "like likes lean leans away whole final fewer greater sold sell sells need needs buy buys "
    "prefer prefers likely reported cast casts approve approves say says said think thinks "
    "agree agrees preferred increasing decreasing graphed plotted pictured depicted "
    "illustrated displayed liked chose choose chooses voted showed "
    # story verbs of a table's word problem ("kept track of how many laps he drove")
    "kept drove spent read reading wrote ran saw bought grew "
    # what a function question asks about the graph: "grows", "approaches", "injective"
    "grow grows approach approaches approaching injective surjective bijective continuous "
    "differentiable "
    # number words
    "two three four five six seven eight nine ten pair pairs "
    # measure words (MEASURE_WORDS)
    + " ".join(sorted(MEASURE_WORDS))
    + " "
    # units
    "cm mm km m inch inches ft feet meter meters metre metres centimeter centimeters "
    "centimetre centimetres unit units "
    # the whole picture (WHOLE_PICTURE)
     + " ".join(sorted(WHOLE_PICTURE))
)

ADJECTIVES = _words(
    # colours and shades
    "red blue green yellow orange purple violet pink brown black white gray grey cyan magenta "
    "gold golden silver dark light shaded dashed dotted solid striped "
    # sizes and materials (CLEVR-style scenes)
    "big small large tiny huge tall short long little wide narrow thick thin metal metallic "
    "rubber shiny matte "
    # superlatives and comparatives
    "tallest shortest largest smallest biggest highest lowest longest widest narrowest "
    "greatest least most leftmost rightmost topmost bottommost uppermost lowermost darkest "
    "lightest heaviest oldest youngest best worst closest farthest nearest smoothest roughest "
    "taller shorter larger smaller bigger higher lower longer wider fastest slowest "
    # signs
    "negative positive "
    # ordinals
    "first second third fourth fifth sixth seventh eighth ninth tenth last next previous past "
    # positions
    "left right top bottom upper lower middle center centre front back inner outer "
    # geometric qualities
    "parallel perpendicular opposite adjacent acute obtuse isosceles equilateral congruent "
    "similar regular central supplementary complementary vertical horizontal"
)

# Functions of a label ("cos B"); only in lower case, so "LN" stays a segment.
FUNCTION_NAMES = _words("sin cos tan cot sec csc log ln exp")

# Singular nouns that may take a point label or index right after them ("triangle ABC",
# "angle 1"); plurals do not ("sides 3 and 4").
LABELLED_NOUNS = _words(
    "point line segment ray angle triangle circle square rectangle quadrilateral parallelogram "
    "trapezoid rhombus kite polygon pentagon hexagon octagon chord arc radius diameter tangent "
    "side vertex sector region face edge plane cone cylinder sphere cube prism pyramid bar "
    "column slice series curve axis dot marker diagonal median altitude bisector function "
    "hypotenuse leg base midsegment semicircle center centre"
)

# Labelled nouns that are lengths: a number after one is its size ("radius 5"), not
# its index ("angle 1").
LENGTH_NOUNS = _words("radius diameter side leg hypotenuse base edge altitude chord diagonal")
# Verbs that are also names of visible things: after a determiner or an adjective they
# are nouns ("the cross", "a red mark"), elsewhere verbs ("lines that cross").
VERB_NOUNS = _words("cross crosses mark marks label labels stand stands pass passes")
# Words a question may shout; any other run of 2-4 capitals is a label.
_CAPITALISED_WORDS = _words("AND OR NOT THE ALL NO YES IS ARE TRUE FALSE NONE")
_LABEL_WORD = re.compile(r"[A-Z]{1,4}['′]?|[A-Za-z]\d{0,2}")
_DETERMINERS = _words("the a an this each every its their")
_NEXT_WORD = re.compile(r"[ \t]+([A-Za-z]+)")
# What follows "a" when it names something instead of being an article.
_OPERATOR = re.compile(r"\s*[-+=*/^)<>]")
_NOT_ARTICLE = re.compile(r"\s*(?:[,.;:?!=)]|$|(?:and|or|is|are)\b)")

# Measure words that name a drawn segment when their modifier comes first: a cone's
# "slant height" is a line in the figure, a "height" alone is what is asked.
DRAWN_MEASURES = frozenset({("slant", "height")})
# Nouns that are relations when "to" follows: "PA is tangent to circle O".
RELATION_NOUNS = _words("tangent")
# Plurals that are not plural nouns, so "series A" stays one run.
_NOT_PLURAL = ("ss", "us", "is", "series", "species")
_SUPERLATIVE = _words("most least")
# A relation after a copula is a predicate: "segments that appear to be tangent".
_COPULAS = _words("be is are was were being been appear appears seem seems")
# Statistics of a series share a name with drawn segments: "the median of the values"
# is computed, "a median of triangle ABC" is drawn.
_STATISTICS = _words("median mean mode")
# Points that are positions too: "the center of the circle" and "center O" are drawn,
# "the center of the image" is where something is.
_POINT_POSITIONS = _words("center centre")
# Generic heads before a category's name: "the object hut", "the item pen".
APPOSITIVE_HEADS = _words("object item algorithm dataset model method category")
# Words whose kind depends on their neighbours (see _kind_in_context).
_CONTEXT_WORDS = MEASURE_WORDS | RELATION_NOUNS | _SUPERLATIVE | _STATISTICS | _POINT_POSITIONS
_OF_THE_NEXT = re.compile(r"[ \t]+of[ \t]+(?:the[ \t]+)?([A-Za-z]+)")

_MAX_RUN_WORDS = 4

# Where a list of choices starts: a header, or a first option with a second after it.
_CHOICES_STARTS = (
    (re.compile(r"\b(?:choices|options)\s*:", re.IGNORECASE), None),
    (re.compile(r"\(\s*A\s*\)"), re.compile(r"\(\s*B\s*\)")),
    (re.compile(r"^[ \t]*A[.):]\s", re.MULTILINE), re.compile(r"^[ \t]*B[.):]\s", re.MULTILINE)),
)
# One option of a list of choices: "(A) shortage", "B. 40".
_CHOICE_TEXT = re.compile(r"(?:\(\s*[A-H]\s*\)|^[ \t]*[A-H][.):])[ \t]*([^\n(]+)", re.MULTILINE)
# Other spans that are not part of the question proper.
_IGNORED_SPANS = (
    re.compile(r"^[ \t]*hint\s*:.*$", re.IGNORECASE | re.MULTILINE),
    re.compile(r"\(\s*[A-Ha-h]\s*\)"),
    re.compile(r"^[ \t]*[A-H][.):](?=\s)", re.MULTILINE),
    re.compile(r"\b(?:e\.g|i\.e|etc)\..*$", re.IGNORECASE | re.MULTILINE),
    # Instructions about the answer, not the picture: "Round to the nearest tenth if
    # necessary", "Express your answer in simplest radical form", "(Unit: cm)".
    re.compile(r"^.*\bplease\b.*\banswer\b.*$", re.IGNORECASE | re.MULTILINE),
    re.compile(
        r"\b(?:round(?:ed)?|express(?:ed)?|give|write|leave|correct)\b(?:\s+(?:your|the)"
        r"\s+answers?)?\s+(?:to|in|as)\b[^.?!\n]*",
        re.IGNORECASE,
    ),
    re.compile(
        r"\bto the nearest\b[^.?!\n]*|\bif necessary\b|\bin simplest\b[^.?!\n]*", re.IGNORECASE
    ),
    re.compile(r"\(\s*units?\s*:[^)]*\)", re.IGNORECASE),
    # Who answered a survey is not drawn: "percentage of people like ...", "70 percent
    # of people"; nor is a statistic of a series: "the high median".
    re.compile(
        r"(?:\b(?:percent(?:age)?|share|proportion|fraction)|%)\s+of\s+(?:the\s+)?"
        r"(?:people|respondents|persons|adults|users|voters|customers|participants)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:high|low)\s+median\b", re.IGNORECASE),
    # A survey population as the subject of its answers ("how many people like ...", "the
    # share of Republicans who support ..."): the answers are drawn, who gave them is not.
    re.compile(
        r"\b(?:people|respondents|persons|adults|users|voters|customers|participants)\s+"
        r"(?:like|likes|liked|prefer|prefers|preferred|chose|choose|voted|said|think)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"(?:\b(?:percent(?:age)?|share|proportion|fraction)|%)\s+of\s+(?:the\s+)?\w+\s+"
        r"(?P<skip>who\b.*?)(?=\b(?:greater|less|more|fewer|higher|lower|than)\b|[.?!,;\n]|$)",
        re.IGNORECASE,
    ),
    # What a function question asks: its signature "(f: R to R)", an "axis of symmetry".
    re.compile(r"\(?\b[a-z]\s*:\s*R\s*(?:to|->|→)\s*R\b\)?"),
    re.compile(r"\b(?:axis|axes|line|lines)\s+of\s+symmetry\b", re.IGNORECASE),
    # How to answer: "Answer by typing a time word", and a story's "kept track of".
    re.compile(r"(?:^|(?<=[.?!]\s))answer\b[^.?!\n]*", re.IGNORECASE | re.MULTILINE),
    re.compile(r"\b(?:kept|keep|keeps|keeping)\s+track\s+of\b", re.IGNORECASE),
    # Events and eras are world knowledge, not something drawn.
    re.compile(r"\bWorld War (?:I{1,2}|One|Two)\b"),
    # The chart type names the whole picture: "bar chart" is not a bar.
    re.compile(r"\b(?:bar|line|pie|scatter|column|area)\s+(?:chart|graph|plot)s?\b", re.IGNORECASE),
)
_TOKEN = re.compile(
    r"(?P<indexed>\b[A-Za-z]\d{1,2}\b)"  # "l1", "P2": an indexed line or point
    r"|(?P<function>\b(?:sin|cos|tan|cot|sec|csc)(?=[A-Z]{1,3}\b))"  # "sinA": the A
    r"|(?P<greek>[αβγδεθλμφψω])"  # an angle's name
    r"|(?P<word>[A-Za-z]+(?:-[A-Za-z]+)*)"
    r"|(?P<number>\d+(?:\.\d+)?)"
    r"|(?P<other>\S)"
)


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int
    kind: str  # "noun", "adjective", "labelled", "label", "number", "measure" or "break"


def _ignored_mask(question: str) -> list[bool]:
    """True at every character the extractor must not read."""
    mask = [False] * len(question)
    for first, second in _CHOICES_STARTS:
        match = first.search(question)
        if match is not None and (second is None or second.search(question, match.end())):
            mask[match.start() :] = [True] * (len(question) - match.start())
    for pattern in _IGNORED_SPANS:
        for match in pattern.finditer(question):
            # A pattern with a "skip" group ignores only that group; its context stays.
            start, end = match.span("skip") if "skip" in pattern.groupindex else match.span()
            mask[start:end] = [True] * (end - start)
    return mask


def _sentence_start(question: str, start: int) -> bool:
    before = question[:start].rstrip(" \t")
    return not before or before[-1] in ".?!:\n"


def _previous_word(question: str, start: int) -> str:
    """The word (letters only, lower case) right before ``start``, past spaces and tabs;
    ``""`` when something else comes first. A backward scan, not a regex over the
    whole prefix: it runs for every word."""
    end = start
    while end > 0 and question[end - 1] in " \t":
        end -= 1
    if end == start:
        return ""
    begin = end
    while begin > 0 and question[begin - 1].isascii() and question[begin - 1].isalpha():
        begin -= 1
    return question[begin:end].lower()


def _after_determiner_or_adjective(question: str, start: int) -> bool:
    return _previous_word(question, start) in _DETERMINERS | ADJECTIVES


def _kind_in_context(question: str, match: re.Match[str], lower: str) -> str | None:
    """The kind of a word that its neighbours decide, or None (the word's own kind)."""
    following = _NEXT_WORD.match(question, match.end())
    next_word = following.group(1).lower() if following else ""
    previous_word = _previous_word(question, match.start())
    if (previous_word, lower) in DRAWN_MEASURES:
        return "noun"
    if lower in RELATION_NOUNS and (next_word == "to" or previous_word in _COPULAS):
        return "break"
    if lower in _STATISTICS or lower in _POINT_POSITIONS:
        of_what = _OF_THE_NEXT.match(question, match.end())
        owner = of_what.group(1).lower() if of_what else ""
        if lower in _STATISTICS and owner in MEASURE_WORDS:
            return "measure"  # "the median of the values"
        # "center O", "the center of the circle": a point; "the center of the image",
        # "which point is the center": a position, or what is asked.
        if lower in _POINT_POSITIONS and (owner in WHOLE_PICTURE or not owner):
            label_next = following is not None and _LABEL_WORD.fullmatch(following.group(1))
            return None if label_next and not owner else "adjective"
    # "the most preferred object": a superlative, and its participle an adjective.
    if (
        lower in _SUPERLATIVE
        and next_word
        and (next_word not in STOPWORDS or next_word.endswith("ed"))
    ):
        return "adjective"
    if previous_word in _SUPERLATIVE and lower.endswith("ed"):
        return "adjective"
    # A past tense before a function word is a story's verb: "the class tracked how
    # many", "liked by". After a determiner or an adjective it is a noun ("the shed").
    if (
        lower.endswith("ed")
        and len(lower) > 3
        and lower not in ADJECTIVES
        and next_word in STOPWORDS
        and previous_word not in _DETERMINERS | ADJECTIVES
    ):
        return "break"
    # A measure word right before a noun modifies it: "age group", "data points".
    if (
        lower in MEASURE_WORDS
        and next_word
        and next_word not in STOPWORDS
        and next_word not in ADJECTIVES
    ):
        return "noun"
    return None


def _word_kind(question: str, match: re.Match[str]) -> str:
    word = match.group()
    lower = word.lower()
    start = match.start()
    if len(word) == 1:
        # A letter glued to its coefficient in a formula is a variable: "2a - 2".
        if start > 0 and question[start - 1].isdigit() and _OPERATOR.match(question, match.end()):
            return "label"
        if word == "I" or lower == "a" and _sentence_start(question, start):
            return "break"
        if word == "a" and (
            _NOT_ARTICLE.match(question, match.end())
            or _previous_word(question, start) in LABELLED_NOUNS
        ):
            return "label"  # "lines a and b", "the line a": a line's name, not an article
        if word.isupper():
            return "label"
        after_apostrophe = start > 0 and question[start - 1] in "'’"
        # "40 m" is a unit, "f(x)" a function; neither is drawn as a label.
        unit = (
            word in STOPWORDS and question[max(start - 8, 0) : start].rstrip(" \t")[-1:].isdigit()
        )
        function = question[match.end() : match.end() + 1] == "("
        if after_apostrophe or unit or function or lower == "a":
            return "break"
        return "label"
    if word.isupper() and len(word) <= 4 and word not in _CAPITALISED_WORDS:
        return "label"  # "BE", "LN", "GDP": capitals name points and acronyms
    if word in FUNCTION_NAMES:
        return "break"
    if question[max(start - 4, 0) : start].lower() == "how ":
        return "break"  # "how far", "how high": asks for a measure
    if lower in _CONTEXT_WORDS or lower.endswith("ed"):
        kind = _kind_in_context(question, match, lower)
        if kind is not None:
            return kind
    if lower in VERB_NOUNS and _after_determiner_or_adjective(question, start):
        return "noun"
    if lower in MEASURE_WORDS:
        return "measure"
    if lower in STOPWORDS:
        return "break"
    if lower in LABELLED_NOUNS:
        return "labelled"
    if lower in ADJECTIVES:
        return "adjective"
    return "noun"


def _tokens(question: str) -> list[_Token]:
    mask = _ignored_mask(question)
    tokens: list[_Token] = []
    previous_end = 0
    for match in _TOKEN.finditer(question):
        start, end = match.span()
        if "\n" in question[previous_end:start] and tokens:
            tokens.append(_Token("\n", previous_end, start, "break"))
        previous_end = end
        if any(mask[start:end]):
            kind = "break"
        elif match.lastgroup in ("indexed", "greek"):
            kind = "label"
        elif match.lastgroup == "word":
            kind = _word_kind(question, match)
        elif match.lastgroup == "number":
            kind = "number"
        else:
            kind = "break"
        tokens.append(_Token(match.group(), start, end, kind))
    return tokens


def _title(token: _Token) -> bool:
    return token.text[:1].isupper() and token.kind != "label"


def _run_span(run: list[_Token]) -> tuple[int, int] | None:
    """The span of a run of content tokens, or None when it names nothing."""
    # English puts the head noun last: drop trailing adjectives ("circle shaded"),
    # then keep the last few words. A run of adjectives only ends up empty.
    # A name in title case keeps its last word, colour or not ("Web Green").
    name = len(run) > 1 and all(_title(t) for t in run)
    # A name after lowercase modifiers stands alone: "negative Influence Scores".
    if len(run) > 2 and not name and _title(run[-1]) and _title(run[-2]):
        while not _title(run[0]):
            run = run[1:]
        name = True
    while run and run[-1].kind == "adjective" and not name:
        run = run[:-1]
    run = run[-_MAX_RUN_WORDS:]
    if not run:
        return None
    return run[0].start, run[-1].end


def _plural_head(run: list[_Token], token: _Token) -> bool:
    """True when ``token`` starts a name after a lowercase plural noun: "the algorithms
    magic and secure". English rarely modifies a noun with a plural."""
    if not run or token.kind == "adjective" or run[-1].kind != "noun":
        return False
    last = run[-1].text
    return (
        last.islower() and len(last) > 3 and last.endswith("s") and not last.endswith(_NOT_PLURAL)
    )


def _chunk(
    tokens: list[_Token], question: str, figures: frozenset[int] = frozenset()
) -> list[tuple[int, int]]:
    """Spans of phrases; ``figures`` are where LaTeX figure nouns start in ``question``."""
    spans: list[tuple[int, int]] = []
    run: list[_Token] = []

    def close() -> None:
        span = _run_span(run)
        if span is not None:
            spans.append(span)
        run.clear()

    for token in tokens:
        if token.kind in ("noun", "adjective", "labelled"):
            if run and run[-1].kind in ("label", "number") or _plural_head(run, token):
                close()
            # "median $\overline{EF}$": a noun before a figure command names the same
            # thing in other words; an adjective before one describes it ("isosceles").
            elif token.start in figures and any(t.kind != "adjective" for t in run):
                close()
            # "the object hut": the category's name, not the generic head before it.
            elif (
                token.kind == "noun"
                and token.text.islower()
                and len(run) == 1
                and run[0].text in APPOSITIVE_HEADS
            ):
                run.clear()
            run.append(token)
        elif token.kind in ("label", "number"):
            if (
                run
                and run[-1].kind == "labelled"
                and not (token.kind == "number" and run[-1].text.lower() in LENGTH_NOUNS)
            ):
                run.append(token)  # "triangle ABC", "angle 1"
                close()
            elif token.kind == "label":
                close()
                spans.append((token.start, token.end))
            else:
                close()
        elif (
            token.kind == "measure"
            and run
            and question[run[-1].end : token.start].isspace()
            and not (_title(run[-1]) and not _sentence_start(question, run[-1].start))
        ):
            run.clear()  # "surface area": the run names what is measured, not a thing
            # (a name is not: "did exports of China peak")
        elif (
            token.text.lower() in WHOLE_PICTURE
            and run
            and question[run[-1].end : token.start].isspace()
        ):
            run.clear()  # "the composite figure": the run describes the picture
        else:
            close()
    close()
    return spans


def _dedup_key(text: str) -> str:
    """Case-insensitive, but for one letter: line "b" and point "B" are two things."""
    return text if len(text) == 1 else text.lower()


class RulePhraseExtractor:
    """The default, rule-based extractor; see the module docstring for its rules."""

    name = "rules"

    def __init__(self, max_phrases: int = 12) -> None:
        if max_phrases < 1:
            raise ValueError(f"max_phrases must be at least 1, got {max_phrases}")
        self.max_phrases = max_phrases

    def __call__(self, question: str) -> list[Phrase]:
        phrases: list[Phrase] = []
        seen: set[str] = set()
        # Tokens are read from the rewrite of the LaTeX; spans point at the original.
        reading = read_math(question)
        # The options a question weighs ("a shortage or a surplus") are what is to be
        # decided: a cue that names the right one leaks, so they are no evidence.
        seen.update(_dedup_key(m.group(1).strip()) for m in _CHOICE_TEXT.finditer(reading.text))
        for start, end in _chunk(_tokens(reading.text), reading.text, reading.figures):
            text = " ".join(reading.text[start:end].split())  # LaTeX leaves double spaces
            if _dedup_key(text) in seen:
                continue
            seen.add(_dedup_key(text))
            # "chord AB" and a later bare "AB" are one thing: keep the named one.
            words = text.split()
            if len(words) > 1 and _LABEL_WORD.fullmatch(words[-1]):
                # "function g" and a later bare "function" are one thing too.
                seen.update({_dedup_key(words[-1]), " ".join(words[:-1]).lower()})
            source_start, source_end = reading.source_span(start, end)
            phrases.append(Phrase(text=text, start=source_start, end=source_end))
            if len(phrases) == self.max_phrases:
                break
        return phrases


PhraseExtractorFactory = Callable[[], PhraseExtractor]

_EXTRACTORS: dict[str, PhraseExtractorFactory] = {"rules": RulePhraseExtractor}


def phrase_extractor_names() -> list[str]:
    return sorted(_EXTRACTORS)


def register_phrase_extractor(name: str, factory: PhraseExtractorFactory) -> None:
    """Register ``factory`` (called with no arguments) under ``name``."""
    if not name:
        raise ValueError("a phrase extractor needs a non-empty name")
    _EXTRACTORS[name] = factory


def get_phrase_extractor(name: str = "rules") -> PhraseExtractor:
    """A new instance of the extractor registered under ``name``."""
    if name not in _EXTRACTORS:
        raise ConfigError(
            f"unknown phrase extractor {name!r}; choose one of: "
            f"{', '.join(phrase_extractor_names())}"
        )
    return _EXTRACTORS[name]()
