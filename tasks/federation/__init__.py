"""Federation task bodies.

Inbound: ``receive`` and ``remote_events`` check and persist other servers' events in the room's events writer
(the room's events queue, so per-room order holds for remote events as for local ones), ``backfill`` the
history a ``/backfill`` brought; ``membership`` stores
the results of the join, leave, invite and knock handshakes there.

Outbound, on the federation queues sharded by destination (``federation_sender_instances``):
``fan_out`` puts PDUs and EDUs on the queues of the servers that should get them, ``sender`` sends each
destination its transactions one at a time with backoff and catch-up, ``edus`` is what the stream writers poke
(``device_lists``: the device-list updates of our users),
``destinations`` says who is in a room.

Every outbound federation request runs in these tasks, so only the federation senders make them: with
``outbound_federation_restricted_to``, the config check (``config/consistency.py``) requires it to name exactly the
senders, and other processes hand their HTTP exchanges to the senders' queues (``forwarding``).
"""
