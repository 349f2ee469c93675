"""Masking personal identifiers in free text: transcripts, log lines, event details.

A call record must be useful to staff without being a list of patients' phone
numbers and ID numbers. Each identifier is replaced by a short tag saying what
it was, so a reader still understands the sentence:

    "my number is 138 0013 8000"        -> "my number is [PHONE …00]"
    "身份证 11010519491231002X"          -> "身份证 [ID]"
    "MRN: 00123456"                     -> "[MRN]"

Phones keep their last two digits (``{tail}`` in a replacement) so staff can
tell two numbers apart; nothing else is kept. Patterns are matched on the
NFKC form of the text (full-width ``１３８``, ``：`` and ``－`` count as ASCII)
but replaced in the original text, so everything around them is untouched.

The rules live in ``privacy.yaml`` (``masking.patterns``, applied in order);
without that file the same built-in rules apply. Deliberately *not* masked:
numbers shorter than 7 digits ("press 2", "39.5 度", "room 301"), dates
("2026-11-26"), times, decimals, IP addresses, Asterisk unique ids
("1732612345.42") and a bare run of 7-10 digits that has no phone shape (it
could be a count or an id); a grouped one ("8765 4321", "555-1234") is masked.

Logs: ``install_log_masking(masker)`` masks every record as it is created
(``logging.setLogRecordFactory``), so it covers child loggers, handlers added
later and pytest's capture alike. A filter on the root *logger* would not: it
never sees records propagated from child loggers. ``MaskingFilter`` is there
for a single handler. Fields passed with ``extra=`` are not masked.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ivr.privacy._config import PRIVACY_FILE, read_section, validate
from ivr.privacy._errors import PrivacyConfigError

SECTION = "masking"
TAIL = "{tail}"  # in a replacement: the last two digits of what was matched

_ZH_DIGITS = "零〇一幺二两三四五六七八九"
_EN_DIGITS = "zero|oh|one|two|three|four|five|six|seven|eight|nine"
_DATE_YMD = r"(?:19|20)[0-9]{2}[-/ ](?:0?[1-9]|1[0-2])[-/ ](?:0?[1-9]|[12][0-9]|3[01])(?![0-9])"
_DATE_DMY = r"(?:0?[1-9]|[12][0-9]|3[01])[-/ ](?:0?[1-9]|1[0-2])[-/ ](?:19|20)[0-9]{2}(?![0-9])"

# (name, regex, replacement, min_digits), applied in this order; privacy.yaml mirrors it.
DEFAULT_PATTERNS: tuple[tuple[str, str, str, int], ...] = (
    ("mrn",
     r"(?i)(?<![a-z])(?:mrn|medical record (?:number|no\.?)|病历号|病案号|住院号)"
     r"\s*(?:[:#]|no\.?|是|为)?\s*[a-z]{0,2}[0-9]{6,10}(?![0-9])",
     "[MRN]", 6),
    # 18 digits (the last may be X), plain or grouped 6-8-4 or 4-4-4-4-2
    ("national_id",
     r"(?<![0-9])(?:[0-9]{6}[ -]?[0-9]{8}[ -]?[0-9]{3}|[0-9]{4}(?:[ -]?[0-9]{4}){3}[ -]?[0-9])"
     r"[0-9Xx](?![0-9])",
     "[ID]", 0),
    ("national_id_old", r"(?<![0-9])[0-9]{15}(?![0-9])", "[ID]", 0),
    # Chinese mobile, optionally +86 / 0086, digits in any grouping
    ("phone_mobile", r"(?<![0-9])(?:(?:\+|00)86[ -]?)?1[ -]?[3-9](?:[ -]?[0-9]){9}(?![0-9])",
     "[PHONE …{tail}]", 11),
    # +CC or 00CC and at most 15 digits in all (E.164); "00" not inside a longer digit run
    ("phone_international",
     r"(?:(?<![0-9])\+|(?<![0-9])(?<![0-9][ .-])00)[1-9](?:[ ().-]{0,2}[0-9]){6,14}"
     r"(?![ ().-]{0,2}[0-9])",
     "[PHONE …{tail}]", 8),
    ("phone_landline",
     r"(?<![0-9])(?:\(0[1-9][0-9]{1,2}\)|0[1-9][0-9]{1,2})[ -]?[2-9][0-9]{2,3}[ -]?[0-9]{4}"
     r"(?![0-9])",
     "[PHONE …{tail}]", 10),
    ("phone_grouped",
     # not a piece of an identifier joined by - (a UUID: adf289df-7256-4604-bb78-...)
     rf"(?<![0-9A-Za-z_/])(?<![0-9A-Za-z][.:,/-])(?!{_DATE_YMD})(?!{_DATE_DMY})"
     r"\(?[0-9]{1,8}+\)?(?:(?:[ -]| - )\(?[0-9]{1,8}+\)?){1,5}+"
     r"(?![0-9A-Za-z])(?![.:,/-][0-9A-Za-z])",
     "[PHONE …{tail}]", 7),
    ("phone_spoken_zh", rf"[{_ZH_DIGITS}](?:[ ,、-]?[{_ZH_DIGITS}]){{6,}}", "[PHONE …{tail}]", 7),
    ("phone_spoken_en",
     rf"(?i)(?<![a-z])(?:{_EN_DIGITS})(?:[ ,-]+(?:{_EN_DIGITS})){{6,}}(?![a-z])",
     "[PHONE …{tail}]", 7),
)

_ZH_TO_ASCII = str.maketrans(_ZH_DIGITS, "0011223456789")
_EN_TO_ASCII = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
                "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_WORD = re.compile(r"[A-Za-z]+")
_NOT_DIGIT = re.compile(r"[^0-9]")


def digits_of(text: str) -> str:
    """The digits ``text`` spells, in order: ASCII, full-width, 一三八, "one three eight"."""
    text = unicodedata.normalize("NFKC", text).translate(_ZH_TO_ASCII)
    text = _WORD.sub(lambda m: _EN_TO_ASCII.get(m.group().lower(), ""), text)
    return _NOT_DIGIT.sub("", text)


def mask_number(number: str) -> str:
    """Keep the first 3 and last 2 digits: enough for staff to recognise, not to dial.

    The display form stored with call records (``caller_masked``); kept identical to
    the recorder's so look-ups by masked number still find older rows.

    >>> mask_number("13800138000")
    '138******00'
    """
    digits = re.sub(r"\D", "", number or "")
    if len(digits) < 6:
        return "*" * len(digits) if digits else "unknown"
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


@dataclass(frozen=True)
class Rule:
    """One kind of identifier: what it looks like and what replaces it."""

    name: str
    pattern: re.Pattern[str]
    replacement: str
    min_digits: int = 0

    @classmethod
    def compile(cls, name: str, regex: str, replacement: str, min_digits: int = 0) -> Rule:
        return cls(name, re.compile(regex), replacement, min_digits)

    def render(self, digits: str) -> str:
        return self.replacement.replace(TAIL, digits[-2:])


class _Normalised:
    """The NFKC form of a text, with the original index of every normalised character."""

    def __init__(self, text: str) -> None:
        if text.isascii():
            self.text, self._origin = text, None
            return
        chars: list[str] = []
        origin: list[int] = []
        for i, ch in enumerate(text):
            folded = unicodedata.normalize("NFKC", ch)
            chars.append(folded)
            origin.extend([i] * len(folded))
        self.text, self._origin = "".join(chars), origin

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original span of the normalised span ``[start, end)`` (``end > start``)."""
        if self._origin is None:
            return start, end
        return self._origin[start], self._origin[end - 1] + 1


