"""Password strength: what `edgewatch passwd` and the setup step refuse, with a reason a human can act on."""

from __future__ import annotations

USERNAME = "admin"  # the one account (SPEC)
MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS = 10, 1024


class WeakPasswordError(ValueError):
    """A password `check_password_strength` refuses; the message says why, for humans."""


_COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "0987654321", "qwertyuiop", "1q2w3e4r5t", "1qaz2wsx3edc", "password", "password1",
        "password12", "password123", "passw0rd123", "edgewatch", "admin", "administrator", "iloveyou12",
        "trustno1trustno1", "a1b2c3d4e5", "abc1234567", "qwerty1234", "letmein123", "changeme123",
    }
)  # fmt: skip
# Words that add nothing to a guesser's work; longest first so "administrator" goes before "admin".
_COMMON_WORDS = tuple(
    sorted(
        {
            USERNAME, "administrator", "edgewatch", "password", "passwort", "qwerty", "letmein", "welcome",
            "iloveyou", "changeme", "default", "secret", "camera", "security", "monkey", "dragon", "football",
            "sunshine", "princess", "master", "login", "root", "guest", "test", "user",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip
# A password that is any stretch of these (either direction) is a sequence or a walk along the keyboard.
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789012345678901234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1q2w3e4r5t6y7u8i9o0p",
)
_LEET = str.maketrans("0134578@$!", "oieastbasi")
_MIN_OWN_CHARS = 6  # what must remain once common words are taken out
_MIN_DISTINCT_CHARS = 4


def check_password_strength(password: str) -> None:
    """Raises WeakPasswordError (saying why) unless `password` is fit for the admin account."""
    why = _weakness(password)
    if why is not None:
        raise WeakPasswordError(f"password {why}")


def _weakness(password: str) -> str | None:
    """Why `password` is refused, or None: the form first (size, characters), then how guessable it is."""
    return _bad_form(password) or _guessable(password.lower())


def _bad_form(password: str) -> str | None:
    if "\x00" in password:
        return "must not contain a NUL character"
    if len(password) < MIN_PASSWORD_CHARS:
        return f"is too short: use at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"is too long: at most {MAX_PASSWORD_CHARS} characters"
    if not password.isprintable():
        return "must be printable characters only (no tabs, line breaks or control characters)"
    return None


def _guessable(low: str) -> str | None:
    """`low`: the password in lower case."""
    if len(set(low)) == 1:
        return "is one character repeated"
    if low in _COMMON_PASSWORDS:
        return "is a well-known password"
    if _is_run(low):
        return "is a sequence or a keyboard run (like abcdefghij or qwertyuiop)"
    if _short_repeat(low):
        return "is a short pattern repeated"
    if len(set(low)) < _MIN_DISTINCT_CHARS:
        return "has too few different characters"
    if any(_mostly_words(form) for form in (low, low.translate(_LEET))):
        return f"is little more than a common word or the user name '{USERNAME}': add unrelated words"
    return None


def _mostly_words(form: str) -> bool:
    rest = form
    for word in _COMMON_WORDS:
        rest = rest.replace(word, "")
    return rest != form and _trivial_rest(rest)


def _is_run(text: str) -> bool:
    return any(text in run or text in run[::-1] for run in _RUNS)


def _short_repeat(text: str) -> bool:
    """True for a block of fewer than _MIN_OWN_CHARS characters repeated, like 'abcabcabca'."""
    n = len(text)
    return any(n >= 2 * p and text == (text[:p] * (n // p + 1))[:n] for p in range(1, _MIN_OWN_CHARS))


def _trivial_rest(rest: str) -> bool:
    """What is left beside common words adds too little: short, a run, a repeat, or a year and a '!'."""
    if len(rest) < _MIN_OWN_CHARS or _is_run(rest) or _short_repeat(rest):
        return True
    return len(rest) < 8 and not any(ch.isalpha() for ch in rest)
