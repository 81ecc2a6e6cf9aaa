"""Writes bad_requests.jsonl: the bad-input corpus of tests/test_bad_inputs.py.

`python -m tests.data.make_bad_requests` rewrites it (deterministic). Each line is one
request: method, path, headers, body (text with placeholders) or body_hex (raw bytes),
and which token to send. Placeholders: $SID (a live session's id), $OTHER (another live
session), $PAD (filled with `pad` characters 'x'). The corpus is data so that cases can
be added by hand, too.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("bad_requests.jsonl")
POSTS = {
    "/api/sessions": {"user_id": None, "participant_id": None},
    "/api/chat": {"session_id": "$SID", "message": "a funny cartoon", "user_id": None, "alpha": 0.5,
                  "participant_id": None},
    "/api/feedback": {"session_id": "$SID", "item_id": "m1", "kind": "like"},
    "/api/rate": {"session_id": "$SID", "rating": 3},
    "/api/reset": {"session_id": "$SID"},
}
GETS = ["/api/health", "/healthz", "/api/docs", "/api/openapi.json"]
OTHER_ROUTES = ["/", "/config", "/gradio_api/info", "/gradio_api/queue/join", "/gradio_api/upload",
                "/gradio_api/call/chat", "/api/unknown", "/api/chat/extra", "/api/../etc/passwd"]
VALUES = [None, True, False, 0, -1, 7, 1.5, float("1e308"), "", " ", "0.5", "true", "$PAD", [], {},
          ["m1"], {"a": 1}, "\u0000", "é\u202e", "<script>alert(1)</script>"]
RAW = [b"", b"null", b"[]", b"1", b'"text"', b"{", b"{}}", b'{"message": "x",}', b"\xff\xfe\xfd",
       b'{"message": "\xc3\x28"}', b"\xef\xbb\xbf{}", b"[" * 5000 + b"]" * 5000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
       b'{"message": NaN}', b'{"message": Infinity}', b'{"message": "a", "message": "b"}',
       b'{"session_id": "$SID", "message": "x"}' + b" " * 70_000, b"\x00" * 64]
METHODS = ["GET", "PUT", "DELETE", "PATCH", "POST", "OPTIONS"]


def case(name: str, method: str, path: str, body=None, body_hex=None, headers=None, token="valid", pad=0):
    return {"name": name, "method": method, "path": path, "headers": headers or {"content-type": "application/json"},
            "body": body, "body_hex": body_hex, "token": token, "pad": pad}


def cases() -> list[dict]:
    out = []
    for path in [*POSTS, *GETS, *OTHER_ROUTES]:
        for method in METHODS:
            out.append(case(f"{method} {path}", method, path))
    for path, base in POSTS.items():
        for i, raw in enumerate(RAW):
            out.append(case(f"raw body {i} to {path}", "POST", path, body_hex=raw.hex()))
        for field in base:
            for v in VALUES:
                body = {**base, field: v}
                out.append(case(f"{path} {field}={v!r}"[:120], "POST", path, json.dumps(body),
                                pad=100_000 if v == "$PAD" else 0))
            missing = {k: v for k, v in base.items() if k != field}
            out.append(case(f"{path} without {field}", "POST", path, json.dumps(missing)))
        out.append(case(f"{path} unknown key", "POST", path, json.dumps({**base, "extra": 1})))
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
            out.append(case(f"{path} as {ctype or 'no type'}", "POST", path, json.dumps(base),
                            headers={"content-type": ctype} if ctype else {}))
        if "session_id" in base:
            for token in ("none", "empty", "long", "other", "wrong"):
                out.append(case(f"{path} token {token}", "POST", path, json.dumps(base), token=token))
            out.append(case(f"{path} of another session", "POST", path,
                            json.dumps({**base, "session_id": "$OTHER"})))
    out.append(case("declared length over the cap", "POST", "/api/chat", json.dumps(POSTS["/api/chat"]),
                    headers={"content-type": "application/json", "content-length": "999999999"}))
    out.append(case("content-length not a number", "POST", "/api/chat", json.dumps(POSTS["/api/chat"]),
                    headers={"content-type": "application/json", "content-length": "lots"}))
    return out


if __name__ == "__main__":
    rows = cases()
    OUT.write_text("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows))
    print(f"wrote {len(rows)} cases to {OUT}")
