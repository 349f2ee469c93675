"""The speech recogniser with the models this machine has (shared by the engine and
``ivr-eagi``; here, not in ``ivr.engine``, so the EAGI script does not import the
engine's web and metrics packages, which the Asterisk root does not carry)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivr.settings import Settings

log = logging.getLogger(__name__)


def load_recognizer(settings: Settings) -> Any:
    """The speech recogniser with the models found on this machine, or None: without
    one, calls answer by keypad (every prompt names the keys)."""
    try:
        from ivr.speech.asr import SpeechRecognizer
    except ImportError:
        return None
    recognizer = SpeechRecognizer()
    if not recognizer.languages():
        log.warning("no speech recognition model installed: keypad answers only "
                    "(see `ivr models list`)")
        return None
    return recognizer
