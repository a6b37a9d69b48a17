"""An index filled one object at a time, read as kopf's indices are: key -> the values of every
object filed under it. It stands in for a kopf index where the operator keeps its own watch
(reflector.py)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ObjectIndex(Mapping[K, tuple[V, ...]], Generic[K, V]):
    def __init__(self) -> None:
        self._entries: dict[K, dict[str, V]] = {}  # key -> object uid -> its value
        self._filed: dict[str, dict[K, V]] = {}  # object uid -> what it is filed under

    def put(self, uid: str, entries: Mapping[K, V]) -> None:
        """Files the object under these keys only (an empty mapping: under none)."""
        self.remove(uid)
        if entries:
            self._filed[uid] = dict(entries)
            for key, value in entries.items():
                self._entries.setdefault(key, {})[uid] = value

    def remove(self, uid: str) -> None:
        for key in self._filed.pop(uid, {}):
            held = self._entries.get(key)
            if held is not None:
                held.pop(uid, None)
                if not held:
                    del self._entries[key]

    def __getitem__(self, key: K) -> tuple[V, ...]:
        return tuple(self._entries[key].values())

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class Merged(Mapping[K, V], Generic[K, V]):
    """Indices whose keys do not overlap, read as one (the first that has a key answers)."""

    def __init__(self, *parts: Mapping[K, V]) -> None:
        self.parts = parts

    def __getitem__(self, key: K) -> V:
        for part in self.parts:
            if key in part:
                return part[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[K]:
        return iter({key: None for part in self.parts for key in part})

    def __len__(self) -> int:
        return sum(1 for _ in self)
