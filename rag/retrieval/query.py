"""A question's retrieval query: its informative part, without the instructions around it.

Analysts and chat frontends wrap a question in instructions ("Assume that you are a public
equities analyst. Answer the following question by primarily using information that is
shown in the balance sheet: what is the FY2018 net PP&E of 3M?"). Searched whole, the
instructions' words weigh as much as the question's in the embedding and add noise to
BM25; the model still needs them, the search does not.

Rules, not a model: each sentence (or colon-separated clause) is kept, dropped, or cut
down to the parts of a document it names. Role-play ("Assume that you are ...", "You are
an ...") is dropped; an instruction about answering ("Answer the following question by
primarily using ...", "Round to two decimals") keeps only the statement or section it
points at ("balance sheet"), which says where the answer is. Anything else is kept as
written, and a question that would be left empty is returned unchanged.
"""

from __future__ import annotations

import re

# Sentences and clauses: a question often puts its instructions before a colon.
_SPLIT = re.compile(r"(?<=[.!?:;])\s+|\n+")
_ROLE = re.compile(
    r"^(?:please\s+)?(?:(?:assume|imagine|suppose|pretend)\b.*\byou\s+are\b|"
    r"you\s+are\s+(?:a|an|the|acting)\b|act\s+as\b|as\s+an?\s+[\w\s-]{0,40}"
    r"(?:analyst|investor|banker|advisor|adviser|manager|expert|accountant|auditor)\b,?$)",
    re.IGNORECASE,
)
# Openings of sentences that tell how to answer, not what is asked.
_INSTRUCTION = re.compile(
    r"^(?:please\s+|kindly\s+)?(?:answer|respond|reply|give|provide|use|using|rely|relying|"
    r"base|based\s+on|round|express|report|show\s+your|state|keep|be\s+(?:concise|brief)|"
    r"only\s+use|do\s+not|don't|if\s+(?:the|this)\s+(?:question|answer|information))\b",
    re.IGNORECASE,
)
# Parts of a document an instruction may point at: worth keeping as search words.
_SOURCES = re.compile(
    r"\b(?:(?:consolidated\s+)?(?:balance\s+sheets?|income\s+statements?|"
    r"cash\s+flows?\s+statements?|statements?\s+of\s+(?:cash\s+flows?|income|operations|"
    r"financial\s+position|comprehensive\s+income|(?:stockholders'?|shareholders'?)\s+equity)|"
    r"p&l|profit\s+and\s+loss(?:\s+statement)?)|notes?\s+to\s+the\s+(?:consolidated\s+)?"
    r"financial\s+statements|risk\s+factors|segment\s+(?:information|reporting|results)|"
    r"md&a|management'?s\s+discussion\s+and\s+analysis|earnings\s+release|"
    r"10-k|10-q|8-k|annual\s+report|quarterly\s+report)\b",
    re.IGNORECASE,
)


def informative_query(question: str) -> str:
    """The words of `question` worth searching: instructions dropped, named sources kept."""
    kept: list[str] = []
    for part in _SPLIT.split(question.strip()):
        part = part.strip()
        if not part:
            continue
        if _ROLE.match(part):
            continue
        if _INSTRUCTION.match(part) and not part.endswith("?"):
            kept.extend(m.group(0) for m in _SOURCES.finditer(part))
            continue
        kept.append(part)
    query = " ".join(kept).strip()
    return query if _has_words(query) else question


def _has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)
