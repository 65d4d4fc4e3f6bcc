"""The retrieval query of a conversation: a follow-up question joined with what it follows.

"How strong are they?" retrieves nothing useful on its own; joined with the user turn it
follows ("What causes the tides?") it finds the tide passages again. The model is still asked
the last user message as written: only retrieval sees the joined text.

This is deterministic on purpose, not an LLM rewrite ("condense the question"): the packaged
generator is a 135M model that rewrites questions badly (it drops the subject or answers the
question instead), and a rewrite would cost a second generation before the answer's own on
every follow-up. A joined query costs nothing, and hybrid retrieval copes well with the
extra words of an earlier turn; over-joining a standalone question only adds some noise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Pronouns and pro-forms that point back at an earlier turn.
ANAPHORA = frozenset(
    {
        "it", "its", "itself", "they", "them", "their", "theirs", "themselves",
        "this", "that", "these", "those", "he", "him", "his", "she", "her", "hers",
        "there", "former", "latter", "same",
    }
)  # fmt: skip
# Openings that continue the previous question rather than ask a new one. A bare "why"
# opener is not among them: "Why does copper conduct?" stands alone; "Why?" and "Why is
# that?" are caught as short or by their pronoun.
FOLLOW_UP_OPENERS = (
    "and", "but", "also", "so", "then", "or", "what about", "how about", "what else",
    "tell me more", "more about", "what if", "same for", "as for", "why not",
)  # fmt: skip
# A question of this few words or fewer leans on the context ("Which one?", "When?").
SHORT_WORDS = 3
# At most this many earlier user turns are joined, and each keeps at most this many
# characters (its end, where a question usually is): a pasted document in an old turn must
# not swamp the query.
MAX_EARLIER_TURNS = 2
MAX_EARLIER_CHARS = 400

_WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    """Lower-cased words; "it's" gives "it" (the part that matters here)."""
    return [w.split("'")[0] for w in _WORD.findall(text.lower()) if w.split("'")[0]]


def is_follow_up(question: str) -> bool:
    """Whether `question` probably depends on an earlier turn to be understood."""
    found = words(question)
    if len(found) <= SHORT_WORDS:
        return True
    if any(w in ANAPHORA for w in found):
        return True
    opening = " ".join(found[:3])
    return any(opening == o or opening.startswith(o + " ") for o in FOLLOW_UP_OPENERS)


def condense(user_turns: Sequence[str]) -> str:
    """The retrieval query for the last of `user_turns` (the user's messages, oldest first).

    A standalone question is its own query. A follow-up is joined with the turn before it,
    and that one with its own predecessor while it is a follow-up too, up to
    `MAX_EARLIER_TURNS` earlier turns, oldest first (the order they were asked in).
    """
    turns = [t.strip() for t in user_turns if t.strip()]
    if not turns:
        raise ValueError("no user message to condense")
    last = turns[-1]
    joined: list[str] = []
    current = last
    for earlier in reversed(turns[:-1]):
        if len(joined) == MAX_EARLIER_TURNS or not is_follow_up(current):
            break
        joined.append(_tail(earlier))
        current = earlier
    return " ".join([*reversed(joined), last])


def _tail(text: str) -> str:
    """The last `MAX_EARLIER_CHARS` characters of `text`, starting at a word."""
    if len(text) <= MAX_EARLIER_CHARS:
        return text
    cut = text[-MAX_EARLIER_CHARS:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < len(cut) - 1 else cut
