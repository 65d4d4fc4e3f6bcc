"""Answer evaluation on PubMedQA or TAT-QA: quality, contract rates, abstention, latency.

The dataset's contexts are ingested into a KB kept in the workspace (keyed by the data file
and the chunking settings, so re-runs skip the embedding). Each question goes through the
full answer path. PubMedQA is asked with an analyst schema holding a yes/no/maybe `decision`
(scored against `final_decision`), or as free text (`free_text`: token F1 of the answer
against the abstract's conclusion, `long_answer`), which every profile can answer; TAT-QA
with the default schema (exact match and token F1 of the answer text). Probes are questions
the KB cannot answer: of the other dataset (another domain), or of this one rewritten to ask
about a name or a year the KB lacks (`evaluation.probes`); the right answer is an abstention.
Abstentions and failures score zero on quality.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from tqdm import tqdm

from evaluation.metrics import mean
from evaluation.pubmedqa import DECISIONS, is_pubmedqa, load_pubmedqa, pubmedqa_documents
from evaluation.tatqa import exact_match, load_tatqa, tatqa_documents, tatqa_file, token_f1
from indexer.ingest import Ingestor
from rag.answer import Answer, Answerer, AnswerError, AnswerRequest, AnswerTruncatedError
from rag.errors import InvalidInputError
from rag.generation.base import JSONSchema
from rag.types import Document, SearchMode
from rag.workspace import OpenKB, Workspace

DatasetKind = Literal["pubmedqa", "tatqa"]
MAX_ERRORS = 5
DECISION_SCHEMA: JSONSchema = {
    "type": "object",
    "properties": {
        "decision": {"enum": list(DECISIONS)},
        "answer": {"type": "string", "maxLength": 300},
    },
    "required": ["decision", "answer"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class EvalQuestion:
    """One question to ask, its gold answer, and the document that holds it."""

    id: str
    question: str
    gold: tuple[str, ...]  # PubMedQA: (decision,); TAT-QA: the gold spans
    doc_id: str  # the document that holds the answer
    long_answer: str = ""  # PubMedQA: the abstract's conclusion, the free-text gold


@dataclass(frozen=True)
class AnswerSet:
    """A dataset ready to evaluate: what to index, what to ask, with which schema."""

    kind: DatasetKind
    source: Path
    domain: str
    documents: list[Document]
    questions: list[EvalQuestion]
    schema: JSONSchema | None


def detect_kind(folder: Path) -> DatasetKind:
    """PubMedQA when the folder holds qa.jsonl, TAT-QA when it holds tatqa_dataset_*.json."""
    if is_pubmedqa(folder):
        return "pubmedqa"
    if tatqa_file(folder) is not None:
        return "tatqa"
    raise InvalidInputError(f"{folder} holds neither PubMedQA (qa.jsonl) nor TAT-QA data")


def load_answer_set(folder: Path, corpus: int | None = None, free_text: bool = False) -> AnswerSet:
    """The dataset in `folder`; `corpus` caps how many contexts are indexed (and asked).

    `free_text` asks PubMedQA without the decision schema (TAT-QA is always free text).
    """
    if detect_kind(folder) == "pubmedqa":
        items = load_pubmedqa(folder)[:corpus]
        questions = [
            EvalQuestion(i.id, i.question, (i.decision,), i.doc_id, i.long_answer) for i in items
        ]
        return AnswerSet(
            "pubmedqa",
            folder / "qa.jsonl",
            "medical",
            pubmedqa_documents(items),
            questions,
            None if free_text else DECISION_SCHEMA,
        )
    contexts = load_tatqa(folder)[:corpus]
    # Round-robin over contexts: a sample of any size spreads over many reports.
    depth = max((len(c.questions) for c in contexts), default=0)
    questions = [
        EvalQuestion(c.questions[d].uid, c.questions[d].question, c.questions[d].answers, c.doc_id)
        for d in range(depth)
        for c in contexts
        if d < len(c.questions)
    ]
    path = tatqa_file(folder)
    assert path is not None  # detect_kind found it
    return AnswerSet("tatqa", path, "finance", tatqa_documents(contexts), questions, None)


@dataclass(frozen=True)
class AskResult:
    """One question's outcome: what happened, its quality scores, and its wall time."""

    outcome: str  # an Answer outcome, or "invalid" / "truncated"
    seconds: float
    score: float = 0.0  # PubMedQA: decision correct; TAT-QA: exact match
    f1: float = 0.0
    cites_gold: bool = False
    citations_valid: bool = False  # every citation names a passage given, with its chunk
    error: str = ""  # why an answer failed (truncated or invalid)


