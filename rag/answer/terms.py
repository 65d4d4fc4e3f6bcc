"""Words of a question: its content words, and the terms a passage must name to answer it.

A question about "Tesla's automotive revenue in 2023" is close in embedding space to any
filing's revenue paragraph, so cosine relevance alone lets another company's figures through.
Its key terms (names, years, figures) say what the answer must be about: a passage that
answers it names them. Names are words capitalised inside the question or acronyms; first
words ("What", "Does") and capitalised function words are not names. Matching ignores case,
possessives and thousands separators, and a name matches as a word prefix ("Tesla" in
"Tesla's"). Hand-written: an NER model would cost a second model load per process, and
questions' names are almost always capitalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Function words that a question may capitalise mid-sentence, and question openers.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not now of off on once only or other our ours out over
    own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours per versus vs give given list name tell show state
    describe explain""".split()  # noqa: SIM905 - a word list reads better as one string
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&\-]*")
_NAME = re.compile(r"(?<![\w$])([A-Z][A-Za-z0-9&\-]*(?:['\u2019]s)?)")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_POSSESSIVE = re.compile(r"['\u2019]s\b")


def _stem(word: str) -> str:
    """A crude stem: enough that "revenues" meets "revenue" and "costs" meets "cost"."""
    word = word.lower()
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """The text's words less function words, lower-cased and crudely stemmed."""
    return {_stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1}


def key_terms(question: str) -> set[str]:
    """The names, years and figures of a question, normalised for matching."""
    terms: set[str] = set()
    text = _THOUSANDS.sub("", question)
    # A title-cased question ("Does It Work?") capitalises every word: only acronyms are names.
    title_case = _title_cased(text)
    for match in _NAME.finditer(text):
        word = _POSSESSIVE.sub("", match.group(1))
        first = text[: match.start()].strip(" \"'(") == ""
        acronym = sum(c.isupper() for c in word) >= 2
        if word.lower() in STOPWORDS or ((first or title_case) and not acronym):
            continue
        # "HDL-C" is written "HDL cholesterol", "Hawkins-Kennedy" "Hawkins and Kennedy".
        terms.update(p.lower() for p in word.split("-") if len(p) >= 2)
    terms.update(_YEAR.findall(text))
    for figure in _FIGURE.findall(text):
        digits = figure.replace(",", "")
        # Small counts ("the 3 segments") are often spelt out or implied in the passage.
        if len(digits.replace(".", "")) >= 2:
            terms.add(digits)
    return terms


def _title_cased(text: str) -> bool:
    words = [w for w in _WORD.findall(text)[1:] if len(w) > 3 and w.lower() not in STOPWORDS]
    return len(words) >= 4 and all(w[0].isupper() for w in words)


def missing_terms(terms: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The terms no text names, sorted; [] when every term is found in some text."""
    corpus = " ".join(_THOUSANDS.sub("", t).lower() for t in texts)
    return sorted(t for t in terms if not _names(corpus, t))


def _names(corpus: str, term: str) -> bool:
    # A word-prefix match: "tesla" in "tesla's", "2019" in "fy2019" would be a miss, but
    # "2019" in "2019." or "(2019)" is found; a figure must not be part of a longer number.
    if term[0].isdigit():
        return re.search(rf"(?<![\d.]){re.escape(term)}(?!\d|\.\d)", corpus) is not None
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}", corpus) is not None
