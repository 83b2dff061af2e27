"""Hostile registrations and launch references, as a runner who writes the JSON by hand would
send them: a spec whose constant names a path of the server's disk, a file named so that a
worker would write it outside its scratch folder."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

pytestmark = pytest.mark.integration


def _register(client: Any, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{client.url}/api/v1/projects/{client.project}/entities", json=body, timeout=60
    )


def test_a_registered_spec_cannot_name_a_blob_on_the_servers_disk(
    client: Any, flow: Any, flow_dir: Path, tmp_path: Path
) -> None:
    """On main the server registered such a spec, and a launch that took the default made
    ``GET .../values/{hash}`` answer the bytes of any file the server process could read
    (its database, ``/proc/self/environ`` with the secrets key)."""
    import airfoil as af

    secret = tmp_path / "server-only.txt"
    secret.write_text("bytes of the server's own disk")
    pkg = client.upload_package(str(flow_dir)).sha256
    forged = {"hash": "ab" * 32, "format": "json", "uri": f"file://{secret}", "size": 30}

    wf = msgspec.to_builtins(flow.wf.spec)
    wf["interface"]["inputs"][0]["default"] = forged  # x: int = 3, now a path
    entity = {"kind": "workflow", "name": wf["name"], "version": wf["version"], "spec": wf}
    r = _register(client, {"package": pkg, "entities": [entity]})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input"
    assert "interface.inputs[0].default names a blob" in err["message"], err
    # nothing was registered, so nothing can be launched to read it
    r = httpx.post(
        f"{client.url}/api/v1/projects/{client.project}/domains/development/executions",
        json={"entity": wf["name"]},
        timeout=60,
    )
    assert r.status_code == 404, r.text

    task = msgspec.to_builtins(flow.double.spec)
    task["interface"]["inputs"][0]["default"] = forged
    task["interface"]["inputs"][0]["has_default"] = True
    entity = {"kind": "task", "name": task["name"], "version": task["version"], "spec": task}
    r = _register(client, {"package": pkg, "entities": [entity]})
    assert r.status_code == 422 and "names a blob" in r.text, r.text

    plan = af.LaunchPlan(flow.wf, name="forged_plan", default_inputs={"x": 5})
    spec = msgspec.to_builtins(plan.spec)
    spec["default_inputs"]["x"] = forged
    wf = msgspec.to_builtins(flow.wf.spec)
    entity = {"kind": "workflow", "name": wf["name"], "version": wf["version"], "spec": wf}
    body = {
        "package": pkg,
        "entities": [entity],
        "launch_plans": [{"name": "forged_plan", "spec": spec}],
    }
    r = _register(client, body)
    assert r.status_code == 422, r.text
    assert "launch plan 'forged_plan'" in r.text and "names a blob" in r.text, r.text
    # the honest registration of the same entities still works
    client.register([flow.wf, flow.double, plan])


@pytest.mark.parametrize("bad_name", ["../../escaped.txt", "/tmp/airfoil-escaped.txt", "..", ""])
def test_a_file_reference_named_like_a_path_is_refused(
    client: Any, flow: Any, bad_name: str
) -> None:
    """On main the server stored the reference (its hash covers the name, which the sender
    computes), and the worker reading the input wrote the file at
    ``os.path.join(scratch, hash, name)``: outside its scratch folder, anywhere it may write."""
    from airfoil.core.errors import InvalidInputError
    from airfoil.types._files import file_value_hash

    client.register([flow.file_text])
    data = b"bytes a worker must not write outside its scratch folder"
    sha = hashlib.sha256(data).hexdigest()
    httpx.put(
        f"{client.url}/api/v1/projects/{client.project}/uploads/{sha}", content=data, timeout=60
    ).raise_for_status()
    ref = {
        "$airfoil": {
            "format": "file",
            "hash": file_value_hash(bad_name, sha),
            "size": len(data),
            "sha256": sha,
            "meta": {"name": bad_name, "sha256": sha},
        }
    }
    with pytest.raises(InvalidInputError, match=r"the file's name .* (not a file name|separator)"):
        client.launch("flow.file_text", {"f": ref})
    good = {"$airfoil": {**ref["$airfoil"], "hash": file_value_hash("notes.txt", sha)}}
    good["$airfoil"]["meta"] = {"name": "notes.txt", "sha256": sha}
    done = client.wait(client.launch("flow.file_text", {"f": good}).id, timeout=60)
    assert done.phase == "succeeded", done.error
    assert [v.preview for v in done.outputs] == [data.decode()]


ESCAPE = "\x1b]0;owned\x1b\\\x1b[2J"  # set the terminal's title, clear the screen


def test_names_and_labels_with_escape_sequences_are_refused(
    client: Any, flow: Any, flow_dir: Path
) -> None:
    """On main a runner could register a workflow whose name, node ids or input names held
    escape sequences, or launch with such labels: ``airfoil executions list/show --remote``
    (rich tables pass ESC through) printed them into every viewer's terminal."""
    pkg = client.upload_package(str(flow_dir)).sha256
    wf = msgspec.to_builtins(flow.wf.spec)
    hostile = {**wf, "name": "flow.wf" + ESCAPE}
    entity = {"kind": "workflow", "name": hostile["name"], "version": wf["version"]}
    r = _register(client, {"package": pkg, "entities": [{**entity, "spec": hostile}]})
    assert r.status_code == 422 and "control character" in r.text, r.text
    for field in ("id", "label"):
        nodes = [{**wf["nodes"][0], field: "n0" + ESCAPE}, *wf["nodes"][1:]]
        spec = {**wf, "nodes": nodes}
        entity = {"kind": "workflow", "name": wf["name"], "version": wf["version"], "spec": spec}
        r = _register(client, {"package": pkg, "entities": [entity]})
        assert r.status_code == 422, r.text
        assert f".nodes[0].{field} holds the control character \\\\x1b" in r.text, r.text
    client.register([flow.wf])
    url = f"{client.url}/api/v1/projects/{client.project}/domains/development/executions"
    for labels in ({"team": ESCAPE}, {"team\n": "ml"}):
        r = httpx.post(url, json={"entity": "flow.wf", "labels": labels}, timeout=60)
        assert r.status_code == 422 and "control character" in r.text, r.text
    ok = httpx.post(url, json={"entity": "flow.wf", "labels": {"team": "ml ☃"}}, timeout=60)
    assert ok.status_code == 201, ok.text


