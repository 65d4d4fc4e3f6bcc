"""The incremental field extractor against `json.loads`, over random splits of the text."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.openai.chat import Reply, StreamedText
from api.openai.extract import FieldStream, TrimmedText
from rag.answer.grounding import RunInfo, grounded_answer
from rag.answer.types import Timings
from rag.generation.base import Usage

ANSWERS = [
    "The moon pulls the oceans [1].",
    'He said "yes" \\ then left.\nNew line\ttab',
    "caf\u00e9 \u2014 na\u00efve \u4e2d\u6587",
    "emoji \U0001f600 and \U0001f30d",
    "",
    "/slash and control \b\f\r",
    '{"not": [a, nested] object}',
]


def splits(text: str, rng: random.Random) -> list[str]:
    """`text` cut at random places, one-character deltas included."""
    cuts = sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(0, 12))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def run(stream: FieldStream, deltas: list[str]) -> str:
    return "".join(stream.feed(d) for d in deltas)


def encodings(obj: Any) -> list[str]:
    """The same object as several valid JSON texts (ASCII escapes, spacing, key order)."""
    return [
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
        json.dumps(obj, ensure_ascii=True),
        json.dumps(obj, indent=2, ensure_ascii=True),
    ]


@pytest.mark.parametrize("answer", ANSWERS)
def test_decoded_answer_matches_json_loads_over_random_splits(answer: str) -> None:
    obj = {"answer": answer, "citations": [1, 2], "answerable": True, "confidence": 0.5}
    rng = random.Random(answer)
    for text in encodings(obj):
        for _ in range(40):
            stream = FieldStream("answer")
            assert run(stream, splits(text, rng)) == json.loads(text)["answer"]
            assert stream.done


def test_one_character_deltas_split_every_escape() -> None:
    text = json.dumps({"answer": 'a\\"b\u00e9\U0001f600\n'}, ensure_ascii=True)
    assert "\\ud83d\\ude00" in text  # a surrogate pair, split over 12 one-character deltas
    assert run(FieldStream("answer"), list(text)) == 'a\\"b\u00e9\U0001f600\n'


def test_text_arrives_as_it_is_generated() -> None:
    stream = FieldStream("answer")
    assert stream.feed('{"answer":"The mo') == "The mo"
    assert stream.feed("on \\u00") == "on "  # the escape is not complete yet
    assert stream.feed("e9") == "\u00e9"
    assert stream.feed("\\ud83d") == ""  # half of a pair waits for the other half
    assert stream.feed('\\ude00"') == "\U0001f600"
    assert not stream.done  # a partial parse cannot tell `"x"` from `"x` yet
    assert stream.feed(',"citations":[1]}') == ""
    assert stream.done


def test_lone_surrogates_hold_the_rest_back() -> None:
    # The parser refuses a lone surrogate escape; what follows comes with the final answer.
    text = '{"answer":"a\\ud83dz\\ude00"}'
    stream = FieldStream("answer")
    assert run(stream, list(text)) == "a"
    assert not stream.done
    assert run(FieldStream("answer"), [text]) == ""


def test_only_the_top_level_field_counts() -> None:
    text = '{"meta":{"answer":"nested"},"notes":["answer"],"answer":"top","x":{"answer":"no"}}'
    rng = random.Random(1)
    for _ in range(30):
        assert run(FieldStream("answer"), splits(text, rng)) == "top"


def test_a_key_value_equal_to_the_field_name_is_not_a_key() -> None:
    text = '{"q":"answer","answer":"yes"}'
    assert run(FieldStream("answer"), [text]) == "yes"


def test_escaped_key_names_are_decoded() -> None:
    assert run(FieldStream("answer"), ['{"\\u0061nswer":"yes"}']) == "yes"


def test_a_non_string_value_gives_nothing() -> None:
    stream = FieldStream("answer")
    assert stream.feed('{"answer":null,"b":"x"}') == ""
    assert stream.done


def test_a_missing_field_gives_nothing() -> None:
    stream = FieldStream("answer")
    assert stream.feed('{"data":{"answer":"x"},"citations":[1]}') == ""
    assert not stream.done


def test_raw_control_characters_pass_through_decoded() -> None:
    # The grammar lets raw control characters into strings; json.loads(strict=False) keeps them.
    text = '{"answer":"a\tb\x01c"}'
    assert run(FieldStream("answer"), list(text)) == json.loads(text, strict=False)["answer"]


DATA_VALUES: list[Any] = [
    {"amount": 12.5, "currency": "EUR", "items": [{"name": 'a "b" }', "n": [1, 2]}]},
    {"nested": {"deep": {"deeper": [[], {}, [{"x": "]}"}]]}}, "s": "caf\u00e9 \U0001f600"},
    ["a", 1, None, True, {"k": "v"}],
    'just a string with \\ and "quotes" and {braces}',
    -12.5e3,
    0,
    True,
    None,
    {},
    [],
]


@pytest.mark.parametrize("data", DATA_VALUES)
def test_raw_data_parses_to_the_same_value(data: Any) -> None:
    obj = {"data": data, "citations": [1], "answerable": True}
    rng = random.Random(json.dumps(data))
    for text in encodings(obj):
        for _ in range(40):
            stream = FieldStream("data", mode="raw")
            raw = run(stream, splits(text, rng))
            assert json.loads(raw) == data
            assert stream.done


def test_raw_data_is_the_compact_json_of_the_final_answer() -> None:
    text = '{"data": {"a": [1, {"b": "}\\"\\u00e9"}], "n": 1E3}, "citations": [1]}'
    stream = FieldStream("data", mode="raw")
    raw = run(stream, list(text))
    assert raw == '{"a":[1,{"b":"}\\"\u00e9"}],"n":1000.0}'
    assert raw == json.dumps(json.loads(text)["data"], separators=(",", ":"), ensure_ascii=False)


def test_raw_data_streams_before_the_value_ends() -> None:
    stream = FieldStream("data", mode="raw")
    assert stream.feed('{"data":{"amount"') == "{"  # the key waits for its value
    assert stream.feed(":12") == '"amount":'  # the number may still grow
    assert stream.feed(',"note":"ab') == '12,"note":"ab'
    assert not stream.done
    assert stream.feed('c"},"citations":[1]}') == 'c"}'
    assert stream.done


def test_raw_scalars_end_at_their_delimiter() -> None:
    stream = FieldStream("data", mode="raw")
    assert run(stream, ['{"data":1', "2.5", "e3", ',"x":1}']) == "12500.0"
    stream = FieldStream("data", mode="raw")
    assert run(stream, ['{"data": true }']) == "true"


def test_raw_control_characters_are_escaped_for_strict_parsers() -> None:
    text = '{"data":{"note":"a\tb\x01"},"citations":[1]}'
    raw = run(FieldStream("data", mode="raw"), list(text))
    assert raw == '{"note":"a\\tb\\u0001"}'
    assert json.loads(raw) == json.loads(text, strict=False)["data"]


def test_a_generated_answer_object_in_the_fake_generators_deltas() -> None:
    obj = {"answer": "Tides come from the moon [1].", "citations": [1], "answerable": True}
    text = json.dumps(obj, separators=(",", ":"))
    deltas = [text[i : i + 4] for i in range(0, len(text), 4)]
    stream = FieldStream("answer")
    pieces = [stream.feed(d) for d in deltas]
    assert "".join(pieces) == obj["answer"]
    assert sum(1 for p in pieces if p) > 3  # it streams, not one piece at the end


@pytest.mark.parametrize(
    "text", ["  hello world  ", "\n\tA  B\n", "   ", "", "x", "a \n b", " lead", "trail "]
)
def test_trimmed_text_streams_the_stripped_text(text: str) -> None:
    rng = random.Random(text)
    for _ in range(20):
        trim = TrimmedText()
        deltas = splits(text, rng) if len(text) > 1 else [text]
        sent = "".join(trim.feed(d) for d in deltas)
        assert sent == text.strip() == trim.sent


def test_trimmed_text_holds_back_only_trailing_whitespace() -> None:
    trim = TrimmedText()
    assert trim.feed("  The ") == "The"
    assert trim.feed("moon  ") == " moon"
    assert trim.feed(".") == "  ."


def random_string(rng: random.Random) -> str:
    alphabet = 'ab "\\/{}[],:\n\t\x01\u00e9\u2028\ud7ff\ue000\U0001f600\U0010ffff'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return random_string(rng)
    if kind == "int":
        return rng.randint(-(10**6), 10**6)
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_string(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


@pytest.mark.parametrize("seed", range(20))
def test_random_objects_over_random_splits(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        answer, data = random_string(rng), random_value(rng)
        decoys = {random_string(rng): random_value(rng) for _ in range(3)}
        obj = {**decoys, "answer": answer, "data": data, "z": {"answer": "no", "data": 1}}
        for text in encodings(obj):
            deltas = splits(text, rng)
            assert run(FieldStream("answer"), deltas) == answer
            assert json.loads(run(FieldStream("data", mode="raw"), deltas)) == data


# --- the property: what a stream sends adds up to the completion's content ------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


def raw_controls(value: Any) -> str:
    """Compact JSON with control characters raw inside strings, as the grammar lets them be."""
    if isinstance(value, str):
        chars = (c if c < " " else json.dumps(c, ensure_ascii=False)[1:-1] for c in value)
        return '"' + "".join(chars) + '"'
    if isinstance(value, list):
        return "[" + ",".join(map(raw_controls, value)) + "]"
    if isinstance(value, dict):
        items = (f"{raw_controls(k)}:{raw_controls(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    return json.dumps(value)


ENCODERS: list[Callable[[Any], str]] = [
    lambda obj: json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
    lambda obj: json.dumps(obj, ensure_ascii=True),
    lambda obj: json.dumps(obj, indent=2, ensure_ascii=False),
    raw_controls,
]


@st.composite
def generations(draw: st.DrawFn, structured: bool) -> tuple[dict[str, Any], list[str], bool]:
    """An answer object as the model may write it (keys in any order, decoy fields, nested
    keys of the same names), cut into random deltas; the last ones may not have arrived."""
    own = {"data": draw(JSON_VALUES)} if structured else {"answer": draw(st.text())}
    decoys = draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3))
    nested = {"meta": {"answer": "no", "data": [1]}}
    fields = {**decoys, **nested, **own, "citations": [], "answerable": True, "confidence": 0.5}
    obj = dict(draw(st.permutations(list(fields.items()))))
    text = draw(st.sampled_from(ENCODERS))(obj)
    cuts = draw(st.lists(st.integers(1, len(text) - 1), unique=True, max_size=40))
    bounds = [0, *sorted(cuts), len(text)]
    deltas = [text[a:b] for a, b in itertools.pairwise(bounds)]
    arrived = draw(st.integers(0, len(deltas))) if draw(st.booleans()) else len(deltas)
    return obj, deltas[:arrived], arrived == len(deltas)


@pytest.mark.parametrize("structured", [False, True])
@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data())
def test_a_stream_adds_up_to_the_completion(structured: bool, data: st.DataObject) -> None:
    obj, deltas, whole = data.draw(generations(structured))
    run_info = RunInfo("local", "m", Usage(1, 1), Timings(), 1)
    answer = grounded_answer("q?", obj, (), structured, run_info)
    reply = Reply("kb:x", structured)
    content = reply.completion(answer).choices[0].message.content
    text = StreamedText(structured)
    streamed = ""
    for delta in deltas:
        streamed += text.feed(delta)
        assert content is not None and content.startswith(streamed)
    ending = text.ending(answer)
    assert streamed + (ending.content or "") == content
    if whole and answer.answerable:
        assert ending.content is None  # all of it streamed as it was generated
