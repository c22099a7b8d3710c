"""Password rules (SECURITY A2): 12 to 1,024 characters, no composition rules, no common ones."""

from __future__ import annotations

import unicodedata

MIN_LENGTH = 12
MAX_LENGTH = 1024

# Common passwords of 12+ characters and words anyone would guess for this task force.
COMMON = {
    "123456789012", "1234567890123", "qwertyuiop12", "qwertyuiopasdf", "password1234",
    "password12345", "passwordpassword", "iloveyou1234", "aaaaaaaaaaaa", "111111111111",
    "abcdefghijkl", "abc123abc123", "letmein12345", "welcome12345", "changeme1234",
    "administrator", "trustno1trustno1", "baseball1234", "football1234", "monkey123456",
    "dragon123456", "sunshine1234", "princess1234", "qwerty123456", "1q2w3e4r5t6y",
    "zaq12wsxcde3", "p@ssw0rd1234", "passw0rd1234", "mypassword12", "correcthorsebatterystaple",
}
THEMED_WORDS = ("csrn", "trafficking", "taskforce", "task force", "victim", "referral", "password",
                "welcome", "changeme", "letmein", "qwerty", "survivor", "casemanager")


def password_problem(password: str, email: str = "") -> str | None:
    """Return why a password is refused, or None when it is acceptable."""
    if password is None or len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters — a few unrelated words make a good passphrase."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if "\x00" in password:
        return "The password contains a NUL character; remove it."
    folded = unicodedata.normalize("NFKC", password).casefold()
    compact = "".join(ch for ch in folded if ch.isalnum() or ch == " ")
    if folded in COMMON or compact.replace(" ", "") in COMMON:
        return "That password is too common; choose something less guessable."
    if len(set(folded)) <= 3:
        return "That password repeats too few characters; choose something less guessable."
    stripped = compact.replace(" ", "")
    for word in THEMED_WORDS:
        word_compact = word.replace(" ", "")
        rest = stripped.replace(word_compact, "")
        if word_compact in stripped and (len(rest) < 6 or rest.isdigit()):
            return "That password is built on an easily guessed word; choose something less guessable."
    local = email.split("@", 1)[0].casefold() if email else ""
    if local and len(local) >= 4 and local in folded and len(folded) - len(local) < 8:
        return "The password must not be built on your e-mail address."
    return None
