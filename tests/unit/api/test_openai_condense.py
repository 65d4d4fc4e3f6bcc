"""The deterministic follow-up condenser: which questions lean on earlier turns, and the query."""

from __future__ import annotations

import pytest

from api.openai.condense import MAX_EARLIER_CHARS, MAX_EARLIER_TURNS, condense, is_follow_up


@pytest.mark.parametrize(
    "question",
    [
        "How strong are they?",
        "Who discovered it?",
        "Is that also true for lakes in winter?",
        "What is its melting point exactly?",
        "Why does it happen twice a day?",
        "Were those measurements taken at night?",
        "Did she publish the results in a journal?",
        "How long does it take to get there by train?",
        "What about Mars?",
        "How about the copper wires in older houses?",
        "And what happens during a full moon?",
        "Also, does the sun play a role in this at all?",
        "But does the sun matter at all for tides?",
        "Tell me more",
        "When?",
        "Why?",
        "Which one?",
        "Any examples?",
        "it's bigger than the earth, right?",
    ],
)
def test_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "What causes the tides of the oceans?",
        "Why does copper conduct electricity so well?",
        "How does hybrid search fuse dense and keyword results?",
        "Which metals are used for electrical wiring in houses?",
        "Whatever happened to the ledger of the company in 1990?",
        "Andromeda is how far from the Milky Way galaxy?",
    ],
)
def test_standalone_questions(question: str) -> None:
    assert not is_follow_up(question)


def test_a_standalone_question_is_its_own_query() -> None:
    turns = ["What causes the tides?", "Why does copper conduct electricity so well?"]
    assert condense(turns) == "Why does copper conduct electricity so well?"


def test_a_follow_up_is_joined_with_the_turn_before() -> None:
    turns = ["What causes the tides?", "How strong are they?"]
    assert condense(turns) == "What causes the tides? How strong are they?"


def test_a_chain_of_follow_ups_reaches_back_to_its_subject() -> None:
    turns = [
        "Which metals conduct electricity best?",
        "What causes the tides?",
        "How strong are they?",
        "And in winter?",
    ]
    assert condense(turns) == "What causes the tides? How strong are they? And in winter?"


def test_at_most_a_few_earlier_turns_are_joined() -> None:
    turns = ["What causes the tides?", "Why?", "When?", "Where?", "How?"]
    joined = condense(turns)
    assert joined == " ".join(turns[-(MAX_EARLIER_TURNS + 1) :])


def test_a_long_earlier_turn_keeps_only_its_end() -> None:
    pasted = "filler " * 200 + "So what does the ledger record?"
    query = condense([pasted, "Why is it useful?"])
    earlier = query.removesuffix(" Why is it useful?")
    assert len(earlier) <= MAX_EARLIER_CHARS
    assert earlier.endswith("So what does the ledger record?")
    assert not earlier.startswith(" ") and earlier.split()[0] == "filler"


def test_a_first_question_and_empty_turns() -> None:
    assert condense(["How strong are they?"]) == "How strong are they?"
    assert condense(["What causes the tides?", "  ", "Why?  "]) == "What causes the tides? Why?"
    with pytest.raises(ValueError):
        condense(["", "  "])
