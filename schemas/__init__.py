"""Samspil's event contracts: data only (pydantic models, enums, topic names), no I/O.

These are the only definitions the three services share besides the small common runtime.
"""
