"""The chat stream's field extraction: cost per delta, parsing every delta vs as shipped.

`api.openai.extract.FieldStream` parses the whole growing JSON text again for a delta; past
EAGER_CHARS it waits until the text has grown by 1/RESOLUTION. This prints, for answer texts
(decoded mode) and analyst data (raw mode) of growing size cut into 4-character deltas, the
microseconds per delta both ways and how many pieces a client gets.

    python -m bench.field_stream
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Literal
from unittest import mock

from api.openai import extract
from api.openai.extract import FieldStream
from bench.machine import machine_info
from bench.report import Cell, Report, Table

HEADERS = ["mode", "chars", "deltas", "every delta us/delta", "shipped us/delta", "ratio"]
HEADERS += ["pieces (every)", "pieces (shipped)"]


def generated(mode: Literal["decoded", "raw"], size: int) -> str:
    """A generated answer object whose field takes about `size` characters."""
    obj: dict[str, Any]
    if mode == "decoded":
        words = 'The moon pulls the oceans [1], twice a day; caf\u00e9 "quoted". ' * size
        obj = {"answer": words[:size], "citations": [1], "answerable": True, "confidence": 0.5}
    else:
        rows = [{"name": f"item {i}", "amount": i * 1.5, "ok": True} for i in range(size // 40)]
        obj = {"data": {"rows": rows}, "citations": [1], "answerable": True}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def run(mode: Literal["decoded", "raw"], deltas: list[str], repeats: int) -> tuple[float, int]:
    """The best seconds for the whole stream over `repeats` runs, and the pieces it sent."""
    best, pieces = float("inf"), 0
    for _ in range(repeats):
        stream = FieldStream("answer" if mode == "decoded" else "data", mode)
        t0 = time.perf_counter()
        sent = [stream.feed(d) for d in deltas]
        best, pieces = min(best, time.perf_counter() - t0), sum(1 for p in sent if p)
    return best, pieces


def main() -> None:
    """Time both ways for each mode and size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 32000])
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell; the best counts")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()
    table = Table("one stream, 4-character deltas", HEADERS)
    modes: tuple[Literal["decoded", "raw"], ...] = ("decoded", "raw")
    for mode in modes:
        for size in args.sizes:
            text = generated(mode, size)
            deltas = [text[i : i + 4] for i in range(0, len(text), 4)]
            with mock.patch.object(extract, "EAGER_CHARS", len(text)):
                every, every_pieces = run(mode, deltas, args.repeats)
            shipped, shipped_pieces = run(mode, deltas, args.repeats)
            per = 1e6 / len(deltas)
            row: list[Cell] = [mode, len(text), len(deltas), every * per, shipped * per]
            table.rows.append([*row, every / shipped, every_pieces, shipped_pieces])
    params = {"eager chars": extract.EAGER_CHARS, "resolution": extract.RESOLUTION}
    Report("chat stream field extraction", machine_info(), params, [table]).emit(args.json)


if __name__ == "__main__":
    main()
