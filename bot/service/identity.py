"""Proof that a client may act as a known user: user tokens signed with the pilot's secret.

A known user id (a CF user of the catalog's interactions) unlocks that user's history: the
reasons cite it ("Liked by people who rated Tron (1982) highly, as you did"). An id a
client can type is not an identity, so the API binds one only with a token issued for it
by whoever holds the server's secret (the pilot's own login, after it checked the person):

    v1.<user id, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>

signed over "convrec-user-token/v1\\n<user id>\\n<expiry>" with the secret of
`--user-secret-file` (checked with hmac.compare_digest). Tokens are stateless: nothing is
stored, a server restart keeps them valid, and changing the secret revokes them all.
Issue one with `python launch.py user-token --user 1 --secret-file FILE` (or
`UserTokens.issue` inside the login's own Python); `--new-secret FILE` writes a secret.

What this module does NOT know: HTTP, sessions, whether the user exists in the catalog
(the bot checks that after the proof, so a stranger cannot learn which ids exist).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import os
import secrets
import sys
import time
from pathlib import Path

VERSION = "v1"
MIN_SECRET_CHARS = 32  # 32 characters of a random hex secret: 128 bits at least
NEW_SECRET_BYTES = 32  # `--new-secret` writes 256 random bits as 64 hex characters
DEFAULT_TTL_S = 24 * 3600  # a login's token lasts a day, like a session cookie would
MAX_TOKEN_CHARS = 512  # a user id of 200 characters is 268 in base64url; the rest is small
ISSUE_HINT = "python launch.py user-token --user ID --secret-file FILE"

NO_SECRET = ("known users are off on this server: a user_id is bound only with a user_token signed by "
             "the operator's secret (start the server with --user-secret-file FILE, then issue tokens with "
             f"`{ISSUE_HINT}`); leave user_id out for an anonymous session")
MISSING = ("a user_id needs its user_token: the token your login issued for that user (the operator "
           f"issues them with `{ISSUE_HINT}`)")
INVALID = f"the user_token is not valid for this user_id: ask your login for a new one (`{ISSUE_HINT}`)"
EXPIRED = f"the user_token has expired: ask your login for a new one (`{ISSUE_HINT}`)"


class NotProven(Exception):
    """A user id without valid proof: a 403 whose text says how to get a token, never the input."""


class SecretError(Exception):
    """The secret file is missing, unreadable or too short: what to run to make one."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UserTokens:
    """Issues and checks user tokens with one secret (bytes, at least MIN_SECRET_CHARS long)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_CHARS:
            raise SecretError(f"the user secret is {len(secret)} characters; it needs at least "
                              f"{MIN_SECRET_CHARS} (`python launch.py user-token --new-secret FILE` writes one)")
        self._secret = secret

    def _mac(self, user_id: str, expiry: int) -> bytes:
        message = f"convrec-user-token/{VERSION}\n{user_id}\n{expiry}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def issue(self, user_id: str, ttl_s: float = DEFAULT_TTL_S, now: float | None = None) -> str:
        """A token that proves `user_id` until now + `ttl_s` seconds."""
        if not user_id:
            raise ValueError("a user token needs a user id")
        expiry = int((time.time() if now is None else now) + ttl_s)
        return ".".join((VERSION, _b64(user_id.encode()), str(expiry), _b64(self._mac(user_id, expiry))))

    def check(self, user_id: str, token: str | None, now: float | None = None) -> None:
        """Return if `token` proves `user_id` now; else raise NotProven (missing, not valid, or
        expired: the expiry is read only once the MAC holds, so it tells a forger nothing)."""
        if not token:
            raise NotProven(MISSING)
        parts = token.split(".")
        if len(token) > MAX_TOKEN_CHARS or len(parts) != 4 or parts[0] != VERSION \
                or not (parts[2].isascii() and parts[2].isdigit()):
            raise NotProven(INVALID)
        try:
            signed_user, mac = _unb64(parts[1]).decode("utf-8"), _unb64(parts[3])
        except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            raise NotProven(INVALID) from None
        expiry = int(parts[2])
        if not hmac.compare_digest(mac, self._mac(signed_user, expiry)) \
                or not hmac.compare_digest(signed_user.encode(), user_id.encode()):
            raise NotProven(INVALID)
        if expiry <= (time.time() if now is None else now):
            raise NotProven(EXPIRED)


def load_secret(path: Path) -> UserTokens:
    """The tokens of the secret in `path` (its text, surrounding whitespace dropped)."""
    try:
        secret = path.read_bytes().strip()
    except OSError as e:
        raise SecretError(f"cannot read the user secret file {path} ({e.strerror or type(e).__name__}): "
                          f"create one with `python launch.py user-token --new-secret {path}`") from None
    return UserTokens(secret)


def new_secret(path: Path) -> None:
    """Write a random secret to `path`, readable by its owner only; never overwrite one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretError(f"{path} exists: a new secret would revoke every token issued with it; "
                          "delete the file first if that is what you want") from None
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(NEW_SECRET_BYTES) + "\n")


def main(argv: list[str] | None = None) -> int:
    """`python launch.py user-token`: issue a token for a user, or write a new secret."""
    p = argparse.ArgumentParser(prog="launch.py user-token",
                                description="Issue a signed user token (what the pilot's login hands to a "
                                            "person it has checked), or write a new secret file.")
    p.add_argument("--user", help="the known user id the token proves (a user id of the interactions)")
    p.add_argument("--secret-file", type=Path, default=os.environ.get("CONVREC_USER_SECRET_FILE"),
                   help="the secret the server reads with --user-secret-file (default: $CONVREC_USER_SECRET_FILE)")
    p.add_argument("--hours", type=float, default=DEFAULT_TTL_S / 3600, help="how long the token is valid (default 24)")
    p.add_argument("--new-secret", type=Path, metavar="FILE",
                   help="write a new random secret to FILE (mode 600) and exit")
    args = p.parse_args(argv)
    try:
        if args.new_secret is not None:
            new_secret(args.new_secret)
            print(f"wrote a new user secret to {args.new_secret}: serve with --user-secret-file {args.new_secret}",
                  file=sys.stderr)
            return 0
        if not args.user or args.secret_file is None:
            p.error("give --user ID and --secret-file FILE (or --new-secret FILE)")
        if args.hours <= 0:
            p.error("--hours must be above 0")
        print(load_secret(Path(args.secret_file)).issue(args.user, args.hours * 3600))
    except SecretError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
