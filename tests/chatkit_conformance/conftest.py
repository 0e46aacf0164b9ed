"""Fixtures: the already-built `target/debug/agentwire` on a free port with a temp SQLite
database and a known JWT secret, plus a client that validates every answer with the
reference SDK's own pydantic types (`chatkit.types`)."""

import json
import re
from datetime import datetime
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import TypeAdapter

from chatkit import types as ck

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "debug" / "agentwire"
SECRET = "chatkit-conformance-secret-0123456789abcdef"

EVENT = TypeAdapter(ck.ThreadStreamEvent)
ITEM = TypeAdapter(ck.ThreadItem)
ATTACHMENT = TypeAdapter(ck.Attachment)

# What each JSON request type answers.
ANSWER_TYPES = {
    "threads.get_by_id": ck.Thread,
    "threads.update": ck.Thread,
    "threads.list": ck.Page[ck.Thread],
    "items.list": ck.Page[ck.ThreadItem],
    "attachments.create": ATTACHMENT,
    "threads.sync_custom_action": ck.SyncCustomActionResponse,
    "input.transcribe": ck.TranscriptionResult,
}
EMPTY_ANSWERS = {"threads.delete", "items.feedback", "attachments.delete"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_no_nulls(value, path="$"):
    """The reference omits null-valued keys everywhere."""
    assert value is not None, f"null at {path}"
    if isinstance(value, dict):
        for k, v in value.items():
            assert_no_nulls(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_no_nulls(v, f"{path}[{i}]")


def times_parsed(value):
    """`created_at` values as datetimes: RFC 3339 allows `.619Z` and `.619000Z` alike."""
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v) if k == "created_at" and isinstance(v, str) else times_parsed(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [times_parsed(v) for v in value]
    return value


def without_in_progress_keys(value):
    """`value` less the two keys docs/chatkit.md adds to an answer still being written (an
    `assistant_message` item with `"status": "in_progress"` and `next_seq`, a count), after
    checking them: the SDK ignores them, and finished items never carry them."""
    if isinstance(value, list):
        return [without_in_progress_keys(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("type") == "assistant_message" and "status" in value:
        assert value["status"] == "in_progress", value
        assert isinstance(value.get("next_seq"), int) and value["next_seq"] >= 0, value
        value = {k: v for k, v in value.items() if k not in ("status", "next_seq")}
    else:
        assert "next_seq" not in value or value.get("type") != "assistant_message", value
    return {k: without_in_progress_keys(v) for k, v in value.items()}


def same_as_sdk(model, raw):
    """The SDK parses `raw` and, serialised its own way, gives `raw` back: no missing
    defaults, no unknown keys (but the documented two of an answer in progress), no renamed
    fields. Timestamps must be UTC."""
    dumped = json.loads(model.model_dump_json(exclude_none=True))
    ours = without_in_progress_keys(raw)
    assert times_parsed(dumped) == times_parsed(ours), f"\nours: {raw}\nsdk:  {dumped}"
    for t in re.findall(r'"created_at": ?"([^"]+)"', json.dumps(raw)):
        assert t.endswith("Z"), t


def validate(adapter_or_model, raw):
    assert_no_nulls(raw)
    if isinstance(adapter_or_model, TypeAdapter):
        model = adapter_or_model.validate_python(raw)
    else:
        model = adapter_or_model.model_validate(raw)
    same_as_sdk(model, raw)
    return model


class Server:
    def __init__(self, extra_env=None):
        self.dir = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            {
                "BIND_ADDR": f"127.0.0.1:{self.port}",
                "DATABASE_URL": f"sqlite://{self.dir.name}/chatkit.db",
                "JWT_SECRET_KEY": SECRET,
                "RATE_LIMIT_REQUESTS": "0",
                "LOG_FORMAT": "json",
                "RUST_LOG": "warn",
                "ATTACHMENT_MAX_BYTES": "4096",
            }
        )
        env.pop("OPENAI_API_KEY", None)
        env.update(extra_env or {})
        self.log = open(Path(self.dir.name) / "server.log", "wb")
        self.proc = subprocess.Popen(
            [str(BINARY)], env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir.name
        )
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, "server exited during start"
            assert time.time() < deadline, "server did not start"
            time.sleep(0.1)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def token(self, user: str) -> str:
        now = int(time.time())
        return jwt.encode({"sub": user, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")

    def post(self, body, user="alice", raw=None):
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        # A request refused before its body is read ends its connection (the body is left
        # unread), so such requests get a connection of their own rather than a pooled one.
        http = self.http if user else httpx.Client(base_url=self.url, timeout=30)
        try:
            if raw is not None:
                return http.post("/api/chatkit", content=raw, headers=headers)
            return http.post("/api/chatkit", json=body, headers=headers)
        finally:
            if http is not self.http:
                http.close()

    def json(self, body, user="alice", status=200):
        """A JSON answer, validated with the SDK type of its request type."""
        r = self.post(body, user)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/json")
        answer = r.json()
        kind = body["type"]
        if kind in EMPTY_ANSWERS:
            assert answer == {}, answer
        else:
            validate(ANSWER_TYPES[kind], answer)
        return answer

    def error(self, body, status, user="alice", raw=None):
        """A JSON error before any stream: `{"error": {"code", "message"}}`."""
        r = self.post(body, user, raw)
        assert r.status_code == status, (body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), r.headers
        err = r.json()["error"]
        assert isinstance(err["code"], str) and err["message"]
        return err

    def stream(self, body, user="alice"):
        """The decoded events, each validated as a `ThreadStreamEvent`."""
        r = self.post(body, user)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream")
        return parse_events(r.text)

    def close(self):
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.dir.cleanup()


def parse_events(body: str):
    """Splits a whole body at blank lines: every record is `data: <one-line JSON>`."""
    assert body.endswith("\n\n"), repr(body[-50:])
    events = []
    for record in body[:-2].split("\n\n"):
        assert record.startswith("data: "), repr(record)
        data = record[len("data: "):]
        assert "\n" not in data
        raw = json.loads(data)
        validate(EVENT, raw)
        events.append(raw)
    return events


@pytest.fixture(scope="session")
def binary():
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: run `cargo build` first")
    return BINARY


@pytest.fixture(scope="module")
def server(binary):
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def slow_server(binary):
    """Paces the offline agent's deltas so a client can hang up mid-answer."""
    s = Server({"OFFLINE_DELTA_DELAY_MS": "150"})
    yield s
    s.close()


def text_input(text):
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}
