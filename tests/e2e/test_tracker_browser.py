"""The tracker snippet in a real Chromium: a store page (on another origin) loads
/static/guanxi.js, its events arrive, and identify stitches them to the customer."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connections

from guanxi.commerce.models import Event
from guanxi.customers.services import create_customer
from guanxi.integrations.services import create_store
from tests.e2e.conftest import CHROMIUM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not at /usr/bin/chromium"),
]

PAGE = """<!doctype html><html><head><title>Shop</title>
<script src="{crm}/static/guanxi.js" data-key="{key}" async></script>
<script>window.guanxi = window.guanxi || function () {{
  (window.guanxi.q = window.guanxi.q || []).push(arguments); }};</script>
</head><body><h1>IPod Nano</h1>
<button id="add" onclick="guanxi('added_to_cart', {{product: 'IPOD2008GREEN'}})">Add</button>
<form id="s" onsubmit="guanxi('searched', {{query: 'nano'}}); return false;">
<button>Go</button></form>
<button id="login" onclick="guanxi('identify', {{email: 'mei@example.com'}})">Log in</button>
<script>guanxi('viewed_product', {{product: 'IPOD2008GREEN'}});</script>
</body></html>"""


def serve_shop(page: dict):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = page["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def in_thread(query):
    """Run an ORM query in a short-lived thread that closes its connection: a connection opened
    in this thread while Playwright's loop runs would outlive the test database."""
    result = {}

    def run():
        try:
            result["value"] = query()
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return result["value"]


class CollectRequests:
    """Counts the page's requests to the collection endpoint (beacons included) so the test
    reads the database only once they are answered: on SQLite a read while the live server
    writes would lock the table under it."""

    def __init__(self, page):
        self.started = self.done = 0
        page.on("request", lambda r: self._count(r, "started"))
        page.on("requestfinished", lambda r: self._count(r, "done"))
        page.on("requestfailed", lambda r: self._count(r, "done"))

    def _count(self, request, which):
        if "/collect" in request.url and request.method == "POST":
            setattr(self, which, getattr(self, which) + 1)

    def wait(self, page, at_least: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.started >= at_least and self.done == self.started:
                return
            page.wait_for_timeout(100)
        raise AssertionError(f"collect requests: {self.started} sent, {self.done} answered")


@pytest.mark.django_db(transaction=True)
def test_snippet_events_arrive_and_are_stitched_on_identify(live_server, request):
    shop_page = {"html": ""}
    shop_server = serve_shop(shop_page)  # the store's own site, on another origin
    shop_origin = f"http://127.0.0.1:{shop_server.server_port}"
    store = create_store(
        name="Shop", platform="shopify", shop_domain="shop.example", origins=[shop_origin]
    )
    mei = create_customer(first_name="Mei", emails=["mei@example.com"])
    shop_page["html"] = PAGE.format(crm=live_server.url, key=store.public_key)
    page = request.getfixturevalue("browser_page")
    try:
        collect = CollectRequests(page)
        page.goto(f"{shop_origin}/")
        page.wait_for_function(
            "() => !!(window.guanxi && window.guanxi.flush)"
        )  # the async script ran
        # One request at a time: the in-memory SQLite test database cannot take two writers.
        collect.wait(page, at_least=1)  # the product view, sent by the batching timer
        page.click("#add")
        page.evaluate("guanxi.flush()")
        collect.wait(page, at_least=2)
        page.click("#s button")
        page.evaluate("guanxi.flush()")
        collect.wait(page, at_least=3)
        assert in_thread(lambda: Event.objects.filter(source=store.source).count()) == 3
        kinds = in_thread(lambda: set(Event.objects.values_list("event_type", flat=True)))
        assert kinds == {"viewed_product", "added_to_cart", "searched"}
        anonymous = in_thread(lambda: set(Event.objects.values_list("anonymous_id", flat=True)))
        assert len(anonymous) == 1 and "" not in anonymous
        assert not in_thread(lambda: Event.objects.filter(customer__isnull=False).exists())

        sent = collect.started
        page.click("#login")
        collect.wait(page, at_least=sent + 1)
        assert in_thread(lambda: Event.objects.filter(customer=mei).count()) == 4
        assert page.js_errors == []
    finally:
        shop_server.shutdown()
        shop_server.server_close()
