"""kopf registrations, and nothing else: watch, index, and hand each site to the reconciler.

What a site is made of lives in kopf indices, filled from watches; a change to a site, one
of its children, one of its pods or endpoints, or a node, triggers the same idempotent
reconcile. There is no kopf timer: it would put a finalizer on every site, and deleting a site
would hang whenever no operator runs. The reconciler wakes itself for timed steps (failback)
and for retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, NoReturn

import aiohttp
import kopf
from kubernetes_asyncio.client.exceptions import ApiException

from spofless.core import api, naming, observed
from spofless.core.decision import Event
from spofless.kube import Kube, describe
from spofless.operator import metrics
from spofless.operator.reconciler import Loader, Reconciler, SiteKey

SITES = (api.GROUP, api.VERSION, api.PLURAL)
OWNED = {naming.LABEL_MANAGED_BY: naming.MANAGED_BY}
PEERING_LIFETIME = 15  # seconds
RETRY_SECONDS = 5.0  # after a failed API call
STALL_SECONDS = 120.0  # a pass running this long is wedged (API calls time out after 30 s): liveness fails

_log = logging.getLogger("spofless")


def _post(body: Mapping[str, Any], event: Event) -> None:
    kopf.event(dict(body), type=event.type, reason=event.reason, message=event.message)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.watching.server_timeout = 300  # re-list now and then; watches also reconnect by themselves
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    # A standby takes over once the active replica's peering record is this old; the active one
    # refreshes it every 5-10 s. Shorter means a faster takeover and more peering writes.
    settings.peering.lifetime = PEERING_LIFETIME
    settings.peering.stealth = True
    memo.reconciler = Reconciler(kube=await Kube.connect(), post=_post, logger=_log)
    memo.nodes = {}


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await memo.reconciler.kube.close()


# --- indices: what the reconciler reads instead of asking the API ---------------------------


@kopf.index(*SITES)
def site_index(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[SiteKey, dict[str, Any]]:
    return {(namespace, name): dict(body)}


@kopf.index("nodes")
def node_index(body: kopf.Body, **_: Any) -> dict[None, observed.Node]:
    return {None: observed.node_from(body)}


@kopf.index("pods", labels=OWNED)
def pod_index(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[SiteKey, observed.Pod]:
    return {(namespace, labels.get(naming.LABEL_SITE, "")): observed.pod_from(body)}


@kopf.index("discovery.k8s.io", "v1", "endpointslices", labels=OWNED)
def endpoint_index(
    namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any
) -> dict[SiteKey, tuple[observed.Endpoint, ...]]:
    return {(namespace, labels.get(naming.LABEL_SITE, "")): observed.endpoints_from(body)}


@kopf.index("apps", "v1", "deployments", labels=OWNED)
@kopf.index("policy", "v1", "poddisruptionbudgets", labels=OWNED)
@kopf.index("v1", "services", labels=OWNED)
def child_index(namespace: str, labels: kopf.Labels, body: kopf.Body, **_: Any) -> dict[SiteKey, observed.Child]:
    return {(namespace, labels.get(naming.LABEL_SITE, "")): observed.child_from(dict(body))}


def _observed(key: SiteKey, indices: Mapping[str, Any]) -> observed.Observed:
    return observed.Observed(
        nodes=tuple(indices["node_index"].get(None, ())),
        pods=tuple(indices["pod_index"].get(key, ())),
        endpoints=tuple(e for part in indices["endpoint_index"].get(key, ()) for e in part),
        children=tuple(indices["child_index"].get(key, ())),
    )


async def _reconcile(memo: kopf.Memo, key: SiteKey, indices: Mapping[str, Any], *, kopf_retries: bool) -> None:
    """One pass for `key`. A failed API call raises TemporaryError; kopf retries the site's own
    handlers, and for the other triggers (kopf_retries=False) the reconciler schedules the retry."""

    async def load() -> tuple[Mapping[str, Any], observed.Observed] | None:
        bodies = list(indices["site_index"].get(key, ()))
        return (bodies[0], _observed(key, indices)) if bodies else None

    reconciler: Reconciler = memo.reconciler
    with metrics.RECONCILE_SECONDS.time():
        try:
            await reconciler.request(key, load)
        except ApiException as err:
            if err.status == 403 and "NamespaceTerminating" in str(err.body):
                return  # the namespace and the site in it are going away
            _failed(reconciler, key, load if not kopf_retries else None, describe(err), err)
        except (TimeoutError, aiohttp.ClientError) as err:
            _failed(reconciler, key, load if not kopf_retries else None, describe(err), err)
        finally:
            metrics.RECONCILES.inc()


def _failed(reconciler: Reconciler, key: SiteKey, retry: Loader | None, what: str, err: Exception) -> NoReturn:
    """The API is unreachable or busy: nothing changes; the same pass is tried again soon."""
    metrics.RECONCILE_ERRORS.inc()
    if retry is not None:
        reconciler.wake_later(key, retry, RETRY_SECONDS)
    raise kopf.TemporaryError(
        f"API call failed, retrying in {RETRY_SECONDS:.0f} s: {what}", delay=RETRY_SECONDS
    ) from err


# --- triggers ------------------------------------------------------------------------------


@kopf.on.resume(*SITES)
@kopf.on.create(*SITES)
@kopf.on.update(*SITES)
async def site_changed(namespace: str, name: str, memo: kopf.Memo, **kwargs: Any) -> None:
    await _reconcile(memo, (namespace, name), kwargs, kopf_retries=True)


@kopf.on.event(*SITES)
async def site_event(type: str | None, namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        memo.reconciler.forget((namespace, name))


@kopf.on.event("pods", labels=OWNED)
@kopf.on.event("discovery.k8s.io", "v1", "endpointslices", labels=OWNED)
@kopf.on.event("apps", "v1", "deployments", labels=OWNED)
@kopf.on.event("policy", "v1", "poddisruptionbudgets", labels=OWNED)
@kopf.on.event("v1", "services", labels=OWNED)
async def child_changed(namespace: str, labels: kopf.Labels, memo: kopf.Memo, **kwargs: Any) -> None:
    site = labels.get(naming.LABEL_SITE)
    if site:
        await _quietly(memo, (namespace, site), kwargs)


@kopf.on.event("nodes")
async def node_changed(type: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """A node that turns Ready or NotReady, or comes or goes, may change every site's zones."""
    record = None if type == "DELETED" else observed.node_from(body)
    if memo.nodes.get(name) == record:
        return  # a heartbeat or an unrelated field: nothing a site cares about
    memo.nodes[name] = record
    keys = list(kwargs["site_index"])
    await asyncio.gather(*(_quietly(memo, key, kwargs) for key in keys))


async def _quietly(memo: kopf.Memo, key: SiteKey, indices: Mapping[str, Any]) -> None:
    """Event handlers are not retried by kopf; the reconciler retries a failed pass itself."""
    try:
        await _reconcile(memo, key, indices, kopf_retries=False)
    except kopf.TemporaryError as err:
        _log.warning("reconcile of %s/%s deferred: %s", *key, err)


@kopf.on.probe(id="longest_pass_seconds")
async def longest_pass(memo: kopf.Memo, **_: Any) -> float:
    """Fails the liveness endpoint when a reconcile is wedged. (kopf's endpoint itself stops
    answering when the event loop is blocked; a paused standby runs no pass and stays live.)"""
    reconciler: Reconciler = memo.reconciler
    longest = reconciler.longest_pass()
    if longest > STALL_SECONDS:
        raise kopf.PermanentError(f"a reconcile has been running for {longest:.0f} s")
    return round(longest, 3)
