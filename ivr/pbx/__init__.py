"""Provisioning of a local Asterisk: a Debian root (or the system's asterisk), the
rendered ``asterisk_conf/`` and the process that runs it."""

from ivr.pbx.instance import PbxError, PbxInstance

__all__ = ["PbxError", "PbxInstance"]
