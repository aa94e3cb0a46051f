"""Player identities and resume tokens, kept in Redis so any gateway can resume any player.

A token is ``<player_id>.<secret>``; Redis keeps only the SHA-256 of the whole token under
``{player:ID}:session``, so a leaked Redis dump cannot be replayed, and lookups need no scan.
Tokens are secrets: the server sends a token only to its owner, in ``welcome``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from game.errors import DoodleError

SESSION_TTL_SECONDS = 24 * 3600


class InvalidToken(DoodleError):
    """The resume token is unknown, expired or forged."""

    code = "invalid_token"


@dataclass(frozen=True, slots=True)
class Session:
    """Who a connection speaks for, and where they sit."""

    player_id: str
    name: str
    room: str | None = None
    role: str | None = None  # "player" or "spectator" while in a room
    consent_archive: bool = False


def session_key(player_id: str) -> str:
    return "{player:" + player_id + "}:session"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_player_id() -> str:
    """A short random id, public within a room (it is not a secret)."""
    return "p_" + secrets.token_hex(6)


class SessionStore:
    """Creates, resumes and updates sessions."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: int = SESSION_TTL_SECONDS):
        self.client = client
        self.ttl_seconds = ttl_seconds

    async def create(self, name: str, consent_archive: bool) -> tuple[Session, str]:
        """Make a new player identity; return it and its secret token."""
        player_id = new_player_id()
        token = f"{player_id}.{secrets.token_urlsafe(24)}"
        session = Session(player_id=player_id, name=name, consent_archive=consent_archive)
        key = session_key(player_id)
        await self.client.hset(
            key,
            mapping={
                "token_sha256": _digest(token),
                "name": name,
                "room": "",
                "role": "",
                "consent_archive": int(consent_archive),
            },
        )
        await self.client.expire(key, self.ttl_seconds)
        return session, token

    async def resume(self, token: str) -> Session:
        """Return the session a token belongs to, refreshing its lifetime.

        Raises:
            InvalidToken: unknown, expired or forged token.
        """
        player_id, _, _secret = token.partition(".")
        if not player_id.startswith("p_") or not _secret:
            raise InvalidToken("malformed resume token")
        key = session_key(player_id)
        fields = await self.client.hgetall(key)
        if not fields:
            raise InvalidToken("resume token expired or unknown")
        stored = fields[b"token_sha256"].decode()
        if not hmac.compare_digest(stored, _digest(token)):
            raise InvalidToken("resume token does not match")
        await self.client.expire(key, self.ttl_seconds)
        return Session(
            player_id=player_id,
            name=fields[b"name"].decode(),
            room=fields[b"room"].decode() or None,
            role=fields[b"role"].decode() or None,
            consent_archive=fields.get(b"consent_archive", b"0") == b"1",
        )

    async def set_seat(self, player_id: str, room: str | None, role: str | None) -> None:
        """Record (or clear) the room a player sits in, for resume."""
        await self.client.hset(session_key(player_id), mapping={"room": room or "", "role": role or ""})

    async def claim_connection(self, player_id: str, holder: str) -> str | None:
        """Record `holder` (``<gateway_id> <connection_id>``) as the player's live connection.

        Returns:
            The holder it replaced, if any (possibly a connection long gone; its gateway checks).
        """
        async with self.client.pipeline(transaction=True) as pipe:  # read and swap in one step
            pipe.hget(session_key(player_id), "connection")
            pipe.hset(session_key(player_id), "connection", holder)
            previous, _ = await pipe.execute()
        return previous.decode() if previous else None

    async def set_consent(self, player_id: str, consent_archive: bool) -> None:
        await self.client.hset(session_key(player_id), "consent_archive", str(int(consent_archive)))
