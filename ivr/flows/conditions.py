"""Tests on one call variable, shared by ``branch`` steps and caller profiles."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ivr.flows.steps.base import VAR, Strict


class Test(Strict):
    """A test on one variable (``caller.age_group``, ``lang``, ``triage.urgency``...)."""

    __test__ = False  # not a pytest test class

    var: str = Field(pattern=VAR)
    equals: str | int | float | bool | None = None
    in_: list[str | int | float | bool] | None = Field(None, alias="in")
    at_least: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Test:
        if sum(x is not None for x in (self.equals, self.in_, self.at_least)) != 1:
            raise ValueError("a condition needs exactly one of: equals, in, at_least")
        return self

    def passes(self, value: Any) -> bool:
        if value is None:
            return False
        if self.equals is not None:
            return _same(value, self.equals)
        if self.in_ is not None:
            return any(_same(value, v) for v in self.in_)
        try:
            return float(value) >= float(self.at_least)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return str(value).lower() in (("true", "yes", "1") if expected else ("false", "no", "0"))
    return str(value) == str(expected)
