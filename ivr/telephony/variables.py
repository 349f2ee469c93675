"""Channel-variable names shared with asterisk_conf/: one place, no scattered literals."""

IVR_DONE = "IVR_DONE"  # set to 1 when the engine finished the call itself
IVR_CALL_ID = "__IVR_CALL_ID"  # "__": inherited by the agent's leg (pre-dial headers)
IVR_SUMMARY = "__IVR_SUMMARY"
IVR_DEPARTMENT = "__IVR_DEPARTMENT"
QUEUE_PRIO = "QUEUE_PRIO"
QUEUESTATUS = "QUEUESTATUS"
DIALSTATUS = "DIALSTATUS"  # set by Dial(): ANSWER | BUSY | NOANSWER | ...
MEMBERINTERFACE = "MEMBERINTERFACE"
MEMBERNAME = "MEMBERNAME"
AGENT_PREDIAL = "ivr-agent-predial^s^1"
# Follow-up calls (ivr/followups/): set by the AMI Originate of the outbound call.
FOLLOWUP_ID = "FOLLOWUP_ID"
FOLLOWUP_FLOW = "FOLLOWUP_FLOW"
# The number to dial: a variable, not part of the channel name (names reach call records
# and logs). No "__" prefix: it never travels to an agent's leg.
FOLLOWUP_NUMBER = "FOLLOWUP_NUMBER"
# The FastAGI address (host:port) of the engine that placed the call: the dialplan hands
# the answered call to that engine first ([ivr-agi]), the one whose scheduler follows it.
FOLLOWUP_ENGINE = "FOLLOWUP_ENGINE"
# The emergency room (asterisk_conf/extensions_emergency.conf, ivr/emergency/): the
# UserEvent its steps raise, and the room a caller is in (set on the caller's channel).
CONFERENCE_EVENT = "IVRConference"
IVR_EMERGENCY_ROOM = "IVR_EMERGENCY_ROOM"
# Skills routing and the agent's handoff (ivr/telephony/skills.py, handoff.py): the
# penalty window Queue() reads, and the caller-ID name the agent's handset shows
# ("__": inherited by the agent's leg, where ivr-agent-predial sets CALLERID(name)).
QUEUE_MIN_PENALTY = "QUEUE_MIN_PENALTY"
QUEUE_MAX_PENALTY = "QUEUE_MAX_PENALTY"
QUEUE_RAISE_PENALTY = "QUEUE_RAISE_PENALTY"  # set with them: queue rules change only set ones
IVR_AGENT_DISPLAY = "__IVR_AGENT_DISPLAY"
