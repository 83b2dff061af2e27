"""Core: ids, clock, errors, frozen records, phases and events.

Standard library and msgspec only. Nothing here does I/O.
"""
