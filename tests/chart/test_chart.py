"""The Helm chart in manifests/ and its rendering manifests/install.yaml.

Needs a helm v3 binary in $HELM (hack/test.sh sets it; `source hack/lib/tools.sh; build_helm; helm_bin`
builds the pinned one). With KUBECONFIG and SPOFLESS_E2E_LOCAL_CLUSTER=1 also checks that a real API
server accepts install.yaml (a server-side dry run).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ..e2e.cluster import wait_established
from .render import CHART, NAMESPACE, ROOT, docs, only, run, template

INSTALL = CHART / "install.yaml"

# The operator's API calls, sorted by API group and resource: what the ClusterRole of an operator
# watching every namespace grants, exactly.
CLUSTER_RULES = [
    ("", "events", {"create"}),
    ("", "nodes", {"list", "watch"}),
    ("", "pods", {"list", "watch"}),
    ("", "pods/eviction", {"create"}),
    ("", "pods/status", {"patch"}),
    ("", "services", {"list", "watch", "create", "patch"}),
    ("apiextensions.k8s.io", "customresourcedefinitions", {"list", "watch"}),
    ("apps", "deployments", {"list", "watch", "create", "patch", "delete"}),
    ("apps", "deployments/scale", {"patch"}),
    ("apps", "statefulsets", {"list", "watch"}),
    ("discovery.k8s.io", "endpointslices", {"list", "watch"}),
    ("policy", "poddisruptionbudgets", {"list", "watch", "create", "patch", "delete"}),
    ("spofless.dev", "resilientsites", {"list", "watch"}),
    ("spofless.dev", "resilientsites/status", {"patch"}),
]
CLUSTER_SCOPED = {"nodes", "customresourcedefinitions"}
# The leader election's Role, in the release's namespace: create the Lease, then read and renew that one only.
LEADER_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["spofless"],
     "verbs": ["get", "update"]},
]  # fmt: skip


# The zone-silence detector's Role, in kube-node-lease: the nodes' Leases, read only.
NODE_LEASE_RULES = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list", "watch"]}]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def rules(role: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    out = []
    for rule in role["rules"]:
        assert len(rule["apiGroups"]) == 1 and len(rule["resources"]) == 1, f"one group and resource a rule: {rule}"
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        assert len(set(rule["verbs"])) == len(rule["verbs"]), f"a verb twice: {rule}"
        out.append((rule["apiGroups"][0], rule["resources"][0], set(rule["verbs"])))
    return out


@pytest.fixture(scope="module")
def default(helm: str) -> list[dict[str, Any]]:
    return template(helm)


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec = only(objects, "Deployment")["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    return dict(spec["containers"][0])


# --- the chart as a whole ----------------------------------------------------------------------


def test_lint_strict(helm: str) -> None:
    run(helm, "lint", str(CHART), "--strict")
    run(helm, "lint", str(CHART), "--strict", "--set", "watchNamespaces={web,shop}", "--set", "replicas=1")


def test_renders_the_operator(default: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in default)
    assert kinds == sorted(
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "Role",
            "RoleBinding",
            "Role",
            "RoleBinding",
        ]
    )
    for obj in default:
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            expected = "kube-node-lease" if obj["metadata"]["name"].endswith("-node-leases") else NAMESPACE
            assert obj["metadata"]["namespace"] == expected, obj["metadata"]


def test_install_yaml_is_in_sync(helm: str) -> None:
    result = run("hack/render-manifests.sh", "--check", check=False, env={**os.environ, "HELM": helm})
    assert result.returncode == 0, f"manifests/install.yaml is stale; run hack/render-manifests.sh\n{result.stdout}"


def test_install_yaml_is_namespace_crds_and_chart(helm: str) -> None:
    objects = docs(INSTALL.read_text())
    namespace = objects[0]
    assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    crds = [o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"]
    assert sorted(crds) == ["resilientsites.spofless.dev"]
    assert objects[1 : 1 + len(crds)] == [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    assert objects[1 + len(crds) :] == template(helm)


@pytest.mark.parametrize("name", ["resilientsite.yaml"])
def test_chart_crds_equal_the_repos(name: str) -> None:
    assert (CHART / "crds" / name).read_bytes() == (ROOT / "crds" / name).read_bytes(), (
        f"manifests/crds/{name} differs from crds/{name}: cp crds/{name} manifests/crds/"
    )


# --- RBAC: least privilege -----------------------------------------------------------------------


def test_cluster_role_grants_exactly_the_operators_calls(default: list[dict[str, Any]]) -> None:
    assert rules(only(default, "ClusterRole")) == CLUSTER_RULES
    binding = only(default, "ClusterRoleBinding")
    account = only(default, "ServiceAccount")["metadata"]
    assert binding["roleRef"]["name"] == only(default, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"], "namespace": NAMESPACE}]


def test_the_leader_election_role_is_one_lease_in_the_release_namespace(default: list[dict[str, Any]]) -> None:
    role = named(default, "Role", "spofless-leader")
    assert (role["metadata"]["namespace"], role["rules"]) == (NAMESPACE, LEADER_RULES)
    binding = named(default, "RoleBinding", "spofless-leader")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": "spofless", "namespace": NAMESPACE}


def test_install_yaml_grants_the_same(default: list[dict[str, Any]]) -> None:
    roles = [o for o in docs(INSTALL.read_text()) if o["kind"] == "ClusterRole"]
    assert len(roles) == 1 and rules(roles[0]) == CLUSTER_RULES
    roles_by_name = {o["metadata"]["name"]: o["rules"] for o in docs(INSTALL.read_text()) if o["kind"] == "Role"}
    assert roles_by_name == {"spofless-leader": LEADER_RULES, "spofless-node-leases": NODE_LEASE_RULES}


def test_the_silence_detector_reads_the_node_leases_only_and_can_be_turned_off(
    helm: str, default: list[dict[str, Any]]
) -> None:
    role = named(default, "Role", "spofless-node-leases")
    assert (role["metadata"]["namespace"], role["rules"]) == ("kube-node-lease", NODE_LEASE_RULES)
    binding = named(default, "RoleBinding", "spofless-node-leases")
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": "spofless", "namespace": NAMESPACE}
    off = template(helm, "--set", "silentZones.enabled=false")
    assert not [o for o in off if o["metadata"]["name"].endswith("-node-leases")]
    assert "--no-silent-zones" in container(off)["args"] and "--no-silent-zones" not in container(default)["args"]


def test_watching_some_namespaces_uses_roles_there(helm: str) -> None:
    objects = template(helm, "--set", "watchNamespaces={web,shop}")
    cluster_role = only(objects, "ClusterRole")
    # kopf lists and watches the namespaces it serves when given some; refused, it stalls for a minute.
    assert rules(cluster_role) == [
        ("", "namespaces", {"list", "watch"}),
        *[r for r in CLUSTER_RULES if r[1] in CLUSTER_SCOPED],
    ]
    namespaced = [r for r in CLUSTER_RULES if r[1] not in CLUSTER_SCOPED]
    roles = {
        o["metadata"]["namespace"]: o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == "spofless"
    }
    assert set(roles) == {"web", "shop"}
    for role in roles.values():
        assert rules(role) == namespaced
    bindings = {
        o["metadata"]["namespace"]: o
        for o in objects
        if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "spofless"
    }
    assert set(bindings) == {"web", "shop"}
    for ns, binding in bindings.items():
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "spofless"}
        assert binding["subjects"][0]["namespace"] == NAMESPACE, ns
    args = container(objects)["args"]
    assert "--namespace=web" in args and "--namespace=shop" in args and "--all-namespaces" not in args


# --- values.schema.json ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "replicas=-1",
        "replicas=0",
        "logFormat=xml",
        "logLevel=trace",
        "watchNamespaces={Not_A_Namespace}",
        "metrics.port=8080",
        "metrics.port=70000",
        "image.pullPolicy=Sometimes",
        "leaderElection.leaseName=Bad Name",
        "dataCenter.name=DC_1",
        "dataCenter.etcd.endpoints={127.0.0.1:2379}",
        "dataCenter.etcd.leaseSeconds=1",
        "typo=1",
    ],
)
def test_schema_rejects_bad_values(helm: str, bad: str) -> None:
    result = run(helm, "template", "spofless", str(CHART), "--set", bad, check=False)
    assert result.returncode != 0, f"--set {bad} was accepted"
    assert "schema" in result.stderr, result.stderr


# --- the operator's Deployment ---------------------------------------------------------------------


def test_deployment_meets_pod_security_restricted(default: list[dict[str, Any]]) -> None:
    pod = only(default, "Deployment")["spec"]["template"]["spec"]
    ctx = container(default)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == 10001
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert ctx["readOnlyRootFilesystem"] is True
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    mounts = {m["mountPath"]: m["name"] for m in container(default)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp on the read-only root filesystem"


def test_deployment_runs_two_replicas_apart(default: list[dict[str, Any]]) -> None:
    deployment = only(default, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["replicas"] == 2
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["labelSelector"]["matchLabels"] == selector
    assert pod["terminationGracePeriodSeconds"] == 30
    pdb = only(default, "PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1 and pdb["selector"]["matchLabels"] == selector


def test_one_replica_has_no_disruption_budget(helm: str) -> None:
    assert not [o for o in template(helm, "--set", "replicas=1") if o["kind"] == "PodDisruptionBudget"]


def test_container_args_env_and_probes(default: list[dict[str, Any]]) -> None:
    c = container(default)
    assert c["image"] == "spofless:0.1.0"
    assert c["args"] == [
        "--log-format=json",
        "--log-level=info",
        "--lease-name=spofless",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--metrics-port=9090",
        "--all-namespaces",
    ]
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    # Else the metrics Service injects SPOFLESS_METRICS_PORT=tcp://..., the operator's own setting.
    assert only(default, "Deployment")["spec"]["template"]["spec"]["enableServiceLinks"] is False
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"healthz": 8080, "metrics": 9090}
    # Live and started: kopf's endpoint. Ready: /metrics is served (after the startup probe passed).
    for probe in ("livenessProbe", "startupProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}, probe
    assert c["readinessProbe"]["tcpSocket"] == {"port": "metrics"}
    assert c["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
        "limits": {"cpu": "1", "memory": "256Mi", "ephemeral-storage": "256Mi"},
    }
    assert c["imagePullPolicy"] == "Always"


def test_a_data_center_gets_its_name_etcd_and_the_tls_secret_mounted(helm: str) -> None:
    objects = template(
        helm, "--set", "dataCenter.name=dc1", "--set", "dataCenter.etcd.endpoints={https://10.0.0.1:2379,https://10.0.1.1:2379}",
        "--set", "dataCenter.etcd.tlsSecret=etcd-client",
    )  # fmt: skip
    c = container(objects)
    assert c["args"][-5:-1] == [
        "--data-center=dc1",
        "--etcd-endpoints=https://10.0.0.1:2379,https://10.0.1.1:2379",
        "--etcd-lease-seconds=5",
        "--etcd-tls-dir=/etc/spofless/etcd-tls",
    ]
    assert {"name": "etcd-tls", "mountPath": "/etc/spofless/etcd-tls", "readOnly": True} in c["volumeMounts"]
    volumes = only(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "etcd-tls", "secret": {"secretName": "etcd-client"}} in volumes


def test_the_network_policy_lets_a_data_center_reach_its_etcd(helm: str) -> None:
    objects = template(
        helm, "--set", "networkPolicy.enabled=true", "--set", "dataCenter.name=dc1",
        "--set", "dataCenter.etcd.endpoints={https://10.0.0.1:2379,https://etcd.example.com:12379/}",
    )  # fmt: skip
    egress = only(objects, "NetworkPolicy")["spec"]["egress"]
    assert egress[-1] == {"ports": [{"port": 2379, "protocol": "TCP"}, {"port": 12379, "protocol": "TCP"}]}
    without = only(template(helm, "--set", "networkPolicy.enabled=true"), "NetworkPolicy")["spec"]["egress"]
    assert len(without) == len(egress) - 1


def test_no_data_center_no_etcd(default: list[dict[str, Any]]) -> None:
    c = container(default)
    assert not [a for a in c["args"] if a.startswith(("--data-center", "--etcd"))]
    assert [m["name"] for m in c["volumeMounts"]] == ["tmp"]


def test_metrics_service_and_optional_service_monitor(helm: str, default: list[dict[str, Any]]) -> None:
    service = only(default, "Service")["spec"]
    assert service["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["selector"] == only(default, "Deployment")["spec"]["selector"]["matchLabels"]
    assert not [o for o in default if o["kind"] == "ServiceMonitor"]
    monitor = only(template(helm, "--set", "metrics.serviceMonitor.enabled=true"), "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


# --- a real API server ----------------------------------------------------------------------------


@pytest.fixture
def local_cluster() -> Iterator[str]:
    """The local cluster's kubectl, the CRDs applied (as the e2e suite does) and the namespace present,
    so that a dry run can judge every object; a namespace created here is deleted afterwards."""
    if not (os.environ.get("KUBECONFIG") and os.environ.get("SPOFLESS_E2E_LOCAL_CLUSTER") == "1"):
        pytest.skip("needs KUBECONFIG and SPOFLESS_E2E_LOCAL_CLUSTER=1 (make test sets both)")
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH"
    run(kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    wait_established("resilientsites.spofless.dev")
    created = run(kubectl, "get", "namespace", NAMESPACE, check=False).returncode != 0
    if created:
        run(kubectl, "create", "-f", "-", stdin=yaml.safe_dump(docs(INSTALL.read_text())[0]))
    try:
        yield kubectl
    finally:
        if created:
            run(kubectl, "delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s", check=False)


def test_install_yaml_is_accepted_by_the_api_server(local_cluster: str) -> None:
    result = run(local_cluster, "apply", "--server-side", "--dry-run=server", "-f", str(INSTALL), check=False)
    assert result.returncode == 0, f"kubectl apply --dry-run=server refused install.yaml:\n{result.stderr}"
    # The namespace warns on Pod Security "restricted" violations: none.
    assert "PodSecurity" not in result.stderr, result.stderr
    applied = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(docs(INSTALL.read_text())), result.stdout


def test_the_image_installs_the_package_as_the_install_docs_do() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    install_docs = (ROOT / "docs" / "install.md").read_text()
    assert "pip install ." in install_docs
    assert re.search(r"^RUN /opt/spofless/bin/pip install \. ", dockerfile, re.M), "the Dockerfile must `pip install .`"
    assert re.search(r'^ENTRYPOINT \["spofless", "run"\]', dockerfile, re.M)
    assert re.search(r"^USER 10001", dockerfile, re.M)
