"""The staff web side: sign-in, the agent console (and, by their owners, the wallboard and
the operations endpoints), served by the engine in its own event loop (aiohttp).

Modules: ``app`` (the application and its server), ``auth`` (who is signed in, role
checks with audit entries, CSRF), ``passwords`` (Argon2id), ``sessions`` (server-side
session rows), ``throttle`` (failed sign-ins), ``login`` and ``console`` (routes),
``live_view`` (what the console shows of a call), ``summary`` (what the caller said, in
their own words), ``knowledge`` (the clinician-owned drug/guideline file), ``sse``.
"""
