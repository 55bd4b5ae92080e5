"""Typed, path-aware reading of a YAML mapping.

A :class:`Section` hands out values by key with a type check and remembers which keys were read, so whatever
is left over can be reported as unknown, with the full YAML path, in the spirit of sygnal's config handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from config.errors import ConfigError

T = TypeVar("T")
_MISSING: Any = object()


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Section:
    """A view of one YAML mapping at ``path`` (``""`` for the top level)."""

    def __init__(self, data: object, path: str = "", origin: Mapping[str, str] | None = None) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(path or "<top level>", f"expected a mapping, got {_type_name(data)}")
        self._data: Mapping[str, Any] = data
        self._path = path
        self._origin = origin or {}
        self._read: set[str] = set()
        self._children: list[Section] = []

    def path_of(self, key: str) -> str:
        """The dotted YAML path of ``key``, prefixed with the file that set it when there were several."""
        full = f"{self._path}.{key}" if self._path else key
        top = full.split(".", 1)[0].split("[", 1)[0]
        origin = self._origin.get(top)
        return f"{origin}: {full}" if origin else full

    def has(self, key: str) -> bool:
        return key in self._data and self._data[key] is not None

    def raw(self, key: str, default: Any = None) -> Any:
        """The value as parsed from YAML, unchecked; marks the key as read."""
        self._read.add(key)
        value = self._data.get(key, default)
        return default if value is None else value

    def _typed(self, key: str, types: tuple[type, ...], label: str, default: Any) -> Any:
        self._read.add(key)
        if key not in self._data or self._data[key] is None:
            if default is _MISSING:
                raise ConfigError(self.path_of(key), "is required")
            return default
        value = self._data[key]
        # bool is an int subclass in Python; a YAML `true` is never a number here.
        if isinstance(value, bool) and bool not in types:
            raise ConfigError(self.path_of(key), f"expected {label}, got a boolean")
        if not isinstance(value, types):
            raise ConfigError(self.path_of(key), f"expected {label}, got {_type_name(value)} {value!r}")
        return value

    def text(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, (str,), "a string", default)

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, (bool,), "true or false", default)

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int | None = None) -> Any:
        value = self._typed(key, (int,), "an integer", default)
        if value is not None and minimum is not None and value < minimum:
            raise ConfigError(self.path_of(key), f"must be at least {minimum}, got {value}")
        return value

    def number(self, key: str, default: Any = _MISSING, *, minimum: float | None = None) -> Any:
        value = self._typed(key, (int, float), "a number", default)
        if value is not None and minimum is not None and value < minimum:
            raise ConfigError(self.path_of(key), f"must be at least {minimum}, got {value}")
        return None if value is None else float(value)

    def duration_ms(self, key: str, default: Any = _MISSING) -> Any:
        """A duration as Synapse writes them: an integer of milliseconds or a string like ``5m`` or ``1h``."""
        self._read.add(key)
        value = self._data.get(key)
        if value is None:
            if default is _MISSING:
                raise ConfigError(self.path_of(key), "is required")
            return default
        return parse_duration_ms(value, self.path_of(key))

    def texts(self, key: str, default: Any = _MISSING) -> Any:
        """A list of strings; a single string is accepted as a list of one, as Synapse does for writers."""
        self._read.add(key)
        if key not in self._data or self._data[key] is None:
            if default is _MISSING:
                raise ConfigError(self.path_of(key), "is required")
            return default
        value = self._data[key]
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(self.path_of(key), f"expected a list of strings, got {value!r}")
        return tuple(value)

    def section(self, key: str, *, required: bool = False) -> Section:
        self._read.add(key)
        if required and not self.has(key):
            raise ConfigError(self.path_of(key), "is required")
        child = Section(self._data.get(key), self._child_path(key), self._origin)
        self._children.append(child)
        return child

    def sections(self, key: str) -> list[Section]:
        """The items of a list of mappings, each as a Section (``listeners[0]``, ``listeners[1]``...)."""
        self._read.add(key)
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(self.path_of(key), f"expected a list, got {_type_name(value)}")
        children = [Section(item, f"{self._child_path(key)}[{i}]", self._origin) for i, item in enumerate(value)]
        self._children.extend(children)
        return children

    def mapping_keys(self) -> list[str]:
        return [str(key) for key in self._data]

    def _child_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def unknown_keys(self) -> list[str]:
        """Every key under this section, recursively, that no reader asked for."""
        unknown = [self.path_of(str(key)) for key in self._data if key not in self._read]
        for child in self._children:
            unknown.extend(child.unknown_keys())
        return unknown


def parse_duration_ms(value: object, path: str) -> int:
    """Synapse's duration syntax: ms integer, or a number with one of s, m, h, d, w, y."""
    if isinstance(value, bool):
        raise ConfigError(path, "expected a duration, got a boolean")
    if isinstance(value, int):
        return value
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
             "y": 31_536_000_000}
    if isinstance(value, str):
        text = value.strip()
        for suffix in ("ms", "s", "m", "h", "d", "w", "y"):
            if text.endswith(suffix) and text[: -len(suffix)].strip().isdigit():
                return int(text[: -len(suffix)]) * units[suffix]
        if text.isdigit():
            return int(text)
    raise ConfigError(path, f"expected a duration such as 5000, '30s' or '1h', got {value!r}")
