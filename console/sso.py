"""Single sign-on: a company's OpenID Connect provider in place of the local login, by
configuration (``[console] auth = "oidc"`` and ``[console.oidc]``).

Authlib does the protocol (discovery, the authorization-code flow with state and nonce, the ID
token's signature against the provider's keys); this module maps the verified claims to a
console account: the login name is ``preferred_username`` (else ``sub``), the role the claim
``role_claim`` names, one of console.auth.ROLES. An account is made on its first login, without
a password; a disabled account stays out. From there on, sessions, CSRF, roles and the audit log
are the local login's.
"""
from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select
from starlette.requests import Request

from console import auth
from console.store import audit
from console.store.models import User
from etl.config import Settings, shanghai_now

CALLBACK = "/login/sso/callback"


def client(settings: Settings):
    """Authlib's Starlette client for the configured provider."""
    from authlib.integrations.starlette_client import OAuth

    oidc = settings.console.oidc
    secret = os.environ.get(oidc.client_secret_env, "")
    if not (oidc.issuer_url and oidc.client_id and secret):
        raise RuntimeError("[console] auth = \"oidc\" needs [console.oidc] issuer_url and client_id, and the client "
                           f"secret in the environment variable {oidc.client_secret_env}")
    oauth = OAuth()
    oauth.register("sso", client_id=oidc.client_id, client_secret=secret,
                   server_metadata_url=oidc.issuer_url.rstrip("/") + "/.well-known/openid-configuration",
                   client_kwargs={"scope": "openid profile"})
    return oauth.sso


def account_for(db, settings: Settings, claims: dict[str, Any], ip: str) -> User | None:  # noqa: ANN001
    """The console account of the verified claims, made on first login; None when the claims
    name no role of the console or the account is disabled (the caller shows one message)."""
    name = str(claims.get("preferred_username") or claims.get("sub") or "").strip()[:64]
    role = claims.get(settings.console.oidc.role_claim)
    if not name or role not in auth.ROLES:
        audit.record(db, name or "?", "login.failed", "sso", {"ip": ip, "why": f"no console role ({role!r})"})
        db.commit()
        return None
    user = db.execute(select(User).where(User.name == name)).scalar_one_or_none()
    now = shanghai_now()
    if user is None:
        user = User(name=name, display_name=str(claims.get("name") or name)[:128], role=role, locale="zh_CN",
                    password_hash=None, disabled=False, failed_logins=0, created_at=now, updated_at=now)
        db.add(user)
        db.flush()
        audit.record(db, name, "user.add", f"user:{name}", {"role": role, "by": "sso"})
    elif user.role != role:  # the company directory decides the role
        audit.record(db, name, "user.role", f"user:{name}", {"from": user.role, "to": role, "by": "sso"})
        user.role, user.updated_at = role, now
    if user.disabled:
        audit.record(db, name, "login.failed", "sso", {"ip": ip, "why": "disabled"})
        db.commit()
        return None
    audit.record(db, name, "login", f"user:{name}", {"ip": ip, "by": "sso"})
    db.commit()
    return user


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""
