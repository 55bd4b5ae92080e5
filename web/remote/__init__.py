"""What the web tier asks other servers on a client's behalf (Server-Server API, "Querying for information"):
profiles, room aliases, public room lists, end-to-end keys and device lists. Each call is bounded in time and a
failure becomes the client's error (or its ``failures`` entry), never a 500."""
