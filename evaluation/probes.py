"""Same-domain unanswerable probes: the KB's own questions about what it does not hold.

A question from another dataset (another domain) is caught by the relevance gate alone; the
hard case is a question in the KB's own words about an entity or a period the KB lacks, as
"Tesla's automotive revenue" asked of a KB of other companies' filings. Probes are built
from the set's own questions, taken from the end of the list (away from the questions asked
first):

- a question naming years (TAT-QA's usually do) gets them replaced by years no indexed
  document mentions (the latest such years up to `LATEST_YEAR`, in the same order);
- any other question gets a named entity no document mentions: its first capitalised name
  replaced by one, or, when it names none, ", for <name>?" appended.

Names come from `ENTITIES` per domain (companies for finance, drugs for medicine), each
checked absent from every indexed document. The right answer to every probe is an abstention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from itertools import cycle

from evaluation.answers import AnswerSet, EvalQuestion
from rag.types import Document

LATEST_YEAR = 2025
ENTITIES = {
    "finance": ("Tesla", "NVIDIA", "Pfizer", "Netflix", "Moderna", "Airbnb", "Snowflake"),
    "medical": ("Comirnaty", "Paxlovid", "Wegovy", "Leqembi", "Mounjaro", "Zolgensma"),
}
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_NAME = re.compile(r"(?<=[\s(])[A-Z][A-Za-z0-9\-]+")


def corpus_text(documents: Sequence[Document]) -> str:
    """Every indexed word, lower-cased: what a probe's swapped term must not appear in."""
    return "\n".join(
        f"{d.title}\n" + "\n".join(s.text for s in d.sections) for d in documents
    ).lower()


def absent_years(corpus: str) -> list[str]:
    """The years up to LATEST_YEAR that no document mentions, latest first."""
    present = set(_YEAR.findall(corpus))
    return [str(y) for y in range(LATEST_YEAR, 1900, -1) if str(y) not in present]


def shift_years(question: str, absent: list[str]) -> str:
    """The question with its years, latest first, mapped onto `absent`, latest first."""
    years = sorted(set(_YEAR.findall(question)), reverse=True)
    mapping = dict(zip(years, absent, strict=False))
    return _YEAR.sub(lambda m: mapping[m.group(0)], question)


def absent_entities(domain: str, corpus: str) -> list[str]:
    """The domain's probe names that no document mentions."""
    names = ENTITIES.get(domain, ENTITIES["finance"])
    return [n for n in names if n.lower() not in corpus]


def same_domain_probes(data: AnswerSet, n: int) -> list[EvalQuestion]:
    """`n` questions of the set rewritten to ask about a year or a name the KB lacks."""
    if n <= 0:
        return []
    corpus = corpus_text(data.documents)
    years = absent_years(corpus)
    names = absent_entities(data.domain, corpus)
    if not names:
        raise ValueError(f"every probe name of domain {data.domain!r} appears in the KB")
    entity = cycle(names)
    probes: list[EvalQuestion] = []
    for q in reversed(data.questions):
        if len(probes) == n:
            break
        if _YEAR.search(q.question) and len(set(_YEAR.findall(q.question))) <= len(years):
            text = shift_years(q.question, years)
        elif (match := _NAME.search(q.question)) is not None:
            text = q.question[: match.start()] + next(entity) + q.question[match.end() :]
        else:
            text = f"{q.question.rstrip(' ?')}, for {next(entity)}?"
        probes.append(replace(q, id=f"probe-{q.id}", question=text, gold=(), doc_id=""))
    return probes
