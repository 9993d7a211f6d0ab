"""The OpenAPI schema and the interactive docs work without internet access."""

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_the_schema_describes_the_tenant_api(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/t/{tenant_slug}/incidents/{reference}/resolve/" in paths
    assert "/api/v1/me/" in paths


@pytest.mark.django_db
def test_the_docs_load_every_asset_from_this_server(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    assert not [url for url in assets if "://" in url or url.startswith("//")]
    # The start-up script is served by the docs view itself (no inline script under the CSP) …
    static = [url for url in assets if not url.startswith("/api/v1/docs/")]
    assert len(static) == len(assets) - 1
    for url in static:
        path = url.removeprefix("/static/")
        assert finders.find(path), f"{url} is not shipped with the installed packages"
    # … and points Swagger UI at the schema on this server.
    script = client.get("/api/v1/docs/?script=").content.decode()
    assert "/api/v1/schema/" in script
