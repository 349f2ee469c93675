"""Simulated people for demos and end-to-end tests: agents' SIP handsets (pyVoIP)
and patients (Local channels originated through AMI)."""
