"""Federation task bodies: receiving other servers' events into the room's events writer."""
