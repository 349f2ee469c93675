"""Follow-ups: the line calls patients back until the matter is closed.

- :mod:`~ivr.followups.store`: what is due, claiming, attempts, the staff list;
- :mod:`~ivr.followups.window`: when the line may call (hours, time zone, holidays);
- :mod:`~ivr.followups.scheduler`: polls, claims and places calls (AMI Originate);
- :mod:`~ivr.followups.outbound`: the ``outbound`` AGI route that runs the call's flow;
- :mod:`~ivr.followups.outcomes`: what an attempt's outcome means (done, retry, staff).

Follow-ups are created by a flow's ``followup`` step or by staff (``ivr followups add``),
both through ``CallRecorder.create_followup``.
"""

from ivr.followups.outcomes import attempt_outcome, originate_outcome
from ivr.followups.window import CallingWindow

__all__ = ["CallingWindow", "attempt_outcome", "originate_outcome"]
