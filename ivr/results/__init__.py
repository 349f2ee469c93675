"""Results status (issue 15.4): whether a verified caller's test is ready.

The hospital's lab or clinic exports a CSV (``ivr results import``: patient number,
test kind, date taken, status); the ``results_status`` step reads the verified
caller's own rows back as "your blood test from 28 November is ready / not ready
yet / the clinic will call you about it". Status only, by design: the table has no
column for a value or a diagnosis, and the import refuses a file that brings one.
"""

from ivr.results.kinds import KINDS, STATUSES, spoken_date, test_name

__all__ = ["KINDS", "STATUSES", "spoken_date", "test_name"]