def test_an_oversized_json_body_is_refused_before_it_is_read(server: Any) -> None:
    """FastAPI reads and parses a route's JSON body before its dependencies check the key:
    on main a client with no key made the server hold and parse any body it sent (256 MiB:
    +771 MiB of the server's peak memory, then a 401). Now a 413 as the bytes pass 64 MiB,
    or at once when Content-Length says so; packages and uploads keep their own limits."""
    import socket
    from urllib.parse import urlsplit

    limit = 64 * 2**20  # airfoil.wire._limits.MAX_BODY
    url = server.url + "/api/v1/projects/alpha/domains/development/executions"
    json_type = {"Content-Type": "application/json"}

    def chunks() -> Any:
        yield b'{"entity": "'
        for _ in range(limit // 2**20 + 1):
            yield b"x" * 2**20
        yield b'"}'

    r = httpx.post(url, content=chunks(), headers=json_type, timeout=120)
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "too_large"
    assert f"limit of {limit} bytes" in r.json()["error"]["message"]
    # a Content-Length past the limit is answered before any of the body is sent
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=60) as sock:
        head = (
            f"POST {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n"
        )
        sock.sendall(head.encode())
        answer = _whole_answer(sock)
    assert answer.startswith("HTTP/1.1 413") and '"too_large"' in answer, answer[:300]
    # an upload past the JSON limit is read (and checked against its hash)
    data = b"u" * (limit + 1)
    r = httpx.put(server.url + "/api/v1/projects/alpha/uploads/" + "0" * 64, content=data)
    assert r.status_code == 422 and "SHA-256" in r.text, r.text[:300]


def _whole_answer(sock: Any) -> str:
    """An HTTP answer's head and its Content-Length of body, however the server's writes
    arrive (uvicorn writes the head and the body apart: one ``recv`` may hold the head alone)."""
    got = b""
    while b"\r\n\r\n" not in got or len(got.partition(b"\r\n\r\n")[2]) < _length(got):
        more = sock.recv(65536)
        if not more:
            break
        got += more
    return got.decode("latin-1")


