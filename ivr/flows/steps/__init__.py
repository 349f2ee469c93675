"""The step types of the flow language, one module each.

Adding a step type is one module here (a ``Step`` model with its exits, label
and ``run``) and one line in ``ivr.flows.registry``'s list; the registry checks
the one-name rule (``type:`` = module name = registry key = schema name).
"""
