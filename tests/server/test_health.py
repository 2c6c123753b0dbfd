"""GET /healthz: 200 when the database and the pub/sub answer, 503 when one does not."""

from __future__ import annotations

import dataclasses

import httpx

from guichet.server.app import create_app
from tests.conftest import free_port


async def _healthz(application) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://guichet.test"
    ) as client:
        return await client.get("/healthz")


async def test_a_healthy_app_answers_200(app):
    response = await _healthz(app)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "pubsub": "ok"}


async def test_healthz_over_real_http(live_server):
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "pubsub": "ok"}


async def test_an_unreachable_pubsub_answers_503(app, settings):
    # The database is open in this process (the `app` fixture ran its lifespan); this app's
    # bus points to a port where nothing listens. Its lifespan is not run: the bus is never
    # connected, which is what a health check must notice.
    dead = create_app(
        dataclasses.replace(settings, broadcast_url=f"redis://127.0.0.1:{free_port()}/0")
    )
    response = await _healthz(dead)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "pubsub": "unreachable"}


async def test_healthz_only_answers_get(app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://guichet.test"
    ) as client:
        response = await client.post("/healthz")
    assert response.status_code == 405
