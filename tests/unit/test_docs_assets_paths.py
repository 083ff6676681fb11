"""The vendored Swagger UI files under /docs/assets: dot segments stay inside the folder."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from samspil.runtime.api_docs import install_docs


async def test_the_docs_assets_route_serves_only_the_vendored_files() -> None:
    """The static route under /docs/assets: dot segments, encoded or not, stay inside the folder."""
    app = FastAPI()
    install_docs(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/docs/assets/swagger-ui.css")).status_code == 200
        for path in (
            "/docs/assets/../api_docs.py",
            "/docs/assets/%2e%2e/api_docs.py",
            "/docs/assets/..%2fapi_docs.py",
            "/docs/assets/%2e%2e%2f%2e%2e%2fhttp.py",
            "/docs/assets/....//api_docs.py",
        ):
            answer = await http.get(path)
            assert answer.status_code == 404 or b"install_docs" not in answer.content, path
