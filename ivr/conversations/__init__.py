"""Scripted test conversations for the flows (``dialplans/tests/*.yaml``, ``ivr test``).

- :mod:`~ivr.conversations.spec`: read a file (shape, call lines, line:col of every node);
- :mod:`~ivr.conversations.facts`: the simulator's events as the facts conversations check;
- :mod:`~ivr.conversations.run`: run one conversation through the simulator, check it.
"""

from ivr.conversations.run import Failure, run_conversation
from ivr.conversations.spec import Conversation, Problem, load_file

__all__ = ["Conversation", "Failure", "Problem", "load_file", "run_conversation"]
