"""Templates of any shape through `kubectl apply`: a wrongly typed one is refused with a message by the
CRD's schema; one the schema admits but a Deployment does not turns Invalid with the API's own
message within seconds. The operator never logs a traceback for either."""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spofless.core.model.spec import TEMPLATE_SCHEMA

from ..unit.schema_strategy import from_schema
from .cluster import KubectlError, apply, condition, get, status, wait_for
from .conftest import LOGS, Operator
from .sites import TEMPLATE, manifest, wait_phase


def _with(path: str, value: Any) -> dict[str, Any]:
    """TEMPLATE with the field at dotted `path` (list indexes as numbers) set to `value`."""
    out = copy.deepcopy(TEMPLATE)
    node: Any = out
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return out


WRONG_TYPES = [
    ("containers as a string", _with("spec.containers", "web"), "must be of type array"),
    ("a number as a label value", _with("metadata.labels.app", 3), "must be of type string"),
    ("a string as a port", _with("spec.containers.0.ports.0.containerPort", "http"), "must be of type integer"),
    (
        "a quantity that is no quantity",
        _with("spec.containers.0.resources", {"limits": {"cpu": "lots"}}),
        "should match",
    ),
    ("env as a map", _with("spec.containers.0.env", {"A": "b"}), "env"),
    ("an unknown pull policy", _with("spec.containers.0.imagePullPolicy", "Sometimes"), "supported values"),
    ("an unknown field", _with("spec.containers.0.bogus", 1), 'unknown field "spec.template.spec.containers[0].bogus"'),
]

# Admitted by the schema, refused by the Deployment's own validation (or its server-side apply).
REFUSED_IN_A_DEPLOYMENT = [
    ("a container name that is no DNS label", _with("spec.containers.0.name", "Web_1"), "Web_1"),
    ("two containers with one name", _with("spec.containers", [TEMPLATE["spec"]["containers"][0]] * 2), "web"),
    ("a negative port", _with("spec.containers.0.ports.0.containerPort", -1), "containerPort"),
]


@pytest.mark.parametrize(("case", "template", "words"), WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
def test_a_wrongly_typed_template_is_refused_by_kubectl_apply(
    ns: str, case: str, template: dict[str, Any], words: str
) -> None:
    site = manifest("shop", ns)
    site["spec"]["template"] = template
    with pytest.raises(KubectlError) as err:
        apply(site)
    assert words in err.value.stderr, err.value.stderr


@pytest.mark.parametrize(
    ("case", "template", "words"), REFUSED_IN_A_DEPLOYMENT, ids=[c[0] for c in REFUSED_IN_A_DEPLOYMENT]
)
def test_a_template_a_deployment_refuses_turns_invalid_with_the_apis_message(
    ns: str, operator: Operator | None, case: str, template: dict[str, Any], words: str
) -> None:
    site = manifest("shop", ns)
    site["spec"]["template"] = template
    apply(site)
    wait_phase("shop", ns, "Invalid", timeout=30)
    reconciled = condition("shop", ns, "Reconciled")
    assert reconciled["status"] == "False" and words in reconciled["message"], reconciled
    assert not any(e["type"] == "Warning" and "Traceback" in e["message"] for e in get("events", namespace=ns))
    assert_no_traceback(operator)


def assert_no_traceback(operator: Operator | None) -> None:
    if operator is None:
        return
    log = (LOGS / f"operator-{operator.starts}.log").read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 : log.index("Traceback") + 3000]


SAMPLES: list[dict[str, Any]] = []


@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def _draw(data: st.DataObject) -> None:
    SAMPLES.append(data.draw(from_schema(TEMPLATE_SCHEMA)))


def test_a_sample_of_every_shape_the_schema_admits_gets_a_clear_outcome(ns: str, operator: Operator | None) -> None:
    """Drawn by hypothesis from the CRD's own schema: the API server admits each, and the operator
    makes each a running site or an Invalid one with a message, never an error without a status."""
    _draw()
    assert len(SAMPLES) >= 10
    for i, template in enumerate(SAMPLES):
        site = manifest(f"s{i}", ns, replicas=1)
        site["spec"]["template"] = template
        apply(json.dumps(site))  # JSON: YAML would read a drawn string such as "y" as a boolean

    def phase(i: int) -> str | None:
        return status(f"s{i}", ns).get("phase") or None

    for i in range(len(SAMPLES)):
        done = wait_for(f"site s{i} to get a status", partial(phase, i), timeout=60)
        if done == "Invalid":
            assert condition(f"s{i}", ns, "Reconciled")["message"]
    assert_no_traceback(operator)
