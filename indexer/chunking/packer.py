"""Greedy packing of whole units into token ranges of at most `limit` tokens, with overlap."""

from __future__ import annotations

from bisect import bisect_left

from indexer.chunking.boundaries import Unit
from indexer.chunking.tokens import TokenView

Range = tuple[int, int]


class Packer:
    """Packs one section; `overlap` < limit / 2 so every chunk adds new tokens."""

    def __init__(self, view: TokenView, sentences: list[int], limit: int, overlap: int) -> None:
        self.view = view
        self.sentences = sentences
        self.limit = limit
        self.overlap = overlap

    def pack(self, units: list[Unit]) -> list[Range]:
        """Token ranges covering every unit, in order; each fits the limit once tokenized."""
        out: list[Range] = []
        start = end = last = 0  # open chunk is start..end; `last` is where the previous one ended
        extra = 0  # tokens the model adds to the open chunk because it starts inside a word
        for unit in units:
            if unit.oversized:
                if end > last:
                    out.append((start, end))
                    last = end
                    start = self._sentence_overlap(start, end)
                start = self._cut(start, unit.end, out)
                last = out[-1][1]
                extra = max(0, self.view.count(start, unit.end) - (unit.end - start))
            elif unit.end - start + extra > self.limit:
                if end > last:
                    out.append((start, end))
                    last = end
                    start, extra = self._sentence_overlap(start, end), 0
                if unit.end - start > self.limit:
                    start = self._shrink_overlap(start, unit)
            end = unit.end
        if end > last:
            out.append((start, end))
        return out

    def _sentence_overlap(self, start: int, end: int) -> int:
        """Start of the trailing whole sentences of start..end within the overlap, else end."""
        if self.overlap == 0:
            return end
        i = bisect_left(self.sentences, max(start + 1, end - self.overlap))
        return self.sentences[i] if i < len(self.sentences) and self.sentences[i] < end else end

    def _shrink_overlap(self, start: int, unit: Unit) -> int:
        """Drops leading overlap sentences until `unit` fits after them."""
        i = bisect_left(self.sentences, max(start, unit.end - self.limit))
        return min(self.sentences[i], unit.start)

    def _cut(self, start: int, stop: int, out: list[Range]) -> int:
        """Emits token-level pieces of an oversized sentence; returns where its tail starts."""
        view = self.view
        while stop - start > self.limit or view.count(start, stop) > self.limit:
            cut = self._cut_point(start, stop)
            while cut - 1 > start and (excess := view.count(start, cut) - self.limit) > 0:
                cut = max(start + 1, cut - excess)
            out.append((start, cut))
            start = max(self._token_overlap(cut), start + 1)
        return start

    def _cut_point(self, start: int, stop: int) -> int:
        """Last whitespace boundary in the second half of the budget, else the budget's end."""
        hi = max(start + 1, min(start + self.limit, stop - 1))
        for i in range(hi, start + self.limit // 2, -1):
            if self.view.clean(i):
                return i
        return hi

    def _token_overlap(self, cut: int) -> int:
        """Start of the next piece: `overlap` tokens back, moved forward to a word start."""
        lo = cut - self.overlap
        for i in range(lo, cut):
            if self.view.clean(i):
                return i
        return lo
