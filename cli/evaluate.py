"""`rag eval ...`: measure retrieval quality on public benchmark sets."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import reported_errors, stderr_is_tty, workspace
from cli.eval_answers import answers
from evaluation.retrieval import MODES, RetrievalReport, evaluate_retrieval
from evaluation.retrieval_sets import load_retrieval_set
from rag.types import EngineKind, IndexKind

BOTH = {"on": (True,), "off": (False,), "both": (False, True)}

app = typer.Typer(help="Measure retrieval (and later answer) quality.", no_args_is_help=True)
app.command()(answers)


@app.command()
def retrieval(
    dataset: Path = typer.Option(
        ...,
        help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/), a TAT-QA folder, or a "
        "page-set .jsonl (evaluation/sets/filings_pages.jsonl)",
    ),
    split: str = typer.Option("test", help="qrels split to score (BEIR)"),
    corpus: Path | None = typer.Option(None, help="the PDF folder of a page set"),
    engine: EngineKind = typer.Option("local", help="storage engine to evaluate"),
    index: IndexKind = typer.Option("flat", help="vector index kind"),
    headers: str = typer.Option(
        "on", help="chunk headers in the evaluated KB: on, off, or both (compared in one run)"
    ),
    focus: bool = typer.Option(
        False, help="also search each question by its informative part (instructions dropped)"
    ),
    fresh: bool = typer.Option(False, help="rebuild the cached evaluation KB from scratch"),
    reuse: bool = typer.Option(
        False, help="score the cached evaluation KB as it is, without ingesting the corpus"
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """nDCG@10, Recall@10/100, MRR@10 and hit@10 for bm25, dense and every hybrid fusion."""
    with reported_errors():
        if headers not in BOTH:
            raise typer.BadParameter(f"--headers must be on, off or both, not {headers!r}")
        data = load_retrieval_set(dataset, split, corpus)
        report = evaluate_retrieval(
            workspace(),
            data,
            engine=engine,
            index=index,
            headers=BOTH[headers],
            focus=(False, True) if focus else (False,),
            fresh=fresh,
            reuse=reuse,
            progress=stderr_is_tty(),
        )
    if as_json:
        typer.echo(json.dumps(report.model_dump()))
        return
    typer.echo(f"{report.dataset} ({report.queries} queries, {engine}/{index})")
    typer.echo(render(report))


def render(report: RetrievalReport) -> str:
    """The comparison as one Markdown table; the KB's own hybrid is the `hybrid` mode."""
    lines = [
        "| headers | query | method | nDCG@10 | R@10 | R@100 | MRR@10 | hit@10 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        m = row.metrics
        lines.append(
            f"| {'on' if row.headers else 'off'} | {'focused' if row.focus else 'as asked'} "
            f"| {row.method} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} "
            f"| {m['recall@100']:.4f} | {m['mrr@10']:.4f} | {m['hit@10']:.4f} |"
        )
    summary = ", ".join(f"{mode} {report.modes[mode]['ndcg@10']:.4f}" for mode in MODES)
    return "\n".join([*lines, "", f"nDCG@10 with the KB's settings: {summary}"])
