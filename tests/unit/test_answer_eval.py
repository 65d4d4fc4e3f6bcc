"""Answer evaluation: dataset readers, kind detection, TAT-QA scoring, the summary rates."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from evaluation.answers import (
    DECISION_SCHEMA,
    AnswerReport,
    AskResult,
    detect_kind,
    load_answer_set,
    summarize,
    summarize_probes,
)
from evaluation.probes import absent_entities, absent_years, same_domain_probes
from evaluation.retrieval import RetrievalReport
from evaluation.tatqa import exact_match, normalize_tokens, table_text, token_f1
from rag.errors import InvalidInputError
from rag.generation.schema import check_user_schema


def pubmedqa(folder: Path, n: int = 3) -> Path:
    folder.mkdir()
    rows = [
        {
            "id": str(100 + i),
            "question": f"Does drug {i} work?",
            "contexts": [f"Background {i}.", f"Results {i}."],
            "long_answer": "It does.",
            "final_decision": ["yes", "no", "maybe"][i % 3],
        }
        for i in range(n)
    ]
    (folder / "qa.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


def tatqa(folder: Path) -> Path:
    folder.mkdir()
    contexts = [
        {
            "table": {"uid": f"t{c}", "table": [["", "2019"], ["Sales", "$1,496.5"], ["", ""]]},
            "paragraphs": [
                {"uid": "p2", "order": 2, "text": "Second."},
                {"uid": "p1", "order": 1, "text": "First."},
            ],
            "questions": [
                {
                    "uid": f"q{c}{i}",
                    "question": f"Q{c}{i}?",
                    "answer": a,
                    "answer_type": "span",
                    "scale": "",
                }
                for i, a in enumerate([["$1,496.5"], -12.6][: c + 1])
            ],
        }
        for c in range(2)
    ]
    (folder / "tatqa_dataset_dev.json").write_text(json.dumps(contexts))
    return folder


def test_kinds_are_detected_by_their_files(tmp_path: Path) -> None:
    assert detect_kind(pubmedqa(tmp_path / "p")) == "pubmedqa"
    assert detect_kind(tatqa(tmp_path / "t")) == "tatqa"
    with pytest.raises(InvalidInputError, match="neither PubMedQA"):
        detect_kind(tmp_path)


def test_pubmedqa_set_indexes_abstracts_and_asks_for_a_decision(tmp_path: Path) -> None:
    data = load_answer_set(pubmedqa(tmp_path / "p", 5), corpus=4)
    assert (data.kind, data.domain, data.schema) == ("pubmedqa", "medical", DECISION_SCHEMA)
    assert len(data.documents) == len(data.questions) == 4
    doc, q = data.documents[1], data.questions[1]
    assert doc.id == q.doc_id == "pubmed-101"
    assert [s.text for s in doc.sections] == ["Background 1.", "Results 1."]
    assert "drug" not in doc.title  # the question is not given away as the title
    assert q.gold == ("no",)
    check_user_schema(DECISION_SCHEMA)  # the grammar can enforce it


def test_bad_pubmedqa_rows_are_reported_with_their_line(tmp_path: Path) -> None:
    folder = pubmedqa(tmp_path / "p", 1)
    with open(folder / "qa.jsonl", "a") as fh:
        fh.write(
            json.dumps({"id": "9", "question": "q", "contexts": [], "final_decision": "perhaps"})
            + "\n"
        )
    with pytest.raises(InvalidInputError, match=r"qa.jsonl:2: .*perhaps"):
        load_answer_set(folder)


def test_tatqa_set_renders_tables_and_samples_round_robin(tmp_path: Path) -> None:
    data = load_answer_set(tatqa(tmp_path / "t"))
    assert (data.kind, data.domain, data.schema) == ("tatqa", "finance", None)
    assert [s.text for s in data.documents[0].sections] == [
        " | 2019\nSales | $1,496.5",
        "First.",
        "Second.",
    ]
    # First question of every context, then the second ones.
    assert [q.id for q in data.questions] == ["q00", "q10", "q11"]
    assert data.questions[2].gold == ("-12.6",) and data.questions[2].doc_id == "tatqa-t1"


def test_table_text_drops_empty_rows() -> None:
    assert table_text((("a", " b "), ("", " "), ("c", ""))) == "a | b\nc | "


@pytest.mark.parametrize(
    ("prediction", "gold", "em", "f1"),
    [
        ("$1,496.50 million", ("1496.5",), 1.0, 1.0),
        ("(12.6)", ("-12.6",), 1.0, 1.0),
        ("The total was 44.1%", ("44.1",), 0.0, 0.5),
        ("fixed-price type", ("fixed-price type", "cost-plus type"), 0.0, 2 / 3),
        ("nothing", ("2019",), 0.0, 0.0),
        ("", ("2019",), 0.0, 0.0),
    ],
)
def test_tatqa_scores(prediction: str, gold: tuple[str, ...], em: float, f1: float) -> None:
    assert exact_match(prediction, gold) == em
    assert token_f1(prediction, gold) == pytest.approx(f1, abs=1e-3)


def test_normalisation_keeps_words_and_numbers_by_value() -> None:
    assert normalize_tokens("The $1,000.0 thousand, a (5) and 3.50%") == [
        "1000",
        "-5",
        "and",
        "3.5",
    ]


def test_summary_rates_and_latency() -> None:
    results = [
        AskResult("answered", 1.0, score=1.0, f1=1.0, cites_gold=True, citations_valid=True),
        AskResult("answered", 2.0, score=0.0, f1=0.5, cites_gold=False, citations_valid=True),
        AskResult("model_abstained", 3.0),
        AskResult("no_relevant_passages", 0.5),
        AskResult("truncated", 9.0),
        AskResult("invalid", 4.0),
    ]
    pubmed = summarize(results, "pubmedqa")
    assert pubmed["accuracy"] == pytest.approx(1 / 6, abs=1e-4) and pubmed["questions"] == 6
    assert pubmed["json_valid"] == 0.75  # 3 of the 4 finished generations validated
    assert pubmed["truncated"] == 0.2  # 1 of the 5 questions that reached the model
    assert (pubmed["citation_valid"], pubmed["cites_gold_doc"]) == (1.0, 0.5)
    assert (pubmed["answerable"], pubmed["gated"]) == (
        pytest.approx(2 / 6, abs=1e-4),
        pytest.approx(1 / 6, abs=1e-4),
    )
    assert pubmed["p50_s"] == 2.5 and pubmed["p95_s"] == pytest.approx(7.75)
    tat = summarize(results, "tatqa")
    assert (tat["exact_match"], tat["f1"]) == (pytest.approx(1 / 6, abs=1e-4), 0.25)
    probes = summarize_probes(results)
    assert probes["abstained"] == pytest.approx(2 / 6, abs=1e-4)
    assert probes["by_relevance_gate"] == probes["by_model"] == pytest.approx(1 / 6, abs=1e-4)


def test_pubmedqa_as_free_text_has_no_schema_and_keeps_the_long_answer(tmp_path: Path) -> None:
    data = load_answer_set(pubmedqa(tmp_path / "p", 2), free_text=True)
    assert data.schema is None and data.questions[0].long_answer == "It does."
    results = [AskResult("answered", 1.0, f1=0.5), AskResult("no_relevant_passages", 2.0)]
    assert summarize(results, "pubmedqa", free_text=True)["f1"] == 0.25


def test_same_domain_probes_ask_about_a_year_or_a_name_the_kb_lacks(tmp_path: Path) -> None:
    data = load_answer_set(tatqa(tmp_path / "t"))
    data.questions[:] = [
        replace(data.questions[0], question="What were Sales in 2018 and 2019?"),
        replace(data.questions[1], question="What were Sales?"),
        replace(data.questions[2], question="What were sales?"),
    ]
    probes = same_domain_probes(data, 3)
    # From the end of the list; the year is the latest no document mentions.
    assert [p.question for p in probes] == [
        "What were sales, for Tesla?",
        "What were NVIDIA?",
        "What were Sales in 2024 and 2025?",
    ]
    assert all(p.doc_id == "" and p.id.startswith("probe-") for p in probes)
    assert same_domain_probes(data, 0) == []


def test_probe_names_and_years_are_checked_absent_from_the_kb() -> None:
    assert absent_years("sales in 2025 and 2024")[:2] == ["2023", "2022"]
    assert absent_entities("medical", "paxlovid and comirnaty trials")[:1] == ["Wegovy"]


def test_reports_print_as_before() -> None:
    answers = AnswerReport(
        dataset="d", kind="tatqa", profile="local", model="m", mode="hybrid", k=5
    )
    answers.metrics = {"f1": 0.5}
    assert json.dumps(answers.model_dump()) == (
        '{"dataset": "d", "kind": "tatqa", "profile": "local", "model": "m", "mode": "hybrid", '
        '"k": 5, "metrics": {"f1": 0.5}, "probes": {}, "domain_probes": {}, '
        '"held_out_probes": {}, "errors": []}'
    )
    retrieval = RetrievalReport(dataset="scifact", queries=3, ingest_seconds=12.5)
    retrieval.modes["bm25"] = {"ndcg@10": 0.6}
    # The ingestion time is for the human summary only.
    assert json.dumps(retrieval.model_dump()) == (
        '{"dataset": "scifact", "queries": 3, "modes": {"bm25": {"ndcg@10": 0.6}}, "rows": []}'
    )
