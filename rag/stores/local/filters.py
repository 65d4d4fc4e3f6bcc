"""Metadata filters as SQL: equality on JSON metadata keys, ANDed, with forgiving typing.

Filter values often arrive as strings (a CLI flag, a query parameter) while metadata holds JSON
numbers and booleans, so `"2020"` matches the number 2020, `2020` matches the string "2020",
and `"true"` matches JSON true. Keys are validated and values are bound as parameters: nothing
the caller sends is pasted into SQL.
"""

from __future__ import annotations

import math
import re

from rag.errors import InvalidInputError
from rag.stores.base import FILTER_ALIASES, Filters

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
# SQLite binds integers as 64-bit; a larger Python int raises OverflowError inside the call.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Params = list[str | int | float]


def filter_sql(filters: Filters, column: str) -> tuple[str, Params]:
    """A WHERE fragment over the JSON `column` that is true where every filter matches."""
    if not filters:
        return "1", []
    clauses: list[str] = []
    params: Params = []
    for key, value in filters.items():
        alternatives = [_one(column, name, value) for name in _aliases(_checked_key(key))]
        clauses.append("(" + " OR ".join(clause for clause, _ in alternatives) + ")")
        params.extend(p for _, clause_params in alternatives for p in clause_params)
    return " AND ".join(clauses), params


def _aliases(key: str) -> tuple[str, ...]:
    return FILTER_ALIASES.get(key, (key,))


def _checked_key(key: object) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInputError(
            f"invalid filter key {key!r}: use letters, digits and '_', starting with a letter"
        )
    return key


def _one(column: str, key: str, value: object) -> tuple[str, Params]:
    path = f"$.{key}"
    kind = f"json_type({column}, ?)"
    val = f"json_extract({column}, ?)"
    as_text = f"({kind} = 'text' AND {val} = ?)"
    as_number = f"({kind} IN ('integer', 'real') AND {val} = ?)"
    as_bool = f"{kind} = ?"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return as_bool, [path, "true" if value else "false"]
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInputError(f"filter {key!r}: {value!r} is not a finite number")
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise InvalidInputError(
                f"filter {key!r}: integer out of range (use -2^63 .. 2^63-1), got {value}"
            )
        return f"({as_number} OR {as_text})", [path, path, value, path, path, _text(value)]
    if isinstance(value, str):
        parts = [as_text]
        params: Params = [path, path, value]
        # Past 40 characters no int64 or float spelling is meant (and int() refuses 4300+ digits).
        if len(value) <= 40 and _NUMBER.match(value):
            number = float(value) if any(c in value for c in ".eE") else int(value)
            # Out of range it can only ever match as text (stored metadata holds int64).
            in_range = isinstance(number, float) or INT64_MIN <= number <= INT64_MAX
            if math.isfinite(number) and in_range:
                parts.append(as_number)
                params += [path, path, number]
        if value.lower() in ("true", "false"):
            parts.append(as_bool)
            params += [path, value.lower()]
        return "(" + " OR ".join(parts) + ")", params
    raise InvalidInputError(
        f"filter {key!r}: value must be a string, number or boolean, got {type(value).__name__}"
    )


def _text(number: int | float) -> str:
    """The spelling a string in metadata would most likely use for `number`."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)
