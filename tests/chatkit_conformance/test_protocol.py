"""ChatKit conformance, following §12 of the protocol reference: every JSON answer and every
SSE event is validated with `chatkit.types` (and must serialise back identically), and the
sequences, persistence, pagination, retry, stop-as-disconnect, attachments and errors are
checked over plain HTTP against the real server."""

import base64
import time

import httpx
import pytest

from chatkit import types as ck
from conftest import ATTACHMENT, ITEM, parse_events, text_input, validate


def create(server, text, user="alice"):
    events = server.stream({"type": "threads.create", "params": {"input": text_input(text)}}, user)
    return events[0]["thread"]["id"], events


def items(server, thread, user="alice", **params):
    page = server.json({"type": "items.list", "params": {"thread_id": thread, **params}}, user)
    validate(ck.Page[ck.ThreadItem], page)
    return page


def types_of(events):
    return [e["type"] for e in events]


# §12.1 transport and framing, §12.2 create / add_user_message


def test_create_sequence_and_persistence(server):
    thread, events = create(server, "add a task to buy milk")
    kinds = types_of(events)
    assert kinds[:3] == ["thread.created", "thread.item.done", "stream_options"]
    created = events[0]["thread"]
    assert "title" not in created
    assert created["status"] == {"type": "active"} and created["metadata"] == {}
    assert created["items"] == {"data": [], "has_more": False}
    user = events[1]["item"]
    assert user["type"] == "user_message" and user["thread_id"] == thread
    assert user["content"] == [{"type": "input_text", "text": "add a task to buy milk"}]
    assert isinstance(events[2]["stream_options"]["allow_cancel"], bool)

    # The answer: added -> updated* -> done, one id, deltas add up to the final text.
    added = [e for e in events if e["type"] == "thread.item.added" and e["item"]["type"] == "assistant_message"]
    assert len(added) == 1
    answer_id = added[0]["item"]["id"]
    updates = [e["update"] for e in events if e["type"] == "thread.item.updated" and e["item_id"] == answer_id]
    assert updates[0]["type"] == "assistant_message.content_part.added"
    assert updates[-1]["type"] == "assistant_message.content_part.done"
    text = "".join(u["delta"] for u in updates if u["type"] == "assistant_message.content_part.text_delta")
    done = [e for e in events if e["type"] == "thread.item.done" and e["item"]["id"] == answer_id]
    assert done[0]["item"]["content"][0]["text"] == text == updates[-1]["content"]["text"]
    # Tools show as progress and a workflow item (done before the answer starts).
    assert "progress_update" in kinds
    wf_done = [e for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "workflow"]
    assert wf_done and wf_done[0]["item"]["workflow"]["tasks"][0]["status_indicator"] == "complete"
    assert events.index(wf_done[0]) < events.index(done[0])
    # The title arrives last.
    assert events[-1]["type"] == "thread.updated"
    assert events[-1]["thread"]["title"] == "add a task to buy milk"

    # Everything done is stored, in order, with the same ids and content.
    got = server.json({"type": "threads.get_by_id", "params": {"thread_id": thread}})
    validate(ck.Thread, got)
    stored = got["items"]["data"]
    done_items = [e["item"] for e in events if e["type"] == "thread.item.done"]
    assert stored == done_items
    listed = server.json({"type": "threads.list", "params": {}})
    validate(ck.Page[ck.Thread], listed)
    assert any(t["id"] == thread and t["title"] == "add a task to buy milk" for t in listed["data"])


def test_follow_up_with_tag_and_quote(server):
    thread, _ = create(server, "hello")
    body = {"type": "threads.add_user_message", "params": {"thread_id": thread, "input": {
        "content": [{"type": "input_text", "text": "tag "},
                    {"type": "input_tag", "id": "art_1", "text": "Article", "data": {"k": "v"}}],
        "attachments": [], "quoted_text": "quoted", "inference_options": {"model": "gpt-x", "tool_choice": {"id": "search"}}}}}
    events = server.stream(body)
    assert types_of(events)[:2] == ["thread.item.done", "stream_options"]
    assert "thread.created" not in types_of(events) and "thread.updated" not in types_of(events)
    item = events[0]["item"]
    assert item["content"][1] == {"type": "input_tag", "id": "art_1", "text": "Article", "data": {"k": "v"}, "interactive": False}
    assert item["quoted_text"] == "quoted"
    assert item["inference_options"] == {"model": "gpt-x", "tool_choice": {"id": "search"}}
    page = items(server, thread, order="asc")
    assert item in page["data"]
    ids = [i["id"] for i in page["data"]]
    assert len(ids) == len(set(ids))


