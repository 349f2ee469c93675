"""Emergency tools for staff on a call: the emergency room (a three-way conference with
the emergency team, or a one-action transfer to it) and drills of the whole line.

The room itself is dialplan (asterisk_conf/extensions_emergency.conf), so it holds even
when the engine is away; this package starts it from the console (AMI) and records what
happens in it on the call (UserEvent IVRConference -> ``ivr.events.Conference``)."""
