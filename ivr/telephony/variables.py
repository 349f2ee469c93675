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
