"""Single sign-on by configuration: with [console] auth = "oidc" the console signs people in
through an OpenID Connect provider (here a small one of our own on loopback, signing its ID
tokens with RS256), maps the role claim to a console role, and refuses the password form."""
from __future__ import annotations

import secrets
import threading
import time

import httpx
import pytest

from tests.console.conftest import site_env

CLIENT_ID = "recon-console"


class Provider:
    """A minimal OpenID Connect provider: discovery, authorize (no login page: it signs in
    whoever the test says), token with an RS256 ID token, and its keys."""

    def __init__(self, claims: dict):
        from authlib.jose import JsonWebKey

        self.claims = claims
        self.codes: dict[str, str] = {}
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        self.base = ""

    def app(self):
        from authlib.jose import jwt
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, RedirectResponse
        from starlette.routing import Route

        async def discovery(request):
            b = self.base
            return JSONResponse({"issuer": b, "authorization_endpoint": b + "/authorize", "token_endpoint": b + "/token",
                                 "jwks_uri": b + "/jwks", "response_types_supported": ["code"],
                                 "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]})

        async def authorize(request):
            q = request.query_params
            code = secrets.token_urlsafe(8)
            self.codes[code] = q["nonce"]
            return RedirectResponse(f"{q['redirect_uri']}?code={code}&state={q['state']}", 302)

        async def token(request):
            form = await request.form()
            nonce = self.codes.pop(form["code"])
            now = int(time.time())
            claims = {"iss": self.base, "aud": CLIENT_ID, "sub": "u-1", "iat": now, "exp": now + 300, "nonce": nonce,
                      **self.claims}
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key).decode()
            return JSONResponse({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})

        async def jwks(request):
            public = self.key.as_dict(is_private=False)
            public["kid"] = "k1"
            return JSONResponse({"keys": [public]})

        return Starlette(routes=[Route("/.well-known/openid-configuration", discovery), Route("/authorize", authorize),
                                 Route("/token", token, methods=["POST"]), Route("/jwks", jwks)])


def _serve(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


@pytest.fixture
def sso_console(site, monkeypatch):
    """(provider, console base URL) with the console configured for the provider."""
    from console.app import create_app
    from console.store import _engine_for
    from etl.config import load_settings

    provider = Provider({"preferred_username": "chen.ops", "name": "陈运营", "recon_role": "ops"})
    idp, idp_base = _serve(provider.app())
    provider.base = idp_base
    monkeypatch.setenv("RECON_CONSOLE_OIDC_SECRET", "client-secret")
    _engine_for.cache_clear()
    settings = load_settings({**site_env(site[0]), "RECON_CONSOLE__AUTH": "oidc",
                              "RECON_CONSOLE__OIDC__ISSUER_URL": idp_base, "RECON_CONSOLE__OIDC__CLIENT_ID": CLIENT_ID})
    console, base = _serve(create_app(settings))
    yield provider, base
    console.should_exit = idp.should_exit = True


def test_sso_signs_in_with_the_role_the_provider_names(sso_console):
    provider, base = sso_console
    with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as client:
        assert 'href="/login/sso"' in client.get("/login").text
        page = client.get("/login/sso")
        assert page.status_code == 200 and str(page.url).endswith("/queue")
        assert "待办队列" in page.text and "陈运营" in page.text


def test_a_person_without_a_console_role_is_refused(sso_console):
    provider, base = sso_console
    provider.claims = {"preferred_username": "guest", "recon_role": "superuser"}
    with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as client:
        page = client.get("/login/sso")
        assert page.status_code == 403
        assert client.get("/queue", follow_redirects=False).status_code == 303


def test_the_password_form_is_refused(sso_console):
    _, base = sso_console
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/login", data={"name": "wang.ops", "password": "x"}).status_code == 403