class AnswerReport(BaseModel):
    """What `rag eval answers` prints (its `model_dump`): quality and contract rates, failures."""

    dataset: str
    kind: DatasetKind
    profile: str
    model: str
    mode: SearchMode
    k: int
    metrics: dict[str, float] = Field(default_factory=dict)
    probes: dict[str, float] = Field(default_factory=dict)  # other-domain probes
    domain_probes: dict[str, float] = Field(default_factory=dict)  # same-domain probes
    # PubMedQA questions whose abstract is not indexed: same domain, nothing swapped.
    held_out_probes: dict[str, float] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)  # the first few failures, for diagnosis


def eval_kb(ws: Workspace, data: AnswerSet, progress: bool = False) -> OpenKB:
    """The cached KB of the dataset's contexts, ingested (unchanged documents are skipped)."""
    s = ws.settings
    key = f"{data.source.resolve()}|{len(data.documents)}|{s.chunk_tokens}|{s.chunk_overlap}"
    name = f"eval-answers-{data.kind}-{hashlib.blake2b(key.encode(), digest_size=5).hexdigest()}"
    if name not in {c.name for c in ws.list()}:
        ws.create(name, domain=data.domain)
    kb = ws.open(name)
    try:
        Ingestor.for_kb(kb, s).ingest_documents(data.documents, progress=progress)
    except BaseException:
        kb.close()
        raise
    return kb


async def evaluate_answers(
    answerer: Answerer,
    kb: OpenKB,
    data: AnswerSet,
    probes: Sequence[EvalQuestion] = (),
    *,
    domain_probes: Sequence[EvalQuestion] = (),
    held_out_probes: Sequence[EvalQuestion] = (),
    limit: int = 20,
    profile: str | None = None,
    mode: SearchMode = "hybrid",
    k: int | None = None,
    progress: bool = False,
) -> AnswerReport:
    """Ask `limit` questions and the probes; summarise quality, rates and latency."""
    name = answerer.router.resolve(kb.config.domain, profile, data.schema is not None)
    if data.schema is not None and not answerer.router.fills_schemas(name):
        raise InvalidInputError(
            f"profile {name!r} quotes passages and cannot fill PubMedQA's decision schema: "
            "ask the questions as free text (--free-text)"
        )
    model = answerer.model_name(kb, name)
    report = AnswerReport(
        dataset=kb.config.name,
        kind=data.kind,
        profile=name,
        model=model,
        mode=mode,
        k=k or answerer.k,
    )
    questions = data.questions[:limit]
    if not questions:
        raise InvalidInputError("no questions to ask (is --limit at least 1?)")
    base = AnswerRequest("", mode=mode, k=k, schema=data.schema, profile=profile)
    asked = [
        await _ask(answerer, kb, base, q, data.kind)
        for q in tqdm(questions, desc="questions", disable=not progress)
    ]
    report.metrics = summarize(asked, data.kind, free_text=data.schema is None)
    probe_sets = (
        (probes, "probes"),
        (domain_probes, "domain_probes"),
        (held_out_probes, "held_out_probes"),
    )
    for unanswerable, field in probe_sets:
        if unanswerable:
            probed = [
                await _ask(answerer, kb, base, q, None)
                for q in tqdm(unanswerable, desc=field, disable=not progress)
            ]
            setattr(report, field, summarize_probes(probed))
            asked += probed
    report.errors = [r.error for r in asked if r.error][:MAX_ERRORS]
    return report


