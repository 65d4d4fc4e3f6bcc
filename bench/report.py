"""Plain-text tables (or JSON with `--json`) for benchmark results, machine info included."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

Cell = str | int | float


@dataclass
class Table:
    """One result table: a title, column headers and rows of cells."""

    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)

    def render(self) -> str:
        """The table as aligned plain text (a Markdown pipe table, so docs can paste it)."""
        cells = [self.headers, *[[_fmt(c) for c in row] for row in self.rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.headers))]

        def line(row: list[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([f"### {self.title}", "", line(cells[0]), rule, *map(line, cells[1:])])


@dataclass
class Report:
    """Everything one benchmark run prints: machine, parameters, tables, notes."""

    name: str
    machine: dict[str, str]
    params: dict[str, Any]
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        """The report as plain text."""
        head = [f"## {self.name}", ""]
        head += [f"- {k}: {v}" for k, v in self.machine.items()]
        head += [f"- {k}: {v}" for k, v in self.params.items()]
        parts = ["\n".join(head), *(t.render() for t in self.tables)]
        if self.notes:
            parts.append("\n".join(f"- {n}" for n in self.notes))
        return "\n\n".join(parts) + "\n"

    def emit(self, as_json: bool) -> None:
        """Print as text, or as one JSON object."""
        print(json.dumps(asdict(self), indent=2) if as_json else self.render())


def _fmt(value: Cell) -> str:
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) < 1:
            return f"{value:.3g}"
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value