def _length(got: bytes) -> int:
    for line in got.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.mark.parametrize(
    ("notification", "match"),
    [
        ({"kind": "webhook", "url": "file:///etc/hostname"}, "http(s) URL with a host"),
        ({"kind": "webhook", "url": "ftp://127.0.0.1/x"}, "http(s) URL with a host"),
        ({"kind": "webhook", "url": "https://h.example/x", "timeout_s": 1e9}, "at most 60"),
        ({"kind": "mail", "url": "https://h.example/x"}, "unknown notification kind"),
    ],
)
def test_a_registered_plan_cannot_make_the_server_open_other_urls(
    client: Any, flow: Any, flow_dir: Path, notification: dict[str, Any], match: str
) -> None:
    """af.Webhook refused a non-http(s) URL, but a spec sent as JSON was registered as sent:
    at the end of each run the server then called urlopen on a ``file://`` URL (opening a
    file of its disk) or an ``ftp://`` one, or waited on a webhook for up to 1e9 s."""
    r = _register_plan(client, flow, flow_dir, "hooked_plan", notifications=[notification])
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and "launch plan 'hooked_plan'" in err["message"], err
    assert match in err["message"], err


def _register_plan(
    client: Any, flow: Any, flow_dir: Path, name: str, **edits: Any
) -> httpx.Response:
    """Register ``flow.wf`` with a plan ``name`` whose spec, as JSON, has ``edits`` applied."""
    import airfoil as af

    pkg = client.upload_package(str(flow_dir)).sha256
    plan = af.LaunchPlan(flow.wf, name=name, default_inputs={"x": 5})
    spec = {**msgspec.to_builtins(plan.spec), **edits}
    wf = msgspec.to_builtins(flow.wf.spec)
    entity = {"kind": "workflow", "name": wf["name"], "version": wf["version"], "spec": wf}
    body = {"package": pkg, "entities": [entity], "launch_plans": [{"name": name, "spec": spec}]}
    return _register(client, body)


@pytest.mark.parametrize(
    ("schedule", "match"),
    [
        ({"type": "cron", "expression": "0 25 * * *"}, "invalid cron expression '0 25 * * *'"),
        ({"type": "cron", "expression": "every day"}, "invalid cron expression"),
        ({"type": "cron", "expression": "*/5 * * * * *"}, "six fields"),
        ({"type": "cron", "expression": "0 3 * * *", "timezone": "Mars/Olympus"}, "time zone"),
        ({"type": "fixed_rate", "interval_s": 0}, "between 1s and 100 years"),
        ({"type": "fixed_rate", "interval_s": -60}, "between 1s and 100 years"),
        ({"type": "fixed_rate", "interval_s": 8.64e13}, "between 1s and 100 years"),
        # af.FixedRate refuses under a second; main registered this one (and fired it twice
        # a second once activated): one rule, core.launch_plans.fixed_rate_problem
        ({"type": "fixed_rate", "interval_s": 0.5}, "must be between 1s and 100 years"),
        (
            {"type": "cron", "expression": "0 3 * * *", "kickoff_time_input_arg": "x"},
            "must name a datetime input",
        ),
        (
            {"type": "cron", "expression": "0 3 * * *", "kickoff_time_input_arg": "when"},
            "must name a datetime input",
        ),
    ],
)
def test_a_registered_plan_with_a_bad_schedule_is_refused(
    client: Any, flow: Any, flow_dir: Path, schedule: dict[str, Any], match: str
) -> None:
    """af.CronSchedule / af.FixedRate refuse these at definition, but a spec sent as JSON was
    registered as sent: the error came only when someone activated the schedule (or, for the
    kickoff input, each time it fired), long after the plan was registered and listed."""
    r = _register_plan(client, flow, flow_dir, "timed_plan", schedule=schedule)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and "launch plan 'timed_plan'" in err["message"], err
    assert match in err["message"], err
    assert [p.name for p in client.launch_plans().items] == [], "nothing was registered"
    # the same plan with a valid schedule registers
    valid = {"type": "cron", "expression": "0 3 * * *", "timezone": "Europe/Paris"}
    r = _register_plan(client, flow, flow_dir, "timed_plan", schedule=valid)
    assert r.status_code == 200, r.text


