"""Task bodies for federation: what other servers hand us, persisted by the room's events writer."""
