"""Known users bind only with proof (bot/service/identity.py): a user token signed with the
pilot's secret. Known answers for the token, the API's 403s for every way a token can be
wrong (none of which echoes the input), no secret configured -> every user_id refused,
and the issuing command's round trip."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat

import pytest
from fastapi.testclient import TestClient

import launch
from bot.service.api import create_app
from bot.service.chatservice import ChatService
from bot.service.identity import (EXPIRED, INVALID, MISSING, NO_SECRET, NotProven, SecretError, UserTokens,
                                  load_secret, main)
from tests.helpers import tiny_bot

SECRET = b"0123456789abcdef0123456789abcdef"  # 32 characters: the shortest secret allowed
NOW = 1_000_000_000.0
USERS = UserTokens(SECRET)


def test_a_token_is_user_expiry_and_hmac_sha256_of_both():
    token = USERS.issue("15", ttl_s=3600, now=NOW)
    mac = hmac.new(SECRET, b"convrec-user-token/v1\n15\n1000003600", hashlib.sha256).digest()
    assert token == "v1.MTU.1000003600." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    USERS.check("15", token, now=NOW + 3599)  # valid until its expiry


@pytest.mark.parametrize("token, user, now, message", [
    (None, "15", NOW, MISSING),
    ("", "15", NOW, MISSING),
    (USERS.issue("15", 3600, NOW), "16", NOW, INVALID),  # another user's token
    (UserTokens(b"another secret, also 32 characters long").issue("15", 3600, NOW), "15", NOW, INVALID),
    (USERS.issue("15", 3600, NOW), "15", NOW + 3600, EXPIRED),
    (USERS.issue("15", 3600, NOW).replace(".1000003600.", ".1999999999."), "15", NOW, INVALID),  # expiry moved
    (USERS.issue("1", 3600, NOW).replace("v1.MQ.", "v1.MTU."), "15", NOW, INVALID),  # user swapped
    ("v1.MTU.1000003600.!!!", "15", NOW, INVALID),
    ("v2.MTU.1000003600.AAAA", "15", NOW, INVALID),
    ("v1.MTU.-5.AAAA", "15", NOW, INVALID),
    (USERS.issue("15", 3600, NOW).replace(".1000003600.", ".\u0661000003600."), "15", NOW, INVALID),  # not ASCII
    ("v1.MTU.1000003600", "15", NOW, INVALID),
    ("x" * 600, "15", NOW, INVALID),
])
def test_a_wrong_token_is_refused_with_words_that_say_how_to_get_one(token, user, now, message):
    with pytest.raises(NotProven) as e:
        USERS.check(user, token, now=now)
    assert str(e.value) == message and "launch.py user-token" in message


def test_a_short_or_missing_secret_is_refused_with_what_to_run(tmp_path):
    with pytest.raises(SecretError, match="at least 32"):
        UserTokens(b"short")
    with pytest.raises(SecretError, match="--new-secret"):
        load_secret(tmp_path / "none")


@pytest.fixture
def api():
    return TestClient(create_app(ChatService(tiny_bot(k=3)), users=USERS), raise_server_exceptions=False)


@pytest.mark.parametrize("path", ["/api/sessions", "/api/chat"])
def test_a_valid_token_binds_the_user(api, path):
    r = api.post(path, json={"message": "a funny cartoon", "user_id": "u5", "user_token": USERS.issue("u5")}
                 if path == "/api/chat" else {"user_id": "u5", "user_token": USERS.issue("u5")})
    assert r.status_code in (200, 201), r.text
    assert r.json().get("user_id", r.json().get("understood", {}).get("user_id")) == "u5"


SECRETIVE = "zz-probe-zz"  # a value the answers must never repeat


@pytest.mark.parametrize("path", ["/api/sessions", "/api/chat"])
@pytest.mark.parametrize("proof, message", [
    ({}, MISSING),
    ({"user_token": SECRETIVE}, INVALID),
    ({"user_token": USERS.issue("u1")}, INVALID),  # another user's
    ({"user_token": USERS.issue("u5", ttl_s=-1)}, EXPIRED),
    ({"user_token": UserTokens(b"x" * 32).issue("u5")}, INVALID),  # another server's secret
])
def test_a_wrong_token_is_403_without_echo(api, path, proof, message):
    body = {"user_id": "u5", **proof, **({"message": "a funny cartoon"} if path == "/api/chat" else {})}
    r = api.post(path, json=body)
    assert r.status_code == 403 and r.json() == {"error": message}
    assert SECRETIVE not in r.text and "u5" not in r.text


def test_switching_user_on_a_session_needs_the_new_users_token(api):
    r = api.post("/api/chat", json={"message": "a funny cartoon"})
    sid, auth = r.json()["session_id"], {"X-Session-Token": r.json()["token"]}
    r = api.post("/api/chat", json={"session_id": sid, "message": "more", "user_id": "u5"}, headers=auth)
    assert r.status_code == 403 and r.json()["error"] == MISSING
    r = api.post("/api/chat", json={"session_id": sid, "message": "more", "user_id": "u5",
                                    "user_token": USERS.issue("u5")}, headers=auth)
    assert r.status_code == 200 and r.json()["understood"]["user_id"] == "u5"
    # the bound user is kept, or dropped, without a token: it was proven when bound
    r = api.post("/api/chat", json={"session_id": sid, "message": "more", "user_id": "u5"}, headers=auth)
    assert r.status_code == 200 and r.json()["understood"]["user_id"] == "u5"
    r = api.post("/api/chat", json={"session_id": sid, "message": "more", "user_id": None}, headers=auth)
    assert r.status_code == 200 and r.json()["understood"]["user_id"] is None


def test_a_token_without_its_user_id_is_400(api):
    r = api.post("/api/sessions", json={"user_token": USERS.issue("u5")})
    assert r.status_code == 400 and "send both" in r.json()["error"]


def test_without_a_secret_every_user_id_is_refused_and_anonymous_sessions_work():
    api = TestClient(create_app(ChatService(tiny_bot(k=3))), raise_server_exceptions=False)
    for body in ({"user_id": "u5"}, {"user_id": "u5", "user_token": USERS.issue("u5")}, {"user_id": "ghost"}):
        r = api.post("/api/sessions", json=body)
        assert r.status_code == 403 and r.json() == {"error": NO_SECRET}  # the same words: no id is told apart
        assert "--user-secret-file" in NO_SECRET
    assert api.post("/api/sessions", json={}).status_code == 201
    assert api.post("/api/chat", json={"message": "a funny cartoon", "user_id": None}).status_code == 200


def test_the_command_writes_a_secret_and_issues_tokens_the_server_accepts(tmp_path, capsys):
    secret = tmp_path / "user-secret"
    assert launch.main(["user-token", "--new-secret", str(secret)]) == 0
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text().strip()) == 64
    assert main(["--new-secret", str(secret)]) == 2  # never overwrites: that would revoke every token
    assert "exists" in capsys.readouterr().err
    assert launch.main(["user-token", "--user", "u5", "--secret-file", str(secret), "--hours", "1"]) == 0
    token = capsys.readouterr().out.strip()
    load_secret(secret).check("u5", token)
    served = TestClient(create_app(ChatService(tiny_bot(k=3)), users=load_secret(secret)))
    r = served.post("/api/sessions", json={"user_id": "u5", "user_token": token})
    assert r.status_code == 201 and r.json()["user_id"] == "u5"


def test_launch_reads_the_secret_flag_and_guards_demo_users(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVREC_USER_SECRET_FILE", str(tmp_path / "s"))
    assert launch.parse_args([]).user_secret_file == tmp_path / "s"
    assert launch.parse_args(["--demo-users"]).demo_users  # on 127.0.0.1: allowed
    with pytest.raises(SystemExit):
        launch.parse_args(["--demo-users", "--host", "0.0.0.0"])  # public without --auth: refused
    assert launch.parse_args(["--demo-users", "--host", "0.0.0.0", "--auth", "a:b"]).demo_users