def _refused_default(client: Any, flow: Any, flow_dir: Path, forged: dict[str, Any]) -> str:
    """Register ``flow.wf`` with ``forged`` as its input's default: the refusal's message."""
    pkg = client.upload_package(str(flow_dir)).sha256
    wf = msgspec.to_builtins(flow.wf.spec)
    wf["interface"]["inputs"][0]["default"] = forged
    entity = {"kind": "workflow", "name": wf["name"], "version": wf["version"], "spec": wf}
    r = _register(client, {"package": pkg, "entities": [entity]})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input", err
    return str(err["message"])


def test_a_registered_frame_default_claiming_another_frames_hash_is_refused(
    client: Any, flow: Any, flow_dir: Path
) -> None:
    """(adv23) A frame held inline (an input's default) whose hash is another frame's
    BLAKE3: inline bytes are never checked when read, and a cache key is made of the hash,
    so a run taking the default computed on its own bytes and left the result under the
    other frame's key (a later run on that frame was served it). Registered on main; now
    refused by name, and the same frame with its own hash still passes the check."""
    import pandas as pd

    from airfoil.core.errors import InvalidInputError
    from airfoil.server._registration import check_registered_spec
    from airfoil.store.blob import open_blob_store
    from airfoil.types import ValueContext, default_type_engine

    engine = default_type_engine()
    ctx = ValueContext(open_blob_store(str(flow_dir / ".frames")), offload_threshold=1 << 20)
    own = engine.to_value(pd.DataFrame({"a": [1, 2]}), pd.DataFrame, ctx)
    other = engine.to_value(pd.DataFrame({"a": [3, 4]}), pd.DataFrame, ctx)
    assert own.inline is not None and own.meta.get("digest") == "blake3"
    forged = msgspec.to_builtins(msgspec.structs.replace(own, hash=other.hash))

    message = _refused_default(client, flow, flow_dir, forged)
    assert "interface.inputs[0].default has a hash that is not its bytes' digest" in message
    check_registered_spec(own, "a frame")  # its own hash: taken
    unknown = msgspec.structs.replace(own, meta={**own.meta, "digest": "md5"})
    with pytest.raises(InvalidInputError, match="'md5'"):
        check_registered_spec(unknown, "a frame")


def test_a_registered_json_value_claiming_another_values_hash_is_refused(
    client: Any, flow: Any, flow_dir: Path
) -> None:
    """(adv26) An inline JSON value (a default, a launch plan's input) whose hash is another
    value's: only frames and arrays were checked, so on main the server registered it, and a
    run taking the default computed on 3 and cached the result under the key of 4. Refused
    now by where it is in the spec; the client's honest registration of the same entities
    (a default in the user's key order included: hashed canonically) still passes."""
    import airfoil as af
    from airfoil.server._registration import check_registered_spec
    from airfoil.types import ValueContext, default_type_engine

    engine, ctx = default_type_engine(), ValueContext.inline_only()
    three, four = (engine.to_value(n, int, ctx) for n in (3, 4))
    forged = {**msgspec.to_builtins(three), "hash": four.hash}
    message = _refused_default(client, flow, flow_dir, forged)  # x: int = 3, claiming 4
    assert (
        "the json value at .interface.inputs[0].default has a hash that is not its JSON "
        "content's" in message
    ), message
    assert "serialise it with Airfoil's type engine" in message, message

    r = _register_plan(client, flow, flow_dir, "lying_plan", default_inputs={"x": forged})
    assert r.status_code == 422, r.text
    assert "launch plan 'lying_plan'" in r.text and "not its JSON content's" in r.text, r.text

    user_ordered = engine.to_value({"zeta": 1, "alpha": 2}, dict[str, int], ctx)
    assert user_ordered.inline == b'{"zeta":1,"alpha":2}'  # its bytes' digest is not its hash
    check_registered_spec(user_ordered, "a dict default")
    client.register([flow.wf, af.LaunchPlan(flow.wf, name="lying_plan", default_inputs={"x": 5})])
