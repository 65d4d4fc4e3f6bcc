"""The extractive answer: sentences quoted from the passages, chosen without a generator.

Every passage that passed the relevance gate is split into sentences (and table rows, which
arrive one per line). Each sentence scores by its cosine to the question under the KB's own
embedder plus the share of the question's content words it holds: the embedder finds the
paraphrase, the words find the exact figure or name a small embedder blurs. Sentences are
then picked greedily, maximal-marginal-relevance style: a sentence too close to one already
picked adds nothing and is skipped. The answer quotes the picked sentences verbatim, each
followed by its passage number `[n]`; nothing is written by a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.grounding import RunInfo
from rag.answer.terms import content_words
from rag.answer.types import Answer, Citation, Passage
from rag.embedding.base import Vectors

Embed = Callable[[Sequence[str]], Vectors]

# Split after sentence punctuation followed by a capital, digit or bracket, and at line ends.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])|\n+")
_WORD = re.compile(r"\w+")
_CUT_END = re.compile(r"[a-z]$")  # prose that stops on a word, without its full stop
MIN_WORDS = 4  # shorter fragments ("Results.", a lone table cell) answer nothing
WORD_WEIGHT = 0.4  # the weight of keyword overlap against the cosine (0.6)
DUPLICATE_COSINE = 0.9  # a candidate this close to a picked sentence says the same thing
MMR_LAMBDA = 0.7  # relevance against novelty when picking the next sentence
KEEP_RATIO = 0.75  # sentences scoring under this share of the best are left out
MAX_SENTENCES = 3
MAX_CHARS = 600  # as the generated answer's cap (rag.answer.prompt.MAX_ANSWER_CHARS)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage, verbatim, and the number of the passage it comes from."""

    passage: int
    text: str


def split_sentences(passage: Passage) -> list[Sentence]:
    """The passage's sentences long enough to say something, in order.

    A chunk is cut by token count, so its first piece may continue a sentence begun in the
    chunk before (it starts in lower case) and its last may stop mid-sentence (it ends on a
    lower-case word): quoting half a sentence would misquote, so both are left out.
    """
    pieces = [p.strip() for p in _SENTENCE_END.split(passage.text)]
    if pieces and pieces[0][:1].islower():
        pieces = pieces[1:]
    if pieces and _CUT_END.search(pieces[-1]):
        pieces = pieces[:-1]
    return [
        Sentence(passage.number, p)
        for p in pieces
        if len(_WORD.findall(p)) >= MIN_WORDS and not p.endswith("…")
    ]


def word_overlap(question_words: set[str], sentence: str) -> float:
    """The share of the question's content words the sentence holds (0 when it has none)."""
    if not question_words:
        return 0.0
    return len(question_words & content_words(sentence)) / len(question_words)


def select(
    scores: Sequence[float], similarity: np.ndarray, limit: int = MAX_SENTENCES
) -> list[int]:
    """Indexes picked by maximal marginal relevance, skipping near-duplicates; best first."""
    if not scores:
        return []
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    floor = scores[order[0]] * KEEP_RATIO
    picked: list[int] = []
    candidates = [i for i in order if scores[i] >= floor]
    while candidates and len(picked) < limit:
        best, best_value = -1, -np.inf
        for i in candidates:
            overlap = max((float(similarity[i, j]) for j in picked), default=0.0)
            value = MMR_LAMBDA * scores[i] - (1 - MMR_LAMBDA) * overlap
            if overlap < DUPLICATE_COSINE and value > best_value:
                best, best_value = i, value
        if best < 0:
            break
        picked.append(best)
        candidates.remove(best)
    return picked


def fitting(sentences: Sequence[Sentence], max_chars: int = MAX_CHARS) -> list[Sentence]:
    """The leading sentences whose quote fits `max_chars` (the first always goes in)."""
    kept: list[Sentence] = []
    used = -1  # no separator before the first
    for sentence in sentences:
        used += len(marked(sentence)) + 1
        if kept and used > max_chars:
            break
        kept.append(sentence)
    return kept


def marked(sentence: Sentence) -> str:
    """The sentence verbatim, followed by its passage number."""
    return f"{sentence.text} [{sentence.passage}]"


def extract(
    question: str, question_vector: Vectors, passages: Sequence[Passage], embed: Embed
) -> list[Sentence]:
    """The sentences of `passages` that best answer `question`, best first."""
    sentences = [s for p in passages for s in split_sentences(p)]
    if not sentences:
        # Passages of fragments only (a table of single cells): quote the best passage whole.
        return [Sentence(passages[0].number, passages[0].text)] if passages else []
    vectors = embed([s.text for s in sentences])
    cosines = vectors @ question_vector  # unit vectors
    words = content_words(question)
    scores = [
        (1 - WORD_WEIGHT) * float(c) + WORD_WEIGHT * word_overlap(words, s.text)
        for s, c in zip(sentences, cosines, strict=True)
    ]
    picked = select(scores, vectors @ vectors.T)
    return [sentences[i] for i in picked]


def quoted_answer(
    question: str, picked: Sequence[Sentence], passages: Sequence[Passage], run: RunInfo
) -> Answer:
    """The Answer quoting `picked`: cited passages, zero generated tokens, `quoted` set."""
    kept = fitting(picked)
    cited = {s.passage for s in kept}
    return Answer(
        question=question,
        answer=" ".join(marked(s) for s in kept),
        answerable=True,
        outcome="answered",
        confidence=None,  # nothing estimated it: the sentences are the evidence
        citations=tuple(Citation.of(p) for p in passages if p.number in cited),
        passages=tuple(passages),
        data=None,
        usage=run.usage,
        timings=run.timings,
        profile=run.profile,
        model=run.model,
        attempts=0,
        quoted=True,
    )
