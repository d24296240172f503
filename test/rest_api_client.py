#!/usr/bin/env python3
"""An independent client of the REST API for test/rest_api_test.sh: Python's urllib only.

Usage: rest_api_client.py BASE_URL [--cafile FILE] SCENARIO ARGS...

Scenarios (each prints one "ok ..." line per check and exits non-zero on the first failure):
  lifecycle TOKEN        create (201), list, get, stop (PATCH checkpoint), start (PATCH none),
                         drop (204), then 404; a bad query (400 with message and SQLSTATE)
  denied TOKEN           403 for a role without SELECT on the source, 401 without / with a
                         wrong token
  concurrent TOKEN N     N requests at once on N threads: N/2 creates of bounded pipelines
                         u_0.. and N/2 lists; all answered with their exact statuses
  preview TOKEN          Server-Sent Events of POST /pipelines/preview: a bounded query's rows
                         then "end" (ended); max_rows; a runtime error event; and, while a
                         long preview streams, another request answered at once, then the
                         stream closed by the client
  get TOKEN PATH         prints the status and the body (for the shell test's own checks)
"""
import json
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

BASE = sys.argv[1]
ARGS = sys.argv[2:]
CONTEXT = None
if ARGS[:1] == ["--cafile"]:
    CONTEXT = ssl.create_default_context(cafile=ARGS[1])
    ARGS = ARGS[2:]


