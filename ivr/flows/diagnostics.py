"""Validation findings, printed as ``file:line:col: error[IVRnnn] message``.

Codes are stable: tests and engineers' scripts rely on them.

    IVR001 YAML syntax            IVR104 goes to a step that does not exist
    IVR002 duplicate YAML key     IVR105 unreachable step
    IVR100 unknown key            IVR106 duplicate DTMF key / phrase in a menu
    IVR101 unknown step type      IVR107 bad time range or date (schedule)
    IVR102 missing key            IVR108 prompt missing in a language
    IVR103 wrong value            IVR109 unknown (sub)flow / duplicate flow name
                                  IVR110 unknown queue (department)
    IVR003 over a reading bound (bytes, nodes with aliases expanded, nesting), or not UTF-8
    IVR200 a path ends without a person, the emergency lane or a goodbye
    IVR201 a loop with no way out
    IVR202 a red-flag (urgency 1 / crisis / emergency key) branch that can miss emergency
    IVR203 on_error does not lead to a person
    IVR204 a history, results_status or book step reachable without a verify step's 'verified' exit
    IVR205 (warning) the flow narrows the red-flag screen to free questions
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    code: str
    message: str
    severity: str = "error"
    path: tuple[str, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}[{self.code}] {self.message}"

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["path"] = list(self.path)
        return d


class FlowValidationError(ValueError):
    """A set of flows failed validation; carries every finding, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))
