"""Simplified sliding sync (MSC4186), the pure part: the request's shape, ``required_state`` matching, and what a
connection remembers between requests. The views live in ``web/sliding_sync/``."""
