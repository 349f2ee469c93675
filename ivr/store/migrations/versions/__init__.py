"""One module per schema revision, numbered ``0001``, ``0002``... (``ivr db revision``)."""
