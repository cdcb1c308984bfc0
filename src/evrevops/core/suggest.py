"""What an unknown name was probably meant to be: one message for every closed set of names a user types."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

MAX_LISTED = 40  # more known names than this: the message lists the first ones and says how many there are


def _squashed(text: str) -> str:
    """*text* lower-case with only its letters and digits (``Palo Alto``, ``palo_alto`` and ``paloalto`` agree)."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def close_names(name: str, known: Iterable[str], hints: Mapping[str, str] | None = None) -> list[str]:
    """The known names *name* is closest to, best first (at most three).

    Parameters
    ----------
    name
        What the user typed.
    known
        The valid names.
    hints
        A description of some of the names (e.g. a mapping's); a name whose description contains
        what the user typed (letters and digits, case ignored) is suggested first.
    """
    names = list(dict.fromkeys(known))
    typed = _squashed(name)
    by_squash: dict[str, str] = {}
    for n in names:
        by_squash.setdefault(_squashed(n), n)
    found = [by_squash[typed]] if typed in by_squash else []
    if hints and len(typed) >= 3:
        found += [n for n in names if n in hints and typed in _squashed(hints[n])]
    found += difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    found += [by_squash[s] for s in difflib.get_close_matches(typed, list(by_squash), n=3, cutoff=0.6)]
    return [n for n in dict.fromkeys(found) if n != name][:3]


def did_you_mean(
    name: str, known: Iterable[str], what: str, hints: Mapping[str, str] | None = None, lead: str = "known:"
) -> str:
    """``unknown <what> '<name>'; did you mean '<x>'? known: a, b, c`` (the "did you mean" only when one is close).

    Parameters
    ----------
    name
        What the user typed.
    known
        The valid names, in the order to list them.
    what
        What kind of name it is (``mapping``, ``metric``, ``site``, ...).
    hints
        Descriptions that may name what was typed (see :func:`close_names`).
    lead
        The words before the list: ``known:`` for names the data or the product ships, ``use one of`` for a
        closed vocabulary (as :mod:`evrevops.core.vocabulary` says it).
    """
    names = list(dict.fromkeys(known))
    if not names:
        return f"unknown {what} {name!r}; there is none to choose from"
    listed = ", ".join(names[:MAX_LISTED]) + (f" … ({len(names)} in all)" if len(names) > MAX_LISTED else "")
    return f"{suggestion(name, names, what, hints)} {lead} {listed}"


def suggestion(name: str, known: Iterable[str], what: str, hints: Mapping[str, str] | None = None) -> str:
    """``unknown <what> '<name>';`` then ``did you mean '<x>'?`` when a known name is close: the head of
    :func:`did_you_mean`'s message, for a caller that lists the known names its own way."""
    close = close_names(name, known, hints)
    head = f"unknown {what} {name!r};"
    return f"{head} did you mean {' or '.join(repr(c) for c in close)}?" if close else head