class Masker:
    """Applies its rules in order; each rule sees the text as the previous one left it."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)

    @classmethod
    def default(cls) -> Masker:
        """The built-in rules (``DEFAULT_PATTERNS``)."""
        return cls(Rule.compile(*spec) for spec in DEFAULT_PATTERNS)

    @classmethod
    def from_config(cls, section: Mapping[str, Any], *, origin: str = "<config>") -> Masker:
        """From a ``masking:`` mapping: ``{"patterns": [{name, regex, replacement}, ...]}``."""
        spec = validate(_MaskingSpec, section, None, SECTION, origin)
        return cls(Rule.compile(p.name, p.regex, p.replacement, p.min_digits)
                   for p in spec.patterns)

    @classmethod
    def from_file(cls, path: Path = PRIVACY_FILE) -> Masker:
        """The ``masking:`` section of ``path``; the built-in rules if the file or section is
        absent. Raises PrivacyConfigError (``file:line:col: masking.patterns[2].regex: ...``)."""
        found = read_section(path, SECTION)
        if found is None or found[0] is None:
            return cls.default()
        section, src = found
        spec = validate(_MaskingSpec, section, src, SECTION)
        return cls(Rule.compile(p.name, p.regex, p.replacement, p.min_digits)
                   for p in spec.patterns)

    def mask(self, text: str) -> str:
        """``text`` with every identifier replaced by its tag."""
        for rule in self.rules:
            text = self._apply(rule, text)
        return text

    def mask_value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string masked (dict keys are kept:
        they are field names). Integers that look like identifiers become masked text."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {key: self.mask_value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask_value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.mask_value(item) for item in value)
        if isinstance(value, int) and not isinstance(value, bool):
            masked = self.mask(str(value))
            return value if masked == str(value) else masked
        return value

    @staticmethod
    def _apply(rule: Rule, text: str) -> str:
        norm = _Normalised(text)
        out: list[str] = []
        last = 0
        for match in rule.pattern.finditer(norm.text):
            if match.end() == match.start():
                continue
            digits = digits_of(match.group())
            if len(digits) < rule.min_digits:
                continue
            start, end = norm.span(match.start(), match.end())
            if start < last:  # two matches inside one expanded character
                continue
            out += (text[last:start], rule.render(digits))
            last = end
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)


@cache
def default_masker() -> Masker:
    """The masker of the project's ``privacy.yaml`` (built-in rules without it), loaded once."""
    return Masker.from_file(PRIVACY_FILE)