def call(method, path, token=None, body=None):
    """Returns (status, parsed JSON body or None, headers)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=CONTEXT, timeout=60) as resp:
            raw = resp.read()
            status, headers = resp.status, resp.headers
    except urllib.error.HTTPError as e:
        raw = e.read()
        status, headers = e.code, e.headers
    return status, (json.loads(raw) if raw else None), headers


def expect(what, expected, actual):
    if expected != actual:
        sys.exit(f"FAIL {what}: expected {expected!r}, got {actual!r}")
    print(f"ok {what}")


def lifecycle(token):
    name = "py_life"
    status, body, _ = call("POST", "/pipelines", token, {
        "name": name, "parallelism": 1,
        "query": "INSERT INTO py_out SELECT counter FROM slow_ticks"})
    expect("create status", 201, status)
    expect("create state", "running", body["state"])
    expect("create query", "INSERT INTO py_out SELECT counter FROM slow_ticks", body["query"])
    status, body, _ = call("GET", "/pipelines", token)
    expect("list status", 200, status)
    expect("list names", [name], [p["name"] for p in body["data"] if p["name"].startswith("py_")])
    expect("list has_more", False, body["has_more"])
    status, body, _ = call("GET", "/pipelines/" + name, token)
    expect("get", (200, name, "alice"), (status, body["name"], body["owner"]))
    status, body, _ = call("PATCH", "/pipelines/" + name, token, {"stop": "checkpoint"})
    expect("stop", (200, "stopped"), (status, body["state"]))
    status, body, _ = call("PATCH", "/pipelines/" + name, token, {"stop": "none"})
    expect("start", (200, "running"), (status, body["state"]))
    status, body, _ = call("PATCH", "/pipelines/" + name, token, {"stop": "immediate"})
    expect("stop immediate", (200, "stopped"), (status, body["state"]))
    status, body, _ = call("DELETE", "/pipelines/" + name, token)
    expect("drop", (204, None), (status, body))
    status, body, _ = call("GET", "/pipelines/" + name, token)
    expect("get dropped", (404, "42704", f'pipeline "{name}" does not exist'),
           (status, body["sqlstate"], body["error"]))
    status, body, _ = call("POST", "/pipelines", token, {
        "name": "py_bad", "query": "INSERT INTO py_out SELECT counter FROM missing"})
    expect("bad query", (400, "42P01", 'relation "missing" does not exist'),
           (status, body["sqlstate"], body["error"]))
    status, body, _ = call("GET", "/pipelines/py_bad", token)
    expect("bad query created nothing", 404, status)


def denied(token):
    status, body, _ = call("POST", "/pipelines", token, {
        "name": "py_denied", "query": "INSERT INTO py_out SELECT counter FROM slow_ticks"})
    expect("no privilege on the source", (403, "42501", "permission denied for foreign table slow_ticks"),
           (status, body["sqlstate"], body["error"]))
    status, body, headers = call("GET", "/pipelines")
    expect("no token", (401, "28000", "a bearer token is required"),
           (status, body["sqlstate"], body["error"]))
    expect("no token: WWW-Authenticate", 'Bearer realm="arroyo_stream"', headers["WWW-Authenticate"])
    status, body, _ = call("GET", "/pipelines", token + "x")
    expect("wrong token", (401, "28000", "invalid bearer token"),
           (status, body["sqlstate"], body["error"]))


def concurrent(token, n):
    results = [None] * n

    def work(i):
        try:
            if i % 2 == 0:
                results[i] = call("POST", "/pipelines", token, {
                    "name": f"u_{i}",
                    "query": f"INSERT INTO conc SELECT 'u_{i}', counter FROM ticks"})[0]
            else:
                results[i] = call("GET", "/pipelines", token)[0]
        except Exception as e:  # a connection error is a failure too
            results[i] = repr(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expect(f"{n} concurrent requests", [201 if i % 2 == 0 else 200 for i in range(n)], results)


def open_preview(token, body):
    req = urllib.request.Request(BASE + "/pipelines/preview", data=json.dumps(body).encode(),
                                 method="POST")
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    return urllib.request.urlopen(req, context=CONTEXT, timeout=30)


def sse_events(resp, limit=None):
    """Yields (event, parsed data) from a Server-Sent Events response."""
    name, data = None, []
    for raw in resp:
        line = raw.decode().rstrip("\n")
        if line == "":
            if name is not None:
                yield name, json.loads("\n".join(data))
            name, data = None, []
        elif line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])


def preview(token):
    with open_preview(token, {"query": "SELECT counter, counter * 10 AS tenfold FROM ticks "
                                       "WHERE counter < 4"}) as resp:
        expect("preview content type", "text/event-stream", resp.headers["Content-Type"])
        events = list(sse_events(resp))
    expect("preview of a bounded query",
           [("row", {"op": "insert", "row": {"counter": i, "tenfold": 10 * i}}) for i in range(4)]
           + [("end", {"reason": "ended"})], events)
    with open_preview(token, {"query": "SELECT tumble(interval '10 seconds') AS w, count(*) AS n "
                                       "FROM ticks GROUP BY 1", "max_rows": 2}) as resp:
        events = list(sse_events(resp))
    expect("windowed preview, max_rows 2",
           [("row", {"op": "insert", "window_start": "2026-01-01 00:00:00+00",
                     "window_end": "2026-01-01 00:00:10+00",
                     "row": {"w": '["2026-01-01 00:00:00+00","2026-01-01 00:00:10+00")', "n": 10}}),
            ("row", {"op": "insert", "window_start": "2026-01-01 00:00:10+00",
                     "window_end": "2026-01-01 00:00:20+00",
                     "row": {"w": '["2026-01-01 00:00:10+00","2026-01-01 00:00:20+00")', "n": 10}}),
            ("end", {"reason": "max_rows"})], events)
    with open_preview(token, {"query": "SELECT 1 / (counter - 2) AS q FROM ticks"}) as resp:
        events = list(sse_events(resp))
    expect("a runtime error ends the stream with it",
           ("error", {"error": "division by zero", "sqlstate": "22012"}), events[-1])
    # A long preview streams while another request is answered; then the client leaves.
    resp = open_preview(token, {"query": "SELECT counter FROM slow_ticks", "max_rows": 100000,
                                "timeout_micros": 600000000})
    first = next(sse_events(resp))
    expect("long preview: first row", ("row", {"op": "insert", "row": {"counter": 0}}), first)
    status, _, _ = call("GET", "/pipelines", token)
    expect("another request answered while the preview streams", 200, status)
    second = next(sse_events(resp))
    expect("long preview: still streaming", "row", second[0])
    resp.close()


def main():
    scenario = ARGS[0]
    if scenario == "lifecycle":
        lifecycle(ARGS[1])
    elif scenario == "denied":
        denied(ARGS[1])
    elif scenario == "concurrent":
        concurrent(ARGS[1], int(ARGS[2]))
    elif scenario == "preview":
        preview(ARGS[1])
    elif scenario == "get":
        status, body, _ = call("GET", ARGS[2], ARGS[1])
        print(status, json.dumps(body, sort_keys=True))
    else:
        sys.exit("unknown scenario " + scenario)


main()
