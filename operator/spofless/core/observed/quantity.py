"""Kubernetes resource quantities ("250m", "1.5", "128Mi", "1e3") and a pod's summed requests."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIX = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse(value: Any) -> Decimal | None:
    """A quantity as a number of base units; None when it is not a quantity."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        return None


def milli(value: Any) -> int:
    """CPU in millicores, rounded up as the scheduler does; 0 when absent or unreadable."""
    number = parse(value) if value is not None else None
    return max(0, math.ceil(number * 1000)) if number is not None else 0


def units(value: Any) -> int:
    """A whole number of base units (bytes, pods), rounded up; 0 when absent or unreadable."""
    number = parse(value) if value is not None else None
    return max(0, math.ceil(number)) if number is not None else 0


def pod_requests(pod_spec: Mapping[str, Any]) -> tuple[int, int]:
    """(CPU millicores, memory bytes) a pod requests, as the scheduler counts them: the containers'
    sum, or the largest init container if that is more."""

    def total(containers: Any) -> tuple[int, int]:
        cpu = mem = 0
        for container in containers or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            cpu += milli(requests.get("cpu"))
            mem += units(requests.get("memory"))
        return cpu, mem

    cpu, mem = total(pod_spec.get("containers"))
    for init in pod_spec.get("initContainers") or []:
        init_cpu, init_mem = total([init])
        cpu, mem = max(cpu, init_cpu), max(mem, init_mem)
    return cpu, mem
