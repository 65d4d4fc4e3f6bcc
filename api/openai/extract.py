"""One field of a JSON object while it is being generated, delta by delta.

The answer path streams the raw JSON text of the answer object
(`{"answer":"The moon [1].","citations":[1],...}`); a chat client wants only the answer's
words as they come. `FieldStream` scans the text incrementally (string and escape state,
nesting depth, the current top-level key) and hands out:

- `decoded` mode: the decoded value of a top-level string field, escapes resolved even when
  a delta ends inside one (`\\`, `\\u00e9`, a surrogate pair split over four deltas);
- `raw` mode: the raw JSON text of a top-level value of any type (an analyst schema's
  `data` object), ready to be concatenated and parsed by the client.

Only the first occurrence of the field at the top level counts; nested keys of the same name
are ignored. The scanner trusts its input to be JSON (the grammar forced it; the final
answer is validated separately), so it never raises on odd input, it just emits less.
"""

from __future__ import annotations

from typing import Literal

_WHITESPACE = " \t\r\n"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_REPLACEMENT = "\ufffd"  # for a lone surrogate, which no UTF-8 encoder accepts


class FieldStream:
    """Feeds JSON text in, gets one top-level field's value out, incrementally."""

    def __init__(self, field: str, mode: Literal["decoded", "raw"] = "decoded") -> None:
        self.field = field
        self.mode = mode
        self.done = False  # the field's value has ended (or cannot be extracted)
        self.started = False  # the field's value has begun
        self._depth = 0
        self._in_string = False
        self._escape = False  # after a backslash inside a string
        self._hex: str | None = None  # digits of a \uXXXX escape read so far
        self._high: str | None = None  # a decoded high surrogate waiting for its low half
        self._expect_key = False  # at depth 1, the next string is a key
        self._awaiting_value = False  # at depth 1, after a key's colon
        self._key: list[str] | None = None  # the top-level key being read
        self._last_key: str | None = None
        self._capturing = False
        self._scalar = False  # capturing a number or literal (raw mode)
        self._decode_into: list[str] | None = None  # where decoded string characters go

    def feed(self, text: str) -> str:
        """The field's value text that `text` completes (may be empty)."""
        if self.done:
            return ""
        out: list[str] = []
        for char in text:
            self._step(char, out)
            if self.done:
                break
        return "".join(out)

    def _step(self, char: str, out: list[str]) -> None:
        if self._in_string:
            self._string_char(char, out)
            return
        if self._scalar:
            if char in _WHITESPACE or char in ",}]":
                self._scalar = self._capturing = False
                self.done = True
                return
            out.append(char)
            return
        if char in _WHITESPACE:
            if self._capturing:
                out.append(char)  # between tokens of a captured container
            return
        starts_value = self._depth == 1 and self._awaiting_value
        if starts_value:
            self._awaiting_value = False
            if self._last_key == self.field and not self.started:
                self._begin(char)
        if self._capturing and self.mode == "raw":
            out.append(char)
        if char == '"':
            self._open_string(starts_value)
        elif char in "{[":
            self._depth += 1
            if self._depth == 1:
                self._expect_key = char == "{"
        elif char in "}]":
            self._depth -= 1
            if self._capturing and self._depth == 1:
                self._end()
        elif self._depth == 1 and char == ":":
            self._awaiting_value = True
        elif self._depth == 1 and char == ",":
            self._expect_key = True
        elif self._capturing and self._depth == 1:
            self._scalar = True  # a number or literal of the field, in raw mode

    def _begin(self, char: str) -> None:
        """The field's value starts with `char`."""
        self.started = True
        if self.mode == "decoded" and char != '"':
            self.done = True  # not a string: nothing to decode
            return
        self._capturing = True

    def _end(self) -> None:
        self._capturing = False
        self.done = True

    def _open_string(self, is_value: bool) -> None:
        self._in_string = True
        self._decode_into = None
        if self._depth == 1 and self._expect_key and not is_value:
            self._expect_key = False
            self._key = []
            self._decode_into = self._key

    def _string_char(self, char: str, out: list[str]) -> None:
        """One character inside a string: decode it, or end the string."""
        decoded = self.mode == "decoded" and self._capturing
        sink = out if decoded else self._decode_into
        if self._capturing and self.mode == "raw":
            # Raw control characters (which the grammar lets through) would make the
            # client's strict parse fail: send them escaped.
            out.append(char if char >= " " or self._escape or self._hex else f"\\u{ord(char):04x}")
        if self._hex is not None:
            self._hex += char
            if len(self._hex) == 4:
                unit = chr(int(self._hex, 16)) if _is_hex(self._hex) else _REPLACEMENT
                self._hex = None
                self._unit(unit, sink)
            return
        if self._escape:
            self._escape = False
            if char == "u":
                self._hex = ""
            else:
                self._unit(_ESCAPES.get(char, char), sink)
            return
        if char == "\\":
            self._escape = True
        elif char == '"':
            self._close_string(sink)
        else:
            self._unit(char, sink)

    def _unit(self, unit: str, sink: list[str] | None) -> None:
        """A decoded UTF-16 unit or character: pair surrogates, replace lone ones."""
        code = ord(unit)
        if self._high is not None:
            high, self._high = self._high, None
            if 0xDC00 <= code <= 0xDFFF:
                pair = 0x10000 + ((ord(high) - 0xD800) << 10) + (code - 0xDC00)
                _put(sink, chr(pair))
                return
            _put(sink, _REPLACEMENT)
        if 0xD800 <= code <= 0xDBFF:
            self._high = unit
        elif 0xDC00 <= code <= 0xDFFF:
            _put(sink, _REPLACEMENT)
        else:
            _put(sink, unit)

    def _close_string(self, sink: list[str] | None) -> None:
        if self._high is not None:
            self._high = None
            _put(sink, _REPLACEMENT)
        self._in_string = False
        if self._key is not None:
            self._last_key, self._key = "".join(self._key), None
        self._decode_into = None
        if self._capturing and self._depth == 1:
            self._end()


def _put(sink: list[str] | None, text: str) -> None:
    if sink is not None:
        sink.append(text)


def _is_hex(digits: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in digits)


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
