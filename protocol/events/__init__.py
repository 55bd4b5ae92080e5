"""Events as they travel between servers (PDUs): hashes, ids, signatures and size limits, per room version.

Events are plain JSON objects (``dict[str, Any]``) in the federation format of their room version
(spec: Server-Server API, "PDUs"; rooms/v1 ... v12 "Event format"). Functions here never mutate their input.
"""
