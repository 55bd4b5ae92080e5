"""Outbound HTTP to application services (Application Service API): transactions, user and alias queries,
pings and third-party lookups, each authenticated with the appservice's ``hs_token``.

A layer of its own beside ``federation_client``: the appservice queue's task sends transactions, web views ask
queries on a client's behalf. It reads only the parsed registrations (``protocol.appservices``).
"""
