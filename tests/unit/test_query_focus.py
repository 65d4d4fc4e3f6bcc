"""A question's informative part: instructions dropped, the sources they name kept."""

import pytest

from rag.retrieval.query import informative_query


@pytest.mark.parametrize(
    ("question", "query"),
    [
        (
            "Assume that you are a public equities analyst. Answer the following question by "
            "primarily using information that is shown in the balance sheet: what is the "
            "year end FY2018 net PP&E for 3M? Answer in USD billions.",
            "balance sheet what is the year end FY2018 net PP&E for 3M?",
        ),
        (
            "You are an investment banker and your job is to review filings. What are the "
            "main risk factors of Boeing?",
            "What are the main risk factors of Boeing?",
        ),
        (
            "What was PayPal's total payment volume in Q2 2023? Round your answer to two "
            "decimal places. Respond in billions of dollars.",
            "What was PayPal's total payment volume in Q2 2023?",
        ),
        (
            "Answer the question using the cash flow statement and the notes to the "
            "financial statements.\nHow much did Apple spend on share repurchases in 2019?",
            "cash flow statement notes to the financial statements How much did Apple spend "
            "on share repurchases in 2019?",
        ),
    ],
)
def test_instructions_are_dropped_and_named_sources_kept(question: str, query: str) -> None:
    assert informative_query(question) == query


@pytest.mark.parametrize(
    "question",
    [
        "What is the effect of statins on LDL cholesterol?",
        "Using the cash flow statement, what was AMD's free cash flow in 2020?",
        "0-dimensional biomaterials show inductive properties.",
        "How much did revenue grow. And why did it grow?",
    ],
)
def test_plain_questions_are_kept_as_written(question: str) -> None:
    assert informative_query(question) == question


def test_a_question_that_is_only_instructions_is_kept_whole() -> None:
    question = "Assume that you are an analyst. Answer the following question."
    assert informative_query(question) == question
