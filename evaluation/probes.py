"""Same-domain unanswerable probes: the KB's own questions about what it does not hold.

A question from another dataset (another domain) is caught by the relevance gate alone; the
hard case is a question in the KB's own words about an entity or a period the KB lacks, as
"Tesla's automotive revenue" asked of a KB of other companies' filings. Probes are built
from the set's own questions, taken from the end of the list (away from the questions asked
first):

- a question naming a year (TAT-QA's usually do) gets every year replaced by one no indexed
  document mentions (the latest such year up to `LATEST_YEAR`);
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


def absent_year(corpus: str) -> str:
    """The latest year up to LATEST_YEAR that no document mentions."""
    present = set(_YEAR.findall(corpus))
    return next(str(y) for y in range(LATEST_YEAR, 1900, -1) if str(y) not in present)


def absent_entities(domain: str, corpus: str) -> list[str]:
    """The domain's probe names that no document mentions."""
    names = ENTITIES.get(domain, ENTITIES["finance"])
    return [n for n in names if n.lower() not in corpus]


def same_domain_probes(data: AnswerSet, n: int) -> list[EvalQuestion]:
    """`n` questions of the set rewritten to ask about a year or a name the KB lacks."""
    if n <= 0:
        return []
    corpus = corpus_text(data.documents)
    year = absent_year(corpus)
    names = absent_entities(data.domain, corpus)
    if not names:
        raise ValueError(f"every probe name of domain {data.domain!r} appears in the KB")
    entity = cycle(names)
    probes: list[EvalQuestion] = []
    for q in reversed(data.questions):
        if len(probes) == n:
            break
        if _YEAR.search(q.question):
            text = _YEAR.sub(year, q.question)
        elif (match := _NAME.search(q.question)) is not None:
            text = q.question[: match.start()] + next(entity) + q.question[match.end() :]
        else:
            text = f"{q.question.rstrip(' ?')}, for {next(entity)}?"
        probes.append(replace(q, id=f"probe-{q.id}", question=text, gold=(), doc_id=""))
    return probes
