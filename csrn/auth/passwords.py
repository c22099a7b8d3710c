"""Password rules (SECURITY A2): 12 to 1,024 characters, no composition rules, hard to guess (zxcvbn)."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 1024
# zxcvbn's scale: 3 is "safely unguessable: moderate protection from an offline slow-hash attack".
MIN_SCORE = 3
# zxcvbn's own limit. Its matching grows much faster than the length (about 11 s for 1,024 characters here),
# so a longer passphrase is judged by its first 72 characters.
SCORED_LENGTH = 72
# Words anyone would try first against this task force; zxcvbn gets them beside the user's own details.
THEMED_WORDS = ("csrn", "trafficking", "taskforce", "task force", "victim", "referral", "password",
                "welcome", "changeme", "letmein", "qwerty", "survivor", "casemanager")
DEFAULT_SUGGESTION = "Add another word or two; uncommon words are better."
# zxcvbn keeps the user's words in a module-level dictionary while it scores: two threads at once would
# each be scored against the other's words.
_ZXCVBN_LOCK = threading.Lock()


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Return why a password is refused, or None when it is acceptable.

    `user_inputs` are what an attacker would know: the user's e-mail, name, agency and the task force's name.
    """
    if password is None or len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters — a few unrelated words make a good passphrase."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if "\x00" in password:
        return "The password contains a NUL character; remove it."
    if _built_on_a_themed_word(password):
        return "That password is built on an easily guessed word; choose something less guessable."
    result = _score(password[:SCORED_LENGTH], guessable_words(user_inputs))
    if result["score"] < MIN_SCORE:
        return _feedback_text(result["feedback"])
    return None


def guessable_words(user_inputs: Iterable[str]) -> list[str]:
    """The words zxcvbn should try first: the themed words, and each detail whole and word by word."""
    words = set(THEMED_WORDS)
    for detail in user_inputs:
        detail = (detail or "").strip().casefold()
        if not detail:
            continue
        words.add(detail)
        words.add(detail.split("@", 1)[0])  # an e-mail's local part (the whole of any other detail)
        words.update(part for part in re.split(r"[\W_]+", detail) if len(part) >= 3)
    return sorted(words)


def _score(password: str, words: list[str]) -> dict:
    """zxcvbn's verdict on the password, one call at a time (see _ZXCVBN_LOCK)."""
    with _ZXCVBN_LOCK:
        return zxcvbn(password, user_inputs=words, max_length=SCORED_LENGTH)


def _feedback_text(feedback: dict) -> str:
    """zxcvbn's warning and suggestions as one message (a suggestion of our own when it has none)."""
    parts = ["This password would be easy to guess."]
    if feedback.get("warning"):
        parts.append(feedback["warning"])
    parts += feedback.get("suggestions") or [DEFAULT_SUGGESTION]
    return " ".join(parts)


def _built_on_a_themed_word(password: str) -> bool:
    """Whether the password is a themed word with little else (`TaskForce2025!!`, which zxcvbn rates 3)."""
    folded = unicodedata.normalize("NFKC", password).casefold()
    stripped = "".join(ch for ch in folded if ch.isalnum())
    for word in THEMED_WORDS:
        word_compact = word.replace(" ", "")
        rest = stripped.replace(word_compact, "")
        if word_compact in stripped and (len(rest) < 6 or rest.isdigit()):
            return True
    return False
