"""Reading a stored object field by field: what cannot be read is dropped and said, never the rest.

The models refuse unknown fields when the operator writes, but what the API server keeps is not
only the operator's: the CRD keeps unknown status fields (a rollback to an older spofless, a hand
edit, kopf's own), and anything may have been merged into a known one. Validating the whole status
at once would drop all of it on one such field, and with it the site's memory (the zones it has
known, the rollout's clocks and halt). So each field is read on its own: an unknown one is skipped,
an unreadable one (a wrong type, a time that is garbage or has no zone) is dropped with a line that
says where and why, and the rest stands. An entry of a list that cannot be read is dropped alone.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

from spofless.core.model.base import Model

M = TypeVar("M", bound=Model)

_DROP = object()


def read(model: type[M], raw: Any, where: str = "status") -> tuple[M | None, list[str]]:
    """The model read from `raw` field by field, and a line per value dropped (`where.field: why`).
    None when `raw` is no object, or a field the model cannot do without is missing or unreadable."""
    if not isinstance(raw, Mapping):
        return None, [f"{where}: {_show(raw)} is not an object; ignored"]
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if alias not in raw:
            continue
        value = _value(info.annotation, raw[alias], f"{where}.{alias}", problems)
        if value is not _DROP:
            values[name] = value
    try:
        return model.model_validate(values), problems
    except ValidationError as err:
        missing = ", ".join(".".join(str(p) for p in e["loc"]) for e in err.errors())
        return None, [*problems, f"{where}: incomplete (no readable {missing}); ignored"]


def _value(annotation: Any, raw: Any, where: str, problems: list[str]) -> Any:
    model = _model_of(annotation)
    if model is not None and raw is not None:
        found, said = read(model, raw, where)
        problems.extend(said)
        return _DROP if found is None else found
    item = _list_item_model(annotation)
    if item is not None:
        if not isinstance(raw, list):
            problems.append(f"{where}: {_show(raw)} is not a list; ignored")
            return _DROP
        out = []
        for i, entry in enumerate(raw):
            found, said = read(item, entry, f"{where}[{i}]")
            problems.extend(said)
            if found is not None:
                out.append(found)
        return out
    try:
        return _adapter(annotation).validate_python(raw)
    except ValidationError as err:
        problems.append(f"{where}: {_show(raw)} cannot be read ({err.errors()[0]['msg']}); ignored")
        return _DROP


def _model_of(annotation: Any) -> type[Model] | None:
    """The model of a field typed `SomeModel` or `SomeModel | None`."""
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _model_of(options[0])
    return None


def _list_item_model(annotation: Any) -> type[Model] | None:
    """The model of the entries of a field typed `list[SomeModel]`."""
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return _model_of(item)
    return None


_ADAPTERS: dict[int, TypeAdapter[Any]] = {}


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    """One adapter per field type (the annotations of the models live as long as the process)."""
    adapter = _ADAPTERS.get(id(annotation))
    if adapter is None:
        adapter = _ADAPTERS[id(annotation)] = TypeAdapter(annotation)
    return adapter


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
