"""``/metrics`` (Prometheus text format) and ``/healthz`` (JSON, 200 or 503) on the
engine's web app (:func:`ivr.web.app.build_app` calls :func:`setup`).

No sign-in - a scraper has no session - so they answer only peers in
``ops.metrics_peers`` (loopback by default) and say nothing about any caller.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ivr.obs import health
from ivr.telephony.agi_auth import Network, networks, peer_allowed

PEERS_KEY = web.AppKey("ivr_obs_peers", list)


def _allowed(request: web.Request) -> None:
    peers: list[Network] = request.app[PEERS_KEY]
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer_allowed(peer, peers):
        raise web.HTTPForbidden(text="Forbidden: not an allowed metrics peer "
                                     "(settings ops.metrics_peers)\n")


async def metrics(request: web.Request) -> web.Response:
    _allowed(request)
    engine = request.app["engine"]
    body = engine.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    _allowed(request)
    result = await health.check(request.app["engine"])
    return web.json_response(result.as_dict(), status=200 if result.ok else 503)


def setup(app: web.Application) -> None:
    """Add the routes; ``app["engine"]`` must be set (its settings name the peers)."""
    app[PEERS_KEY] = networks(app["engine"].settings.ops.metrics_peers)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