def test_framing_and_json_content_types(server):
    r = server.post({"type": "threads.create", "params": {"input": text_input("hi")}})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    for line in r.text.split("\n"):
        assert line == "" or line.startswith("data: "), line
    r = server.post({"type": "threads.list", "params": {}})
    assert r.headers["content-type"].startswith("application/json")
    validate(ck.Page[ck.Thread], r.json())


def test_lenient_parsing(server):
    page = server.json({"type": "threads.list", "metadata": {"x": 1},
                        "params": {"limit": None, "order": None, "after": None, "unknown": 1}})
    validate(ck.Page[ck.Thread], page)
    events = server.stream({"type": "threads.create", "params": {"input": {
        "content": [{"type": "input_text", "text": "hi", "extra": 1}], "attachments": [],
        "quoted_text": None, "inference_options": {"model": None, "tool_choice": None}}}})
    assert events[1]["item"]["inference_options"] == {}
    # Content type is ignored.
    r = server.http.post("/api/chatkit", content=b'{"type":"threads.list","params":{}}',
                         headers={"Authorization": f"Bearer {server.token('alice')}", "Content-Type": "text/plain"})
    assert r.status_code == 200


# Errors are JSON before any stream (§2.6 recommendation, §12.1, §12.2.15, §12.3.23)


def test_errors_are_json_before_any_stream(server):
    thread, _ = create(server, "hello")
    assert server.error({"type": "threads.list", "params": {}}, 401, user=None)["code"] == "unauthorized"
    server.error(None, 401, user=None, raw=b"{")
    server.error(None, 400, raw=b"not json")
    server.error({"type": "threads.nope", "params": {}}, 400)
    server.error({"type": "threads.list"}, 400)
    server.error({"type": "threads.create", "params": {}}, 400)
    server.error({"type": "threads.create", "params": {"input": text_input("  ")}}, 400)
    server.error({"type": "items.list", "params": {"thread_id": thread, "order": "sideways"}}, 400)
    server.error({"type": "threads.get_by_id", "params": {"thread_id": "thr_missing"}}, 404)
    server.error({"type": "threads.add_user_message", "params": {"thread_id": "thr_missing", "input": text_input("x")}}, 404)
    server.error({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input("x")}}, 404, user="bob")
    server.error({"type": "items.list", "params": {"thread_id": thread, "after": "nope"}}, 400)
    server.error({"type": "threads.list", "params": {"after": "nope"}}, 400)


# §12.3 reading


def test_thread_list_pagination(binary):
    from conftest import Server
    s = Server()
    try:
        ids = [create(s, t)[0] for t in ("one", "two", "three")]
        p = s.json({"type": "threads.list", "params": {"limit": 2}})
        validate(ck.Page[ck.Thread], p)
        assert [t["id"] for t in p["data"]] == [ids[2], ids[1]]
        assert p["has_more"] is True and p["after"] == ids[1]
        assert all(t["items"] == {"data": [], "has_more": False} for t in p["data"])
        p = s.json({"type": "threads.list", "params": {"limit": 2, "after": ids[1]}})
        assert [t["id"] for t in p["data"]] == [ids[0]] and p["has_more"] is False and "after" not in p
        p = s.json({"type": "threads.list", "params": {"order": "asc"}})
        assert [t["id"] for t in p["data"]] == ids
    finally:
        s.close()


def test_item_pagination_both_orders(server):
    thread, _ = create(server, "hello")
    server.stream({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input("how are you")}})
    server.stream({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input("bye")}})
    everything = items(server, thread, order="asc", limit=100)["data"]
    assert len(everything) >= 5
    assert items(server, thread)["data"][0] == everything[-1], "default order is newest first"
    first = items(server, thread, order="asc", limit=2)
    assert first["data"] == everything[:2] and first["has_more"] and first["after"] == everything[1]["id"]
    for order, expect in (("asc", everything), ("desc", everything[::-1])):
        seen, after = [], None
        while True:
            page = items(server, thread, order=order, limit=2, after=after)
            seen += page["data"]
            if not page["has_more"]:
                assert "after" not in page
                break
            after = page["after"]
        assert seen == expect


