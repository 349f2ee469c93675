"""One problem in a file people edit (a knowledge entry, a drug list, a results or
slots CSV), with where to look: ``file:line:col: severity[code] message``, or
``file:line:col: message`` for importers that have no codes. Editors and CI jump to
the position; a finding never carries the file's contents beyond its message.

(Flow validation has its own ``ivr.flows.diagnostics.Diagnostic``: the same shape plus
the path inside the flow and a stable JSON form for ``ivr validate --json``.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    col: int
    message: str
    code: str = ""
    severity: str = "error"  # error | warning: only errors stop a load or an import

    def __str__(self) -> str:
        label = f"{self.severity}[{self.code}] " if self.code else ""
        return f"{self.file}:{self.line}:{self.col}: {label}{self.message}"
