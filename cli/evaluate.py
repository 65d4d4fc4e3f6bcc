"""`rag eval ...`: measure retrieval quality on public benchmark sets."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import reported_errors, stderr_is_tty, workspace
from cli.eval_answers import answers
from evaluation.beir import load_beir
from evaluation.retrieval import MODES, evaluate_retrieval
from rag.types import EngineKind, IndexKind

app = typer.Typer(help="Measure retrieval (and later answer) quality.", no_args_is_help=True)
app.command()(answers)


@app.command()
def retrieval(
    dataset: Path = typer.Option(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/"),
    split: str = typer.Option("test", help="qrels split to score"),
    engine: EngineKind = typer.Option("local", help="storage engine to evaluate"),
    index: IndexKind = typer.Option("flat", help="vector index kind"),
    fresh: bool = typer.Option(False, help="rebuild the cached evaluation KB from scratch"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 for bm25, dense and hybrid search."""
    with reported_errors():
        data = load_beir(dataset, split)
        report = evaluate_retrieval(
            workspace(), data, engine=engine, index=index, fresh=fresh, progress=stderr_is_tty()
        )
    if as_json:
        typer.echo(json.dumps(report.model_dump()))
        return
    typer.echo(f"{report.dataset} ({split}, {report.queries} queries, {engine}/{index})")
    typer.echo(f"{'mode':<8}{'nDCG@10':>10}{'R@10':>10}{'R@100':>10}{'MRR@10':>10}")
    for mode in MODES:
        m = report.modes[mode]
        typer.echo(
            f"{mode:<8}{m['ndcg@10']:>10.4f}{m['recall@10']:>10.4f}"
            f"{m['recall@100']:>10.4f}{m['mrr@10']:>10.4f}"
        )
