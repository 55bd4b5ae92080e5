"""The one error a bad configuration raises: it names where in the YAML the problem is and what it is."""


class ConfigError(Exception):
    """A configuration value is missing, of the wrong type or inconsistent with another one."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason
