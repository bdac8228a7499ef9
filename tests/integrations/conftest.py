import json
from pathlib import Path

import pytest

from guanxi.integrations.services import create_store, sign_base64
from tests.analytics.conftest import hand_store  # noqa: F401 - fixture for test_outbound

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "shopify_fixtures"
SECRET = "hush-shopify-secret"


def fixture(name: str) -> dict:
    path = FIXTURES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"Shopify fixtures missing: {path} (see ../shared/data/README.md)")
    return json.loads(path.read_text())


@pytest.fixture
def shop(db):
    return create_store(
        name="Bob's gadgets",
        platform="shopify",
        shop_domain="gadgets.myshopify.com",
        webhook_secret=SECRET,
        origins=["http://127.0.0.1:8999"],
    )


@pytest.fixture
def post_hook(client):
    """POST a payload as Shopify would (signed unless told otherwise)."""

    def _post(topic, payload, *, webhook_id, secret=SECRET, domain="gadgets.myshopify.com"):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return client.post(
            "/hooks/shopify/",
            data=body,
            content_type="application/json",
            headers={
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": domain,
                "X-Shopify-Webhook-Id": webhook_id,
                "X-Shopify-Hmac-Sha256": sign_base64(secret, body),
            },
        )

    return _post
