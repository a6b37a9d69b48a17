"""The `spofless` command: `run` the operator; `audit` a cluster, ask `whatif` a zone were lost,
`explain` a site (read-only); print the `crd`; show the `version`.

`kubectl-spofless`, the kubectl plugin (`kubectl spofless audit|whatif|explain|version`), is the same
command with only its read-only part: a plugin that reads never needs the operator's libraries.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence

from spofless import __version__
from spofless.audit import options


def _parser(plugin: bool = False) -> argparse.ArgumentParser:
    prog = "kubectl spofless" if plugin else "spofless"
    parser = argparse.ArgumentParser(prog=prog, description="Keeps a site free of single points of failure.")
    sub = parser.add_subparsers(dest="command", required=True)
    if not plugin:
        _add_run(sub)
    options.add_parsers(sub)
    if not plugin:
        sub.add_parser("crd", help="print the ResilientSite CustomResourceDefinition as YAML")
    sub.add_parser("version", help="print the version")
    return parser


def _exact_namespace(name: str) -> str:
    """The operator lists and watches pods and EndpointSlices per namespace served: a glob names none."""
    if not name or any(c in name for c in "*?[]!,"):
        raise argparse.ArgumentTypeError(f"{name!r}: give an exact namespace name (globs are not supported)")
    return name


def _add_run(sub: options.Sub) -> None:
    run = sub.add_parser("run", help="run the operator")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], type=_exact_namespace,
                       help="watch this namespace (repeatable; exact names)")  # fmt: skip
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)")
    run.add_argument("--liveness", default=os.environ.get("SPOFLESS_LIVENESS", "http://0.0.0.0:8080/healthz"),
                     help="liveness endpoint URL, or '' for none (default %(default)s)")  # fmt: skip
    run.add_argument("--metrics-port", type=int, default=int(os.environ.get("SPOFLESS_METRICS_PORT", "9090")),
                     help="port of /metrics, 0 for none (default %(default)s)")  # fmt: skip
    run.add_argument(
        "--log-format", choices=["plain", "full", "json"], default=os.environ.get("SPOFLESS_LOG_FORMAT", "full")
    )
    run.add_argument(
        "--log-level", choices=["debug", "info", "warning"], default=os.environ.get("SPOFLESS_LOG_LEVEL", "info")
    )
    run.add_argument("--standalone", action="store_true",
                     help="no leader election: this replica writes from the start (one replica, or tests)")  # fmt: skip
    run.add_argument("--lease-name", default=os.environ.get("SPOFLESS_LEASE_NAME", "spofless"),
                     help="the coordination.k8s.io Lease the replicas elect a leader through (default %(default)s)")  # fmt: skip
    run.add_argument("--no-silent-zones", dest="silent_zones", action="store_false",
                     help="do not judge zones silent from their node Leases: wait for NotReady (sites can opt out one "
                     "by one: spec.failover.silentZone.enabled)")  # fmt: skip
    run.add_argument("--fold-counts", type=float, default=float(os.environ.get("SPOFLESS_FOLD_COUNTS", "0")),
                     metavar="SECONDS", help="let a status change of ready counts alone (no phase, condition or "
                     "finding changed, no event) wait this long after the site's last status write, to go out "
                     "with the next one: fewer writes while a zone's pods come back (default 0: at once)")  # fmt: skip
    run.add_argument("--lease-namespace", default=os.environ.get("SPOFLESS_LEASE_NAMESPACE"),
                     help="its namespace (default: POD_NAMESPACE, else spofless-system)")  # fmt: skip
    run.add_argument("--data-center", default=os.environ.get("SPOFLESS_DATA_CENTER", ""),
                     help="this data center's name, as sites list it in spec.dataCenters.members "
                     "(default: none, this cluster only)")  # fmt: skip
    run.add_argument("--etcd-endpoints", default=os.environ.get("SPOFLESS_ETCD_ENDPOINTS", ""),
                     help="comma-separated client URLs of the etcd that spans the data centers")  # fmt: skip
    run.add_argument("--etcd-tls-dir", default=os.environ.get("SPOFLESS_ETCD_TLS_DIR", ""),
                     help="a directory with tls.crt, tls.key and ca.crt for etcd (a mounted Secret)")  # fmt: skip
    run.add_argument("--etcd-lease-seconds", type=int, default=int(os.environ.get("SPOFLESS_ETCD_LEASE_SECONDS", "5")),
                     help="TTL of this data center's lease: it leaves DNS this long after it stops renewing "
                     "(default %(default)s)")  # fmt: skip
    run.add_argument("--data-center-address", default=os.environ.get("SPOFLESS_DATA_CENTER_ADDRESS", ""),
                     help="comma-separated address(es) of this data center's ingress, published for a site whose "
                     "Service has neither a load balancer nor a node port")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.data_center and not args.etcd_endpoints:
        sys.stderr.write("spofless run: --data-center needs --etcd-endpoints (the store the data centers share)\n")
        return 2
    if not 0 <= args.fold_counts <= 60:
        sys.stderr.write("spofless run: --fold-counts must be between 0 and 60 seconds\n")
        return 2
    if not 2 <= args.etcd_lease_seconds <= 60:
        sys.stderr.write("spofless run: --etcd-lease-seconds must be between 2 and 60\n")
        return 2
    if profile := os.environ.get("SPOFLESS_TRACEMALLOC"):
        from spofless.operator import memprofile

        memprofile.start(profile)  # before the imports below, so their memory is traced too
    # kopf imports kubernetes_asyncio's whole model package (~38 MB) whenever it can; the operator
    # has its own transport (operator/client.py), so the import is made to fail.
    sys.modules.setdefault("kubernetes_asyncio", None)  # type: ignore[arg-type]
    import kopf  # imported late: `spofless crd` must not need a cluster library's start-up

    from spofless.operator import handlers, metrics

    kopf.configure(
        debug=args.log_level == "debug",
        quiet=args.log_level == "warning",
        log_prefix=args.log_level == "debug",
        log_format={"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}[
            args.log_format
        ],
    )
    if args.log_level != "debug":
        # kopf reports every handler run at INFO; spofless logs what it does itself.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if args.metrics_port:
        metrics.serve(args.metrics_port)
    # Two replicas on one host (tests) must not share an identity: the pod name, else host and pid.
    identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    handlers.configure(
        identity,
        not args.standalone,
        args.lease_namespace,
        args.lease_name,
        args.silent_zones,
        tuple(args.namespace),
        args.fold_counts,
    )
    if args.data_center:  # one data center of several: its lease, shares and DNS records in the store
        from spofless.operator import datacenters

        datacenters.configure(
            datacenters.Settings(
                name=args.data_center,
                endpoints=tuple(e for e in args.etcd_endpoints.split(",") if e),
                tls_dir=args.etcd_tls_dir,
                lease_seconds=args.etcd_lease_seconds,
                address=tuple(a for a in args.data_center_address.split(",") if a),
            )
        )
        datacenters.register()  # after handlers: its start-up runs once the engine exists
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness or None,
        standalone=True,  # kopf's peering pauses only kopf: the Lease (leader.py) gates every write
    )
    del handlers  # registered on import
    return 0


def main(argv: Sequence[str] | None = None, plugin: bool = False) -> int:
    args = _parser(plugin).parse_args(argv)
    if args.command == "crd":
        from spofless.core.model import crd

        sys.stdout.write(crd.crd_yaml())
        return 0
    if args.command == "version":
        print(__version__)
        return 0
    if args.command == "audit":
        from spofless.audit import command as audit_command

        return audit_command.run(args)
    if args.command == "whatif":
        from spofless.audit import whatif

        return whatif.run(args)
    if args.command == "explain":
        from spofless.audit import explain

        return explain.run(args)
    return run(args)


def kubectl_plugin(argv: Sequence[str] | None = None) -> int:
    """`kubectl spofless ...`: kubectl runs `kubectl-spofless` from PATH with the words after `spofless`."""
    return main(argv, plugin=True)
