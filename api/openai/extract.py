"""One field of a JSON object while it is being generated, delta by delta.

The answer path streams the raw JSON text of the answer object
(`{"answer":"The moon [1].","citations":[1],...}`); a chat client wants only the answer's
words as they come. `FieldStream` parses the growing text as a partial document
(pydantic_core's `from_json` with `allow_partial="trailing-strings"`: an unfinished string
counts with what it has so far, an unfinished key, number, literal or escape is left out)
and hands out what the top-level field gained:

- `decoded` mode: the decoded value of a string field;
- `raw` mode: the value of any type as compact JSON, exactly as the final answer carries it
  (`json.dumps(value, separators=(",", ":"), ensure_ascii=False)`, rag/answer/grounding.py),
  but only the part that no later delta can change: closing quotes and brackets that the
  partial parse added, and a trailing number or literal that may still grow, wait.

Nested keys of the same name are ignored. Nothing is raised on odd input (the grammar forced
JSON; the final answer is validated separately): a text that does not parse yet, such as a
lone surrogate escape, just emits nothing until it does. Whatever was not emitted comes with
the final answer (`StreamedText.ending` in chat.py).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic_core import from_json

_MISSING = object()
# Parsing the whole text again for every delta costs time quadratic in its length. Past
# EAGER_CHARS the text is parsed again only once it has grown by 1/RESOLUTION, which bounds
# the work to some RESOLUTION parses of the whole text, at the cost of coarser pieces late
# in a long value. Raw mode also serialises the value, so it parses less often.
EAGER_CHARS = 1024
RESOLUTION = {"decoded": 256, "raw": 32}


class FieldStream:
    """Feeds JSON text in, gets one top-level field's value out, incrementally."""

    def __init__(self, field: str, mode: Literal["decoded", "raw"] = "decoded") -> None:
        self.field = field
        self.mode = mode
        self.done = False  # the field's value has ended (or cannot be extracted)
        self.sent = ""  # all that feed() returned
        self._text = ""
        self._parsed = 0  # length of the text when it was last parsed
        self._strings = _EscapedControls()

    def feed(self, text: str) -> str:
        """The field's value text that `text` adds (may be empty)."""
        if self.done:
            return ""
        self._text += self._strings.feed(text)
        size = len(self._text)
        if size > EAGER_CHARS and (size - self._parsed) * RESOLUTION[self.mode] < size:
            return ""
        self._parsed = size
        value, complete = self._value()
        if value is _MISSING:
            return ""
        if self.mode == "raw":
            now = _compact(value) if complete else _settled(value)
        elif isinstance(value, str):
            now = value  # a partial string is a prefix of the final one
        else:
            self.done = True  # not a string: nothing to decode
            return ""
        self.done = complete
        if len(now) <= len(self.sent) or not now.startswith(self.sent):
            return ""  # nothing new (or a duplicate key took a sent value back: wait)
        piece, self.sent = now[len(self.sent) :], now
        return piece

    def _value(self) -> tuple[Any, bool]:
        """The field's value so far (or _MISSING), and whether it is complete."""
        try:
            obj = from_json(self._text, allow_partial="trailing-strings")
        except ValueError:
            return _MISSING, False
        if not isinstance(obj, dict) or self.field not in obj:
            return _MISSING, False
        # A key after the field means the parser got past its value.
        complete = next(reversed(obj)) != self.field or self._closed()
        return obj[self.field], complete

    def _closed(self) -> bool:
        if not self._text.rstrip().endswith("}"):
            return False
        try:
            from_json(self._text)
        except ValueError:
            return False
        return True


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _settled(value: Any) -> str:
    """The compact JSON of a partial value, less what its completion may still change."""
    text = _compact(value).rstrip("]}")
    if text.endswith('"'):  # the string may go on
        return text[:-1]
    # A trailing number or literal may still grow ("1" -> "12.5"); no scalar holds these.
    return text[: max(text.rfind(c) for c in "[{,:") + 1]


class _EscapedControls:
    """Escapes raw control characters inside JSON strings, which a strict parser refuses.

    The grammar lets them into strings and the answer path reads them
    (`json.loads(strict=False)`); escaped, they decode to the same characters.
    """

    def __init__(self) -> None:
        self._in_string = False
        self._escape = False

    def feed(self, text: str) -> str:
        out = []
        for char in text:
            if self._escape:
                self._escape = False
            elif char == "\\":
                self._escape = self._in_string
            elif char == '"':
                self._in_string = not self._in_string
            elif self._in_string and char < " ":
                char = f"\\u{ord(char):04x}"
            out.append(char)
        return "".join(out)


class TrimmedText:
    """Streams text as `str.strip()` of the whole would read, without waiting for the end.

    Leading whitespace is dropped; trailing whitespace is held back until more text follows
    it, so the streamed text equals the final answer (which the answer path strips).
    """

    def __init__(self) -> None:
        self._held = ""
        self._begun = False
        self.sent = ""

    def feed(self, text: str) -> str:
        """What of `text` can be sent now."""
        if not self._begun:
            text = text.lstrip()
            if not text:
                return ""
            self._begun = True
        text = self._held + text
        body = text.rstrip()
        self._held = text[len(body) :]
        self.sent += body
        return body
