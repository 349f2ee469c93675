"""Drills of the whole line (``ivr drill``, issue 14.7): simulated emergency and crisis
callers placed through the live Asterisk and engine, timed to a human.

``scenarios`` says who the drill callers are, ``steps`` judges what happened (pure),
``run`` places the calls and watches them, ``store`` keeps the results for the report."""
