"""Exceptions of the privacy layer (the tree is drawn in ``ivr/privacy/__init__.py``)."""

from __future__ import annotations


class PrivacyError(Exception):
    """Base of every privacy failure."""


class PrivacyConfigError(PrivacyError, ValueError):
    """``privacy.yaml`` is unreadable or invalid; carries every finding, one per line."""

    def __init__(self, findings: list[str]) -> None:
        self.findings = findings
        super().__init__("\n".join(findings))


class KeyringError(PrivacyError):
    """The keyring is unreadable, corrupt, too open, or lacks a needed key id."""


class SealedError(PrivacyError):
    """A sealed file is not ours, was altered, or was sealed for another key or context."""


class AccessDenied(PrivacyError, PermissionError):
    """A role asked for an action its permission table does not grant."""

    def __init__(self, role: str, action: str, user: str | None = None) -> None:
        self.role = role
        self.action = action
        self.user = user
        who = f"user '{user}' (role '{role}')" if user else f"role '{role}'"
        super().__init__(f"{who} may not '{action}'")
