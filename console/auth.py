"""Accounts, sessions and roles: the one place that decides who may do what.

- Roles (``ROLES``) and what each may do (``PERMISSIONS``); ``can(role, permission)`` is asked by
  every route and action on the server, and by the templates only to hide what would be refused.
- Passwords: argon2id (argon2-cffi's defaults), never stored or logged in clear.
- Login: the same answer whether the name or the password was wrong or the account is locked;
  ``lock_after_failures`` failures in a row lock the account for ``lock_minutes``. An unknown
  name costs the same argon2 verification as a known one.
- Sessions: server-side. The cookie holds 32 random bytes (``secrets``); the store keeps their
  SHA-256 with the user, a CSRF token and the times that end it (idle timeout, absolute
  lifetime). A login always makes a new session id (no fixation); a logout deletes it.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from console.store import audit
from console.store.models import User, WebSession
from etl.config import shanghai_now
from etl.i18n import N_

# code → the word users read (glossary-zh.md); the English word is the msgid of the catalogue
ROLES: dict[str, str] = {"ops": "运营", "finance": "财务", "product": "产品", "auditor": "审计", "admin": "管理员"}
ROLE_NAMES_EN: dict[str, str] = {"ops": N_("Ops"), "finance": N_("Finance"), "product": N_("Product"),
                                 "auditor": N_("Auditor"), "admin": N_("Administrator")}

_READERS = frozenset({"ops", "finance", "auditor"})
PERMISSIONS: dict[str, frozenset[str]] = {
    # pages
    "today.view": frozenset({"ops", "finance", "product", "auditor"}),
    "queue.view": _READERS,
    "queue.export": _READERS,
    "story.view": _READERS,
    "search.use": _READERS,
    "finance.view": frozenset({"finance", "auditor"}),
    "product.view": frozenset({"product", "auditor"}),
    "audit.view": frozenset({"auditor"}),
    "audit.export": frozenset({"auditor"}),
    "users.manage": frozenset({"admin"}),
    # actions on breaks
    "break.claim": frozenset({"ops"}),
    "break.assign": frozenset({"ops"}),
    "break.note": frozenset({"ops"}),
    "break.resolve": frozenset({"ops"}),
    "break.reopen": frozenset({"ops"}),
    "break.bulk_resolve": frozenset({"ops"}),
    "msisdn.reveal": frozenset({"ops"}),
    # finance's decisions
    "writeoff.approve": frozenset({"finance"}),
    "day.close": frozenset({"finance"}),
    "day.reopen": frozenset({"finance"}),
    # fixes (etl/fixes, docs/REMEDIATION.md): proposed by ops or finance, approved by another
    # finance user, sent by ops or finance once approved
    "fix.view": frozenset({"ops", "finance", "auditor"}),
    "fix.propose": frozenset({"ops", "finance"}),
    "fix.approve": frozenset({"finance"}),
    "fix.send": frozenset({"ops", "finance"}),
    # everyone signed in: their own language and password
    "self.settings": frozenset(ROLES),
}


def can(role: str | None, permission: str) -> bool:
    """May ``role`` do ``permission``? Unknown roles and permissions may do nothing."""
    return role is not None and role in PERMISSIONS.get(permission, frozenset())


def home_for(role: str) -> str:
    """Where a role lands after login."""
    return {"ops": "/queue", "finance": "/finance", "product": "/product", "auditor": "/audit",
            "admin": "/users"}.get(role, "/")


# ---- passwords ------------------------------------------------------------------------------

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("an unknown name costs the same time as a known one")
MIN_PASSWORD = 10


class AccountError(ValueError):
    """A user command that cannot be done, with the reason."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _password_matches(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---- login ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    lock_after_failures: int = 5
    lock_minutes: int = 15
    idle_minutes: int = 30
    session_hours: int = 10

    @classmethod
    def from_settings(cls, console) -> "Policy":  # noqa: ANN001 - etl.config.Console
        return cls(console.lock_after_failures, console.lock_minutes, console.idle_minutes, console.session_hours)


