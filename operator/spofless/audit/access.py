"""How the read-only commands reach the cluster: the kubeconfig and context asked for, the namespace
in scope, and one way to fail when the cluster cannot be read at all (exit 3, one line saying why)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config import ConfigException

from spofless import kube

T = TypeVar("T")
CANNOT_READ = 3


async def connect(args: argparse.Namespace) -> kube.Kube:
    return await kube.Kube.connect(config_file=args.kubeconfig, context=args.context)


async def namespace(args: argparse.Namespace) -> str | None:
    """The namespace in scope: -n, else None with -A, else the context's."""
    if getattr(args, "all_namespaces", False):
        return None
    return args.namespace or await kube.current_namespace(args.kubeconfig, args.context)


def describe_scope(namespace: str | None, selector: str | None) -> str:
    scope = "all namespaces" if namespace is None else f"namespace {namespace}"
    return scope + (f", selector {selector}" if selector else "")


def read(command: str, reading: Callable[[kube.Kube], Awaitable[T]], args: argparse.Namespace) -> T | None:
    """Connects, runs `reading`, closes; None (with the reason on stderr) when the cluster cannot be read."""

    async def session() -> T:
        client = await connect(args)
        try:
            return await reading(client)
        finally:
            await client.close()

    try:
        return asyncio.run(session())
    except (ConfigException, OSError, aiohttp.ClientError, TimeoutError) as err:
        print(f"spofless {command}: cannot read the cluster: {kube.describe(err)}", file=sys.stderr)
    except ApiException as err:
        print(f"spofless {command}: the API server refused a read: {kube.describe(err)}", file=sys.stderr)
    return None
