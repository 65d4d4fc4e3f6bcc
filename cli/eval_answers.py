"""`rag eval answers`: answer quality, contract rates, abstention and latency on a QA set."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.common import reported_errors, stderr_is_tty, workspace
from rag.types import SearchMode

if TYPE_CHECKING:  # the answer path imports torch and xgrammar: only when a command runs
    from evaluation.answers import AnswerReport, AnswerSet, EvalQuestion
    from rag.workspace import Workspace

# How many contexts to index when not told: PubMedQA's 1,000 abstracts take minutes to
# embed on a laptop CPU; 300 keep enough distractors around each question's own abstract.
DEFAULT_CORPUS = {"pubmedqa": 300, "tatqa": None}
PROBE_SIBLING = {"pubmedqa": "tatqa", "tatqa": "pubmedqa"}


def answers(
    dataset: Path = typer.Option(..., help="PubMedQA or TAT-QA folder (detected by its files)"),
    limit: int = typer.Option(20, help="questions to ask (the CPU model is slow)"),
    probes: int = typer.Option(10, help="other-domain unanswerable probes to ask (0: none)"),
    probe_dataset: Path | None = typer.Option(
        None, help="where probes come from (default: the sibling tatqa/ or pubmedqa/ folder)"
    ),
    domain_probes: int = typer.Option(
        10, help="same-domain probes: this set's questions about a name or year the KB lacks"
    ),
    held_out_probes: int = typer.Option(
        0, help="PubMedQA: questions whose abstract is not indexed (the KB lacks the study)"
    ),
    free_text: bool = typer.Option(
        False, help="PubMedQA as free text, scored by token F1 against the long answer"
    ),
    corpus: int | None = typer.Option(None, help="contexts to index (default 300 PubMedQA)"),
    profile: str | None = typer.Option(None, help="generator profile (default: by KB domain)"),
    mode: SearchMode = typer.Option("hybrid", help="retrieval: dense, bm25 or hybrid"),
    k: int | None = typer.Option(None, "-k", help="passages per question (default RAG_ANSWER_K)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Ask a QA set through the answer path; unanswerable probes test abstention."""
    from evaluation.answers import detect_kind, load_answer_set
    from evaluation.probes import same_domain_probes

    with reported_errors():
        kind = detect_kind(dataset)
        data = load_answer_set(dataset, corpus or DEFAULT_CORPUS[kind], free_text)
        in_domain = same_domain_probes(data, domain_probes)
        held_out: list[EvalQuestion] = []
        if held_out_probes > 0 and kind == "pubmedqa":
            everything = load_answer_set(dataset, None, free_text).questions
            held_out = everything[len(data.questions) :][:held_out_probes]
        probe_folder = probe_dataset or dataset.parent / PROBE_SIBLING[kind]
        probe_questions: list[EvalQuestion] = []
        if probes > 0 and probe_folder.exists():
            probe_questions = load_answer_set(probe_folder).questions[:probes]
        probe_sets = (probe_questions, in_domain, held_out)
        report = asyncio.run(_run(workspace(), data, probe_sets, limit, profile, mode, k))
    if as_json:
        typer.echo(json.dumps(report.model_dump()))
        return
    typer.echo(render(report))
    if probes > 0 and not probe_questions:
        typer.echo(f"(no probes: {probe_folder} is absent)", err=True)


async def _run(
    ws: Workspace,
    data: AnswerSet,
    probes: tuple[list[EvalQuestion], list[EvalQuestion], list[EvalQuestion]],
    limit: int,
    profile: str | None,
    mode: SearchMode,
    k: int | None,
) -> AnswerReport:
    from evaluation.answers import eval_kb, evaluate_answers
    from rag.answer import Answerer
    from rag.composition import answer_settings, router_settings
    from rag.generation.router import GeneratorRouter

    router = GeneratorRouter.from_settings(router_settings(ws.settings))
    kb = await asyncio.to_thread(eval_kb, ws, data, stderr_is_tty())
    try:
        answerer = Answerer(router, answer_settings(ws.settings))
        return await evaluate_answers(
            answerer,
            kb,
            data,
            probes[0],
            domain_probes=probes[1],
            held_out_probes=probes[2],
            limit=limit,
            profile=profile,
            mode=mode,
            k=k,
            progress=stderr_is_tty(),
        )
    finally:
        kb.close()
        await router.aclose()


def render(report: AnswerReport) -> str:
    """The report as two Markdown tables: the questions, then the probes."""
    n = int(report.metrics["questions"])
    lines = [
        f"{report.kind}: {n} questions, profile {report.profile} ({report.model}), "
        f"{report.mode}, k={report.k}",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {v:g} |" for k, v in report.metrics.items() if k != "questions"),
    ]
    for probes, what in (
        (report.probes, "other-domain"),
        (report.domain_probes, "same-domain"),
        (report.held_out_probes, "held-out (same domain, study not indexed)"),
    ):
        if probes:
            lines += ["", f"unanswerable {what} probes: {int(probes['probes'])} questions", ""]
            lines += ["| metric | value |", "|---|---|"]
            lines += [f"| {k} | {v:g} |" for k, v in probes.items() if k != "probes"]
    if report.errors:
        lines += ["", "failures (first few):", *(f"- {e[:300]}" for e in report.errors)]
    return "\n".join(lines)
