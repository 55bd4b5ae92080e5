"""Simplified sliding sync (MSC4186): ``POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync``.

Served from the same streams, tokens and doorbell as ``/sync`` (``web/sync/``): a response is built up to each
writer's committed position, and a connection's position names a stored sync token plus what it sent per room.
``views.py`` is the endpoint, ``room_list.py`` the lists, ``room_data.py`` each room, ``extensions.py`` the
extensions, ``connection.py`` the per-connection state.
"""