async def _ask(
    answerer: Answerer, kb: OpenKB, base: AnswerRequest, q: EvalQuestion, kind: DatasetKind | None
) -> AskResult:
    started = time.perf_counter()
    try:
        answer = await answerer.answer(kb, replace(base, question=q.question))
    except AnswerTruncatedError as exc:
        return AskResult("truncated", time.perf_counter() - started, error=str(exc))
    except AnswerError as exc:
        return AskResult("invalid", time.perf_counter() - started, error=str(exc))
    seconds = time.perf_counter() - started
    if kind is None or answer.outcome != "answered":
        return AskResult(answer.outcome, seconds)
    cites_gold = any(c.doc_id == q.doc_id for c in answer.citations)
    valid = citations_valid(answer)
    if kind == "pubmedqa" and base.schema is not None:
        correct = float(answer.data["decision"] == q.gold[0])
        return AskResult(answer.outcome, seconds, correct, correct, cites_gold, valid)
    if kind == "pubmedqa":  # free text: the conclusion is the gold, decision words are not
        f1 = token_f1(answer.answer, (q.long_answer,))
        return AskResult(answer.outcome, seconds, 0.0, f1, cites_gold, valid)
    em, f1 = exact_match(answer.answer, q.gold), token_f1(answer.answer, q.gold)
    return AskResult(answer.outcome, seconds, em, f1, cites_gold, valid)


def citations_valid(answer: Answer) -> bool:
    """At least one citation, each naming a passage given and that passage's chunk."""
    given = {p.number: p.hit.chunk.id for p in answer.passages}
    return bool(answer.citations) and all(
        given.get(c.passage) == c.chunk_id for c in answer.citations
    )


def summarize(
    results: Sequence[AskResult], kind: DatasetKind, free_text: bool = False
) -> dict[str, float]:
    """Quality, contract rates and latency over the asked questions."""
    n = len(results)
    generated = [r for r in results if r.outcome != "no_relevant_passages"]
    finished = [r for r in generated if r.outcome != "truncated"]
    answered = [r for r in results if r.outcome == "answered"]
    if kind == "pubmedqa" and not free_text:
        quality = {"accuracy": mean([r.score for r in results])}
    elif kind == "pubmedqa":
        quality = {"f1": mean([r.f1 for r in results])}
    else:
        quality = {
            "exact_match": mean([r.score for r in results]),
            "f1": mean([r.f1 for r in results]),
        }
    return {
        "questions": n,
        **{k: round(v, 4) for k, v in quality.items()},
        # Of the generations that finished: valid JSON matching their schema.
        "json_valid": _share(sum(r.outcome != "invalid" for r in finished), len(finished)),
        # Of the questions that reached the model: still cut by max_tokens after the retry.
        "truncated": _share(sum(r.outcome == "truncated" for r in generated), len(generated)),
        # Of the answers: every citation names a passage given (the schema's enum, checked again).
        "citation_valid": _share(sum(r.citations_valid for r in answered), len(answered)),
        "cites_gold_doc": _share(sum(r.cites_gold for r in answered), len(answered)),
        "answerable": _share(len(answered), n),
        "gated": _share(sum(r.outcome == "no_relevant_passages" for r in results), n),
        **_latency(results),
    }


def summarize_probes(results: Sequence[AskResult]) -> dict[str, float]:
    """How often questions the KB cannot answer were answered as not in the KB."""
    n = len(results)
    return {
        "probes": n,
        "abstained": _share(
            sum(r.outcome in ("no_relevant_passages", "model_abstained") for r in results), n
        ),
        "by_relevance_gate": _share(sum(r.outcome == "no_relevant_passages" for r in results), n),
        "by_model": _share(sum(r.outcome == "model_abstained" for r in results), n),
        **_latency(results),
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _latency(results: Sequence[AskResult]) -> dict[str, float]:
    seconds = sorted(r.seconds for r in results)
    return {
        "p50_s": round(_percentile(seconds, 50), 3),
        "p95_s": round(_percentile(seconds, 95), 3),
    }


def _percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return 0.0
    rank = (len(sorted_values) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)