def authenticate(db: Session, name: str, password: str, policy: Policy, ip: str = "") -> User | None:
    """The user, when ``name`` and ``password`` match an enabled, unlocked account; else None,
    whatever the reason (the caller shows one message for all). Failures count towards a lock;
    every attempt is in the audit log. Commits."""
    now = shanghai_now()
    user = db.execute(select(User).where(User.name == name.strip())).scalar_one_or_none()
    ok = _password_matches(user.password_hash if user else None, password)
    if user is None:
        audit.record(db, name.strip()[:64] or "?", "login.failed", "user", {"ip": ip, "why": "unknown name"})
        db.commit()
        return None
    locked = user.locked_until is not None and user.locked_until > now
    if ok and not user.disabled and not locked:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.failed_logins, user.locked_until = 0, None
        audit.record(db, user.name, "login", f"user:{user.name}", {"ip": ip})
        db.commit()
        return user
    why = "disabled" if user.disabled else "locked" if locked else "wrong password"
    if not ok and not locked:
        user.failed_logins += 1
        if user.failed_logins >= policy.lock_after_failures:
            user.locked_until = now + timedelta(minutes=policy.lock_minutes)
            user.failed_logins = 0
            why += f"; locked for {policy.lock_minutes} min"
    audit.record(db, user.name, "login.failed", f"user:{user.name}", {"ip": ip, "why": why})
    db.commit()
    return None


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(db: Session, user: User, old_session_id: str | None = None) -> str:
    """A new session for ``user``; the id for the cookie. Any session the browser held before
    is ended (a login never keeps a session id chosen before it). Commits."""
    if old_session_id:
        db.execute(delete(WebSession).where(WebSession.id_hash == _digest(old_session_id)))
    session_id = secrets.token_urlsafe(32)
    now = shanghai_now()
    db.add(WebSession(id_hash=_digest(session_id), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                      created_at=now, last_seen_at=now))
    db.commit()
    return session_id


@dataclass(frozen=True)
class Current:
    """Who is asking: the signed-in user and their session's CSRF token."""
    user_id: int
    name: str
    display_name: str
    role: str
    locale: str
    csrf_token: str
    session_hash: str


def current(db: Session, session_id: str | None, policy: Policy) -> Current | None:
    """The session's user, if the session exists, is neither idle too long nor too old, and
    the account is enabled. Touches the session (idle clock). Commits when it changes."""
    if not session_id or len(session_id) > 100:
        return None
    key = _digest(session_id)
    row = db.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                     .where(WebSession.id_hash == key)).one_or_none()
    if row is None:
        return None
    session, user = row
    now = shanghai_now()
    expired = (now - session.last_seen_at > timedelta(minutes=policy.idle_minutes)
               or now - session.created_at > timedelta(hours=policy.session_hours))
    if expired or user.disabled:
        db.execute(delete(WebSession).where(WebSession.id_hash == key))
        db.commit()
        return None
    if now - session.last_seen_at > timedelta(seconds=30):  # not a write on every click
        db.execute(update(WebSession).where(WebSession.id_hash == key).values(last_seen_at=now))
        db.commit()
    return Current(user.id, user.name, user.display_name, user.role, user.locale, session.csrf_token, key)


def end_session(db: Session, session_id: str | None) -> None:
    if session_id:
        db.execute(delete(WebSession).where(WebSession.id_hash == _digest(session_id)))
        db.commit()


def csrf_ok(expected: str, given: str | None) -> bool:
    """The form's token is the session's (constant-time comparison)."""
    return bool(given) and secrets.compare_digest(expected.encode(), str(given).encode())


# ---- accounts (recon users …, and the admin's page) ------------------------------------------

def add_user(db: Session, actor: str, name: str, role: str, password: str, display_name: str = "",
             locale: str = "zh_CN") -> User:
    name = name.strip()
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError("a user name is 1-64 letters, digits or . _ - @")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if db.execute(select(User.id).where(User.name == name)).first():
        raise AccountError(f"user {name!r} exists already")
    now = shanghai_now()
    user = User(name=name, display_name=display_name.strip() or name, role=role, locale=locale,
                password_hash=hash_password(password), disabled=False, failed_logins=0,
                created_at=now, updated_at=now)
    db.add(user)
    db.flush()
    audit.record(db, actor, "user.add", f"user:{name}", {"role": role})
    db.commit()
    return user


def _user(db: Session, name: str) -> User:
    user = db.execute(select(User).where(User.name == name.strip())).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user {name!r}")
    return user


def set_disabled(db: Session, actor: str, name: str, disabled: bool = True) -> None:
    user = _user(db, name)
    user.disabled, user.updated_at = disabled, shanghai_now()
    if disabled:
        db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit.record(db, actor, "user.disable" if disabled else "user.enable", f"user:{user.name}", {})
    db.commit()


def reset_password(db: Session, actor: str, name: str, password: str) -> None:
    """A new password; the lock is lifted and every session of the user ends."""
    user = _user(db, name)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until, user.updated_at = 0, None, shanghai_now()
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit.record(db, actor, "user.reset", f"user:{user.name}", {})
    db.commit()


def set_locale(db: Session, actor: str, name: str, locale: str) -> None:
    user = _user(db, name)
    user.locale, user.updated_at = locale, shanghai_now()
    audit.record(db, actor, "user.locale", f"user:{user.name}", {"locale": locale})
    db.commit()


def list_users(db: Session) -> list[User]:
    return list(db.execute(select(User).order_by(User.name)).scalars())


def open_session_store(settings):  # noqa: ANN001, ANN201 - etl.config.Settings → sessionmaker
    """The configured store, migrated to the newest revision: what `recon serve` and `recon
    users` start with."""
    from console.store import engine_from_settings, migrate, session_factory

    engine = engine_from_settings(settings)
    migrate(engine)
    return session_factory(engine)


def now() -> datetime:
    return shanghai_now()
