"""Outbound server-to-server HTTP: finding a server, talking to it safely, signing requests, fetching its keys.

A layer of its own between tasks and persistence: web views (verifying an inbound request needs the origin's keys)
and tasks (the federation senders) both call it; it reads config and the key cache in persistence, and the pure
rules in ``protocol.federation``.
"""
