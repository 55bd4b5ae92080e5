"""``/sync``: building a client's view of everything that changed since its token, and waiting for changes."""