def test_get_by_id_returns_oldest_twenty(server):
    thread, _ = create(server, "hello")
    for i in range(10):
        server.stream({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input(f"message {i}")}})
    everything = items(server, thread, order="asc", limit=100)["data"]
    assert len(everything) > 20
    got = server.json({"type": "threads.get_by_id", "params": {"thread_id": thread}})
    validate(ck.Thread, got)
    assert got["items"]["data"] == everything[:20]
    assert got["items"]["has_more"] is True and got["items"]["after"] == everything[19]["id"]


# §12.4 mutations


def test_update_delete_feedback(server):
    thread, events = create(server, "hello")
    t = server.json({"type": "threads.update", "params": {"thread_id": thread, "title": "Renamed"}})
    validate(ck.Thread, t)
    assert t["title"] == "Renamed" and t["items"] == {"data": [], "has_more": False}
    assert server.json({"type": "threads.get_by_id", "params": {"thread_id": thread}})["title"] == "Renamed"
    answer = [e["item"]["id"] for e in events if e["type"] == "thread.item.done"][-1]
    assert server.json({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [answer], "kind": "positive"}}) == {}
    server.error({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [answer], "kind": "meh"}}, 400)
    server.error({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": ["nope"], "kind": "negative"}}, 400)
    assert server.json({"type": "threads.delete", "params": {"thread_id": thread}}) == {}
    server.error({"type": "threads.get_by_id", "params": {"thread_id": thread}}, 404)
    assert thread not in [x["id"] for x in server.json({"type": "threads.list", "params": {"limit": 100}})["data"]]
    server.error({"type": "items.list", "params": {"thread_id": thread}}, 404)


# §12.5 retry


def test_retry_after_user_item(server):
    thread, first = create(server, "hello")
    second = server.stream({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input("show my tasks")}})
    u2 = second[0]["item"]["id"]
    before = items(server, thread, order="asc")["data"]
    a2 = before[-1]["id"]
    server.error({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": a2}}, 400)
    server.error({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": "missing"}}, 404)
    events = server.stream({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": u2}})
    assert events[0]["type"] == "stream_options"
    assert "thread.created" not in types_of(events) and "thread.item.removed" not in types_of(events)
    assert not any(e.get("item", {}).get("type") == "user_message" for e in events)
    new_answer = [e["item"] for e in events if e["type"] == "thread.item.done"][-1]
    after = items(server, thread, order="asc")["data"]
    kept = [i["id"] for i in before].index(u2) + 1
    assert [i["id"] for i in after[:kept]] == [i["id"] for i in before[:kept]]
    assert after[-1] == new_answer and a2 not in [i["id"] for i in after]


# §12.6 / §12.7 client tools and structured input: this server never leaves one pending.


def test_client_tool_output_and_structured_input_need_a_pending_item(server):
    thread, events = create(server, "hello")
    server.error({"type": "threads.add_client_tool_output", "params": {"thread_id": thread, "result": {"ok": True}}}, 400)
    user_item = events[1]["item"]["id"]
    server.error({"type": "threads.add_structured_input", "params": {"thread_id": thread, "item_id": user_item,
                  "input": {"status": "skipped"}}}, 400)
    server.error({"type": "threads.add_structured_input", "params": {"thread_id": thread, "item_id": "nope",
                  "input": {"status": "skipped"}}}, 404)


# §12.8 actions


def test_task_widget_actions(server):
    thread, events = create(server, "add a task to water the plants")
    widget = next(e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "widget")
    validate(ITEM, widget)
    complete = widget["widget"]["children"][0]["children"][1]["children"][0]["onClickAction"]
    assert complete["type"] == "task.complete"
    n = complete["payload"]["number"]
    got = server.stream({"type": "threads.custom_action", "params": {"thread_id": thread, "item_id": widget["id"],
                         "action": complete}})
    assert types_of(got) == ["stream_options", "thread.item.replaced", "thread.item.done"]
    assert got[1]["item"]["id"] == widget["id"]
    assert f"#{n}" in got[2]["item"]["content"][0]["text"]
    stored = items(server, thread, order="asc")["data"]
    assert got[1]["item"] in stored and stored[-1] == got[2]["item"]
    delete = got[1]["item"]["widget"]["children"][0]["children"][1]["children"][0]["onClickAction"]
    assert delete["type"] == "task.delete"
    resp = server.json({"type": "threads.sync_custom_action", "params": {"thread_id": thread, "item_id": widget["id"],
                        "action": {**delete, "streaming": False}}})
    validate(ck.SyncCustomActionResponse, resp)
    assert resp["updated_item"]["id"] == widget["id"]
    # Without an item the action still runs; an unknown one is a JSON error.
    assert server.json({"type": "threads.sync_custom_action", "params": {"thread_id": thread,
                        "action": {"type": "task.complete", "payload": {"number": 999}}}}) == {}
    server.error({"type": "threads.custom_action", "params": {"thread_id": thread, "action": {"type": "launch"}}}, 400)
    # An item that is not a widget: exactly one non-retryable error event.
    got = server.stream({"type": "threads.custom_action", "params": {"thread_id": thread, "item_id": events[1]["item"]["id"],
                         "action": {"type": "task.complete"}}})
    assert got == [{"type": "error", "code": "stream.error", "allow_retry": False}]


# §12.9 attachments and dictation


def test_attachments_two_phase_direct_and_delete(server):
    a = server.json({"type": "attachments.create", "params": {"name": "a.png", "size": 10, "mime_type": "image/png"}})
    validate(ATTACHMENT, a)
    assert a["type"] == "image" and "preview_url" in a and "metadata" not in a and "thread_id" not in a
    desc = a["upload_descriptor"]
    r = server.http.request(desc["method"], desc["url"], headers=desc["headers"], content=b"0123456789")
    assert r.status_code == 200, r.text
    uploaded = validate(ATTACHMENT, r.json())
    assert uploaded.upload_descriptor is None
    # Bytes are written once: the same URL again is 409.
    r = server.http.post(desc["url"], content=b"9876543210")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert httpx.get(a["preview_url"]).content == b"0123456789"
    # Multipart works too.
    m = server.json({"type": "attachments.create", "params": {"name": "m.png", "size": 10, "mime_type": "image/png"}})
    r = server.http.post(m["upload_descriptor"]["url"], files={"file": ("m.png", b"9876543210", "image/png")})
    assert r.status_code == 200, r.text
    assert httpx.get(m["preview_url"]).content == b"9876543210"

    events = server.stream({"type": "threads.create", "params": {"input": {
        "content": [{"type": "input_text", "text": "see this"}], "attachments": [a["id"]], "inference_options": {}}}})
    thread = events[0]["thread"]["id"]
    att = events[1]["item"]["attachments"][0]
    assert att["id"] == a["id"] and att["thread_id"] == thread
    server.error({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": {
        "content": [{"type": "input_text", "text": "x"}], "attachments": ["missing"], "inference_options": {}}}}, 404)
    # Bob can neither use nor delete it.
    server.error({"type": "attachments.delete", "params": {"attachment_id": a["id"]}}, 404, user="bob")
    assert server.json({"type": "attachments.delete", "params": {"attachment_id": a["id"]}}) == {}
    server.error({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": {
        "content": [{"type": "input_text", "text": "again"}], "attachments": [a["id"]], "inference_options": {}}}}, 404)
    assert httpx.get(a["preview_url"]).status_code == 404

    # Direct upload: multipart `file`, no upload_descriptor.
    r = server.http.post("/api/chatkit/attachments", files={"file": ("n.txt", b"hello", "text/plain")},
                         headers={"Authorization": f"Bearer {server.token('alice')}"})
    assert r.status_code == 200, r.text
    d = validate(ATTACHMENT, r.json())
    assert d.type == "file" and d.upload_descriptor is None

    # Limits: 413 and 415 as JSON.
    server.error({"type": "attachments.create", "params": {"name": "big.png", "size": 10_000_000, "mime_type": "image/png"}}, 413)
    server.error({"type": "attachments.create", "params": {"name": "x.exe", "size": 3, "mime_type": "application/x-msdownload"}}, 415)
    b = server.json({"type": "attachments.create", "params": {"name": "b.txt", "size": 3, "mime_type": "text/plain"}})
    r = httpx.post(b["upload_descriptor"]["url"], content=b"x" * 5000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_transcribe_errors_are_clear(server):
    err = server.error({"type": "input.transcribe", "params": {"audio_base64": base64.b64encode(b"\x00\x01").decode(),
                        "mime_type": "audio/webm;codecs=opus"}}, 503)
    assert "OPENAI_API_KEY" in err["message"]
    server.error({"type": "input.transcribe", "params": {"audio_base64": "%%%", "mime_type": "audio/webm"}}, 400)


# §12.10 cancellation and concurrency


def test_disconnect_cancels_and_keeps_the_partial_answer(slow_server):
    s = slow_server
    thread, _ = create(s, "hello")
    body = {"type": "threads.add_user_message", "params": {"thread_id": thread,
            "input": text_input("add a task to prepare the slides for the quarterly planning meeting")}}
    answer_id, buffer = None, ""
    with s.http.stream("POST", "/api/chatkit", json=body, headers={"Authorization": f"Bearer {s.token('alice')}"}) as r:
        assert r.status_code == 200
        for chunk in r.iter_text():
            buffer += chunk
            if buffer.count("text_delta") >= 2:
                break
    received = ""
    for e in parse_events(buffer[: buffer.rfind("\n\n") + 2]):
        if e["type"] == "thread.item.added" and e["item"]["type"] == "assistant_message":
            answer_id = e["item"]["id"]
        if e["type"] == "thread.item.updated" and e["update"]["type"].endswith("text_delta"):
            received += e["update"]["delta"]
    assert answer_id
    deadline = time.time() + 10
    while True:
        stored = items(s, thread, order="asc")["data"]
        partial = [i for i in stored if i["id"] == answer_id]
        if partial:
            break
        assert time.time() < deadline, "partial answer not stored"
        time.sleep(0.1)
    text = partial[0]["content"][0]["text"]
    # What was streamed is kept, and the answer stopped early (the full one is much longer).
    assert text.startswith(received) and received
    full = s.stream({"type": "threads.retry_after_item", "params": {"thread_id": thread,
                     "item_id": stored[[i["type"] for i in stored].index("user_message", 1)]["id"]}})
    full_text = [e for e in full if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"]
    assert len(text) < len(full_text[0]["item"]["content"][0]["text"])
    assert all(i["type"] not in ("hidden_context_item", "sdk_hidden_context") for i in stored)


def test_second_stream_on_a_busy_thread_is_refused(slow_server):
    s = slow_server
    thread, _ = create(s, "hello")
    body = {"type": "threads.add_user_message", "params": {"thread_id": thread,
            "input": text_input("add a task to book the train tickets for the family trip")}}
    with s.http.stream("POST", "/api/chatkit", json=body, headers={"Authorization": f"Bearer {s.token('alice')}"}) as r:
        assert r.status_code == 200
        err = s.error(body, 409)
        assert err["code"] == "thread_busy"
        events = parse_events(r.read().decode())
    assert events[-1]["type"] == "thread.item.done"


def test_isolation(server):
    thread, events = create(server, "add a task to feed the cat")
    item = events[1]["item"]["id"]
    for body in (
        {"type": "threads.get_by_id", "params": {"thread_id": thread}},
        {"type": "items.list", "params": {"thread_id": thread}},
        {"type": "threads.update", "params": {"thread_id": thread, "title": "x"}},
        {"type": "threads.delete", "params": {"thread_id": thread}},
        {"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": item}},
        {"type": "threads.custom_action", "params": {"thread_id": thread, "action": {"type": "task.delete", "payload": {"number": 1}}}},
        {"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [item], "kind": "positive"}},
    ):
        server.error(body, 404, user="bob")
    assert all(t["id"] != thread for t in server.json({"type": "threads.list", "params": {}}, user="bob")["data"])
    assert len(server.json({"type": "threads.get_by_id", "params": {"thread_id": thread}})["items"]["data"]) == 4


def test_health(server):
    r = httpx.get(f"{server.url}/api/chatkit/health")
    body = r.json()
    assert r.status_code == 200
    assert body["openai_key_configured"] is False and body["session_endpoint_available"] is False
    assert body["store_implemented"] is True and body["timestamp"].endswith("Z")
