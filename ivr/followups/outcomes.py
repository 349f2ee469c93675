"""What one attempt at a follow-up call came to, and what that means for the follow-up.

Three kinds of outcome:

- **done** (``answered_ok``, ``needs_nurse``, ``needs_staff``, ``emergency``): the
  patient said all is well (or the matter is resolved), or a person (a nurse, patient
  services, the emergency team) took the call over. The follow-up closes.
- **try again** (``no_answer``, ``busy``, ``failed``, ``hung_up``, ``lost``): nobody
  was reached. The follow-up is called again after a pause, until its last attempt;
  then it is ``failed`` and listed for staff.
- **staff** (everything else: ``nurse_unreached``, ``staff_unreached``,
  ``emergency_unreached``, ``operator_fallback``, ``number_unreadable``, and any
  outcome a flow sets that is not named here): a person must look now. The follow-up
  is ``failed`` at once.
"""

from __future__ import annotations

ANSWERED_OK = "answered_ok"  # the patient pressed "I am well"
NEEDS_NURSE = "needs_nurse"  # routed to the nurses, and someone answered
NEEDS_STAFF = "needs_staff"  # routed to other staff (patient services), someone answered
EMERGENCY = "emergency"  # routed to the emergency team, and someone answered
NO_ANSWER = "no_answer"
BUSY = "busy"
FAILED = "failed"  # the call could not be placed (congestion, AMI error, no response)
HUNG_UP = "hung_up"  # answered, then hung up before choosing
LOST = "lost"  # marked as calling for longer than the lease: an engine stopped mid-call
NURSE_UNREACHED = "nurse_unreached"  # asked for a nurse; nobody in the queues answered
STAFF_UNREACHED = "staff_unreached"
EMERGENCY_UNREACHED = "emergency_unreached"
OPERATOR_FALLBACK = "operator_fallback"  # answered, but the engine did not take the call
NUMBER_UNREADABLE = "number_unreadable"  # the sealed number could not be opened

DONE_OUTCOMES = frozenset({ANSWERED_OK, NEEDS_NURSE, NEEDS_STAFF, EMERGENCY})
UNREACHED = {NEEDS_NURSE: NURSE_UNREACHED, NEEDS_STAFF: STAFF_UNREACHED,
             EMERGENCY: EMERGENCY_UNREACHED}
RETRY_OUTCOMES = frozenset({NO_ANSWER, BUSY, FAILED, HUNG_UP, LOST})

# The call variable an outbound flow sets (a `set` step) to say how the call went.
OUTCOME_VAR = "followup.outcome"

# AMI OriginateResponse "Reason": the last control frame Asterisk saw on the channel
# before it gave up (1 hangup, 3 ringing until the timeout, 5 busy, 8 congestion).
ORIGINATE_REASONS = {"0": FAILED, "1": NO_ANSWER, "3": NO_ANSWER, "5": BUSY, "8": FAILED}


def originate_outcome(reason: str | None) -> str:
    """``OriginateResponse`` with ``Response: Failure`` -> attempt outcome.

    >>> originate_outcome("5"), originate_outcome("3"), originate_outcome(None)
    ('busy', 'no_answer', 'failed')
    """
    return ORIGINATE_REASONS.get(str(reason or "").strip(), FAILED)


def attempt_outcome(said: object, call_outcome: str) -> str:
    """The attempt's outcome from what the flow set (``followup.outcome``) and how the
    call ended (``run_call``: answered, goodbye, caller_hangup, unanswered:<status>...).

    >>> attempt_outcome("answered_ok", "goodbye")
    'answered_ok'
    >>> attempt_outcome("needs_nurse", "answered")
    'needs_nurse'
    >>> attempt_outcome("needs_nurse", "unanswered:TIMEOUT")
    'nurse_unreached'
    >>> attempt_outcome(None, "caller_hangup")
    'hung_up'
    """
    wanted = str(said).strip() if said not in (None, "") else None
    if wanted == ANSWERED_OK:
        return ANSWERED_OK
    to_people = call_outcome == "answered" or call_outcome.startswith("unanswered")
    if wanted in UNREACHED or (wanted is None and to_people):
        wanted = wanted or NEEDS_NURSE  # the flow's error route: a person took over
        return wanted if call_outcome == "answered" else UNREACHED[wanted]
    if wanted is None:
        return HUNG_UP if call_outcome == "caller_hangup" else FAILED
    return wanted[:32]


def kind_of(outcome: str) -> str:
    """``done``, ``retry`` or ``staff``."""
    if outcome in DONE_OUTCOMES:
        return "done"
    return "retry" if outcome in RETRY_OUTCOMES else "staff"
