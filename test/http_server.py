#!/usr/bin/env python3
"""The peer of test/http_connectors_test.sh: one threaded http.server on loopback serving

  GET  /sse/ticks    Server-Sent Events: the ticks added so far (POST /control/ticks?add=N),
                     then new ones as they are added; honours Last-Event-ID. Event i has id i,
                     type "other" when i % 5 == 0 (else "tick"), its JSON data on two data:
                     lines, a comment before it when i % 3 == 0, CR LF line ends when i % 4 == 0.
  GET  /sse/flaky    events 1..12 (all "tick"), closing the connection after every 3rd;
                     honours Last-Event-ID.
  GET  /sse/bad      event 1 valid, 2 not JSON, 3 with 300 bytes of data, 4 valid.
  GET  /sse/bench?n=N[&close=1]  events 1..N as fast as it can (for test/bench/sse.sql),
                     then holds the stream open (or closes it); honours Last-Event-ID.
  GET|POST /poll     the current poll body (POST /control/poll sets it).
  POST /hook         the webhook receiver: records each accepted body and its headers; answers
                     the status given by POST /control/hook?fail=N&status=S for the next N
                     requests (N = -1: all of them).
  GET  /control/hook/rows     every row received (the accepted arrays, concatenated), as JSON
  GET  /control/hook/headers  the headers of the last accepted POST, as JSON
  GET  /control/stats         counters, as JSON

Every request is logged to --log, one line each; "ready" once listening.
"""
import argparse
import errno
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

lock = threading.Condition()
ticks = 0  # events 1..ticks exist
poll_body = b'{"v": 1}'
polls = 0
hook_rows = []
hook_headers = {}
hook_posts = 0
hook_fail = 0
hook_fail_status = 500
log_file = None


def log(line):
    with lock:
        log_file.write(line + "\n")
        log_file.flush()


def tick_event(i):
    end = "\r\n" if i % 4 == 0 else "\n"
    lines = []
    if i % 3 == 0:
        lines.append(": comment before %d" % i)
    lines += ["id: %d" % i, "event: %s" % ("other" if i % 5 == 0 else "tick"),
              'data: {"id": %d,' % i, 'data:  "name": "t%d"}' % i, ""]
    return end.join(lines).encode() + end.encode()


def simple_event(i, data):
    return ("id: %d\ndata: %s\n\n" % (i, data)).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def last_id(self):
        value = self.headers.get("Last-Event-ID")
        return value, int(value) if value and value.isdigit() else 0

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

    def send(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        global ticks, poll_body, polls, hook_posts, hook_fail, hook_fail_status, hook_headers
        url = urlparse(self.path)
        args = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        try:
            if path == "/sse/ticks":
                raw, after = self.last_id()
                log("sse /ticks last-event-id=%s" % (raw if raw is not None else "-"))
                self.start_stream()
                self.send(b"retry: 100\n\n")
                sent = after
                beat = time.monotonic()
                while True:
                    with lock:
                        lock.wait_for(lambda: ticks > sent, timeout=0.5)
                        upto = ticks
                    while sent < upto:
                        sent += 1
                        self.send(tick_event(sent))
                    if time.monotonic() - beat >= 0.5:
                        self.send(b": heartbeat\n")
                        beat = time.monotonic()
            elif path == "/sse/flaky":
                raw, after = self.last_id()
                log("sse /flaky last-event-id=%s" % (raw if raw is not None else "-"))
                self.start_stream()
                self.send(b"retry: 50\n\n")
                for i in range(after + 1, min(after + 3, 12) + 1):
                    self.send(simple_event(i, '{"id": %d, "name": "f%d"}' % (i, i)))
                if after + 3 >= 12:
                    while True:
                        time.sleep(0.5)
                        self.send(b": idle\n")
            elif path == "/sse/bad":
                raw, after = self.last_id()
                log("sse /bad last-event-id=%s" % (raw if raw is not None else "-"))
                self.start_stream()
                events = [simple_event(1, '{"id": 1, "name": "a"}'),
                          simple_event(2, "not json"),
                          simple_event(3, '{"id": 3, "name": "%s"}' % ("x" * 280)),
                          simple_event(4, '{"id": 4, "name": "d"}')]
                for e in events[after:]:
                    self.send(e)
                while True:
                    time.sleep(0.5)
                    self.send(b": idle\n")
            elif path == "/sse/bench":
                raw, after = self.last_id()
                log("sse /bench last-event-id=%s" % (raw if raw is not None else "-"))
                n = int(args.get("n", "0"))
                self.start_stream()
                i = after
                while i < n:
                    upto = min(i + 1000, n)
                    self.wfile.write("".join(
                        'id: %d\ndata: {"id": %d, "name": "b%d", "price": %d.25}\n\n' % (k, k, k, k % 1000)
                        for k in range(i + 1, upto + 1)).encode())
                    i = upto
                self.wfile.flush()
                while args.get("close") != "1":
                    time.sleep(0.5)
                    self.send(b": idle\n")
            elif path == "/poll":
                sent = self.body()
                with lock:
                    polls += 1
                    body = poll_body
                log("poll %s body=%s x-table=%s authorization=%s" % (
                    method, sent.decode() or "-", self.headers.get("X-Table", "-"),
                    self.headers.get("Authorization", "-")))
                self.reply(200, body)
            elif path == "/hook" and method == "POST":
                sent = self.body()
                with lock:
                    hook_posts += 1
                    fail = hook_fail != 0
                    if hook_fail > 0:
                        hook_fail -= 1
                    status = hook_fail_status
                if fail:
                    log("hook POST answered %d" % status)
                    self.reply(status, b'{"error": "told to fail"}')
                    return
                rows = json.loads(sent)
                with lock:
                    hook_rows.extend(rows)
                    hook_headers = {k.lower(): v for k, v in self.headers.items()}
                log("hook POST accepted %d rows" % len(rows))
                self.reply(200, b"{}")
            elif path == "/control/ticks":
                with lock:
                    ticks += int(args.get("add", "0"))
                    lock.notify_all()
                self.reply(200, json.dumps({"ticks": ticks}).encode())
            elif path == "/control/poll":
                with lock:
                    poll_body = self.body()
                self.reply(200, b"{}")
            elif path == "/control/hook":
                with lock:
                    hook_fail = int(args.get("fail", "0"))
                    hook_fail_status = int(args.get("status", "500"))
                self.reply(200, b"{}")
            elif path == "/control/hook/rows":
                with lock:
                    self.reply(200, json.dumps(hook_rows).encode())
            elif path == "/control/hook/headers":
                with lock:
                    self.reply(200, json.dumps(hook_headers, sort_keys=True).encode())
            elif path == "/control/stats":
                with lock:
                    stats = {"polls": polls, "hook_posts": hook_posts, "ticks": ticks}
                self.reply(200, json.dumps(stats).encode())
            else:
                self.reply(404, b'{"error": "no such path"}')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away


def main():
    global log_file
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    a = p.parse_args()
    log_file = open(a.log, "a")
    # The test ports lie in the kernel's ephemeral range: another program's client socket may
    # hold this one for a while on a busy machine, so the bind is retried for up to 20 s.
    for attempt in range(40):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
            break
        except OSError as e:
            if e.errno != errno.EADDRINUSE or attempt == 39:
                raise
            time.sleep(0.5)
    server.daemon_threads = True
    log("ready")
    server.serve_forever()


if __name__ == "__main__":
    main()
