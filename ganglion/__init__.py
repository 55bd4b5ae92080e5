"""The composition root: command-line entry points and the wiring of each process shape. Nothing imports it."""
