"""Is this engine fit to take calls? What a load balancer, systemd or an operator asks.

Four checks, each with a reason when it fails: FastAGI listening (else Asterisk's
dialplan skips this engine), AMI logged in (queue events, follow-ups, voice cues),
the records database answering a ``SELECT 1`` within ``DB_TIMEOUT`` (else calls are
journalled: still served, but nobody sees them in the records), and the flows
loaded. Healthy means all four; the answer says which failed, and whether calls are
still served (listening and flows), so a balancer can tell "degraded" from "down".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

DB_TIMEOUT = 2.0


@dataclass(frozen=True)
class Health:
    checks: dict[str, bool]
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    @property
    def serving_calls(self) -> bool:
        return self.checks.get("listening", False) and self.checks.get("flows", False)

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unhealthy", "serving_calls": self.serving_calls,
                "checks": self.checks, "reasons": self.reasons}


def _select_one(db_engine: Any) -> None:
    with db_engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def check(engine: Any) -> Health:
    """The engine's health now (``engine``: :class:`ivr.engine.Engine`)."""
    checks: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    agi = getattr(engine, "agi", None)
    checks["listening"] = agi is not None and getattr(agi, "_server", None) is not None
    if not checks["listening"]:
        reasons["listening"] = "FastAGI is not listening (stopped or not started)"
    ami = getattr(engine, "ami", None)
    checks["ami"] = ami is not None and ami.logged_in.is_set()
    if not checks["ami"]:
        reasons["ami"] = ("AMI not connected" if ami is None
                          else f"AMI at {ami.address} not logged in")
    recorder = getattr(engine, "recorder", None)
    if recorder is None:
        checks["database"], reasons["database"] = False, "no call recorder (not started)"
    else:
        try:
            await asyncio.wait_for(asyncio.to_thread(_select_one, recorder.engine), DB_TIMEOUT)
            checks["database"] = True
        except TimeoutError:
            checks["database"] = False
            reasons["database"] = f"no answer within {DB_TIMEOUT:g} s"
        except Exception as exc:  # any driver error: unreachable, locked, refused
            checks["database"] = False
            reasons["database"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    flows = getattr(engine, "flows", None)
    checks["flows"] = flows is not None and flows.current is not None
    if not checks["flows"]:
        reasons["flows"] = "no flows loaded"
    return Health(checks, reasons)
