"""The drill callers: what each says, which key it presses first, where it must end up.

The words are espeak-ng English rendered at drill time (``sound.make_sound``): no
recorded voice of a caller in distress ships with Debian, and espeak-ng is a poor
stand-in for one (flat, clear, no noise). A drill that passes proves the line's path,
not how well it hears a frightened person."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    words: str  # what the caller says, again and again, until a person answers
    lane: str  # the red-flag screen's lane it must trigger (events.RedFlag.lane)
    queue: str  # the team that must answer
    key: str = "2"  # pressed during the welcome: the main line's language menu, English
    number: str = "0000000000"  # the caller ID number: no patient's

    @property
    def sound(self) -> str:
        return f"drill-{self.name}"

    @property
    def caller_name(self) -> str:
        """What the agent's phone shows: it says DRILL first."""
        return f"DRILL {self.name}"


SCENARIOS: dict[str, Scenario] = {
    "emergency": Scenario("emergency", "I have chest pain and I can't breathe.",
                          lane="emergency", queue="emergency"),
    # no "myself": the crisis flow's danger question hears "hurt myself" as an overdose
    "crisis": Scenario("crisis", "I don't want to live anymore.", lane="crisis",
                       queue="crisis"),
}


def chosen(name: str) -> list[Scenario]:
    """``emergency``, ``crisis`` or ``all`` (both, emergency first)."""
    if name == "all":
        return list(SCENARIOS.values())
    try:
        return [SCENARIOS[name]]
    except KeyError:
        raise ValueError(f"unknown drill scenario {name!r}: one of "
                         f"{', '.join([*SCENARIOS, 'all'])}") from None
