"""The password policy of self-registration: at least 12 characters, and not all of one class
(lower-case letters, upper-case letters, digits, others). NIST SP 800-63B 5.1.1.2 prefers
length over composition rules; the one-class rule only refuses the weakest long passwords
("aaaaaaaaaaaa", "123456789012")."""

from __future__ import annotations

__all__ = ["MIN_LENGTH", "POLICY_TEXT", "password_problem"]

MIN_LENGTH = 12
POLICY_TEXT = f"at least {MIN_LENGTH} characters, not all letters of one case, nor all digits, nor all symbols"


def _class(char: str) -> str:
    if char.islower():
        return "lower"
    if char.isupper():
        return "upper"
    return "digit" if char.isdigit() else "other"


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused, or None when it passes."""
    if len(password) < MIN_LENGTH:
        return f"The password must have {POLICY_TEXT}."
    if len({_class(c) for c in password}) < 2:
        return f"The password must have {POLICY_TEXT}: mix letters with digits, capitals or symbols."
    return None