def mask_value(value: Any, masker: Masker | None = None) -> Any:
    """``masker.mask_value(value)``, with the project's masker by default."""
    return (masker or default_masker()).mask_value(value)


# --- configuration -----------------------------------------------------------------------

class _PatternSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    regex: str = Field(min_length=1)
    replacement: str
    min_digits: int = Field(0, ge=0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, regex: str) -> str:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return regex


class _MaskingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # at least one: an empty list would silently turn masking off
    patterns: list[_PatternSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> _MaskingSpec:
        names = [p.name for p in self.patterns]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"pattern names must be unique: {', '.join(twice)}")
        return self


# --- logging -----------------------------------------------------------------------------

_MASKED = "_ivr_masked"


def mask_record(masker: Masker, record: logging.LogRecord) -> None:
    """Mask a log record in place: its message (formatted now, args folded in), its
    exception text and stack. Idempotent."""
    if getattr(record, _MASKED, False):
        return
    try:
        message = record.getMessage()
    except Exception:  # bad %-args: keep what there is, masked, rather than raise here
        message = f"{record.msg!s} (unformattable args: {record.args!r})"
    record.msg, record.args = masker.mask(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = masker.mask(record.exc_text)
    if record.stack_info:
        record.stack_info = masker.mask(record.stack_info)
    setattr(record, _MASKED, True)


class MaskingFilter(logging.Filter):
    """Masks every record a handler receives (attach with ``handler.addFilter``).

    On a handler it sees records from every logger that propagates to it; on a
    logger it only sees records logged on that very logger.
    """

    def __init__(self, masker: Masker | None = None) -> None:
        super().__init__()
        self.masker = masker or default_masker()

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(self.masker, record)
        return True


class _MaskingRecordFactory:
    """Wraps the current record factory; every record is masked as it is made."""

    def __init__(self, previous: Callable[..., logging.LogRecord], masker: Masker) -> None:
        self.previous = previous
        self.masker = masker

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        mask_record(self.masker, record)
        return record


def install_log_masking(masker: Masker | None = None) -> None:
    """Mask every log record of the process from now on. Calling it again swaps the masker."""
    masker = masker or default_masker()
    current = logging.getLogRecordFactory()
    if isinstance(current, _MaskingRecordFactory):
        current.masker = masker
    else:
        logging.setLogRecordFactory(_MaskingRecordFactory(current, masker))


def uninstall_log_masking() -> None:
    """Undo ``install_log_masking`` (tests; a process normally keeps it for its lifetime)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _MaskingRecordFactory):
        logging.setLogRecordFactory(current.previous)


__all__ = ["DEFAULT_PATTERNS", "Masker", "MaskingFilter", "PrivacyConfigError", "Rule",
           "default_masker", "digits_of", "install_log_masking", "mask_number", "mask_record",
           "mask_value", "uninstall_log_masking"]
