#!/usr/bin/env python3
"""An independent NATS client for the nats connector's tests and benchmark: the NATS text
protocol (INFO/CONNECT/PUB/HPUB/SUB/MSG/HMSG/PING) over a socket, with Python's standard library
only, and JetStream through its JSON API subjects. It shares no code with the connector.

  nats_client.py --port P ready                         exit 0 once the server answers PING
  nats_client.py --port P pub SUBJECT N [--start K] [--template T] [--js] [--raw TEXT]
        publish N messages (T % i for i in K..K+N-1, default '{"id": %d}'); --js waits for
        every JetStream acknowledgement; --raw publishes TEXT once instead
  nats_client.py --port P sub SUBJECT N --out FILE [--timeout S]
        subscribe; write "subscribed" to FILE.ready, then every payload as a line to FILE
        until N arrived (exit 0) or S seconds passed (exit 1)
  nats_client.py --port P stream-create NAME SUBJECT [--duplicate-window SECONDS]
  nats_client.py --port P stream-info NAME                  prints "messages last_seq"
  nats_client.py --port P consume NAME N                    reads the stream's first N messages
                                                            through a pull consumer; prints N
  nats_client.py --port P stream-read NAME [--ids]          prints every stored payload (and
                                                            its Nats-Msg-Id header), in order
"""
import argparse
import base64
import json
import socket
import sys
import time


class Nats:
    def __init__(self, port, user=None, password=None, token=None, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.inbox = None
        self.buf = b""
        self.sid = 0
        line = self._line()
        if not line.startswith(b"INFO "):
            raise RuntimeError("expected INFO, got %r" % line)
        connect = {"verbose": False, "pedantic": False, "headers": True,
                   "no_responders": True, "lang": "python-test", "version": "0"}
        if user is not None:
            connect["user"], connect["pass"] = user, password
        if token is not None:
            connect["auth_token"] = token
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        while True:
            kind = self._line()
            if kind == b"PONG":
                break
            if kind.startswith(b"-ERR"):
                raise RuntimeError(kind.decode())

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def subscribe(self, subject):
        self.sid += 1
        self.sock.sendall(b"SUB %s %d\r\n" % (subject.encode(), self.sid))
        return self.sid

    def publish(self, subject, payload, reply=None, headers=None):
        r = b" " + reply.encode() if reply else b""
        if headers:
            h = b"NATS/1.0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode())
                                          for k, v in headers.items()) + b"\r\n"
            return b"HPUB %s%s %d %d\r\n%s%s\r\n" % (subject.encode(), r, len(h),
                                                     len(h) + len(payload), h, payload)
        return b"PUB %s%s %d\r\n%s\r\n" % (subject.encode(), r, len(payload), payload)

    def next_message(self):
        """(subject, reply, headers bytes, payload) of the next message; answers PINGs."""
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            if line in (b"PONG", b"+OK") or line.startswith(b"INFO "):
                continue
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())
            parts = line.split(b" ")
            if parts[0] == b"MSG":
                reply = parts[3].decode() if len(parts) == 5 else None
                return parts[1].decode(), reply, b"", self._bytes(int(parts[-1]))
            if parts[0] == b"HMSG":
                reply = parts[3].decode() if len(parts) == 6 else None
                hlen, total = int(parts[-2]), int(parts[-1])
                data = self._bytes(total)
                return parts[1].decode(), reply, data[:hlen], data[hlen:]
            raise RuntimeError("unexpected line %r" % line)

    def request(self, subject, payload, timeout=10):
        if self.inbox is None:  # one subscription for every reply
            self.inbox = "_INBOX.test.%d" % time.monotonic_ns()
            self.subscribe(self.inbox + ".*")
        inbox = "%s.%d" % (self.inbox, time.monotonic_ns())
        self.sock.sendall(self.publish(subject, payload, reply=inbox))
        self.sock.settimeout(timeout)
        while True:
            subj, _, headers, data = self.next_message()
            if subj == inbox:
                if headers.startswith(b"NATS/1.0 503"):
                    raise RuntimeError("no responders for " + subject)
                return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--token")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ready")
    p = sub.add_parser("pub")
    p.add_argument("subject")
    p.add_argument("n", type=int)
    p.add_argument("--start", type=int, default=1)
    p.add_argument("--template", default='{"id": %d}')
    p.add_argument("--js", action="store_true")
    p.add_argument("--raw")
    p.add_argument("--file", help="publish each line of this file")
    s = sub.add_parser("sub")
    s.add_argument("subject")
    s.add_argument("n", type=int)
    s.add_argument("--out", required=True)
    s.add_argument("--timeout", type=float, default=60)
    c = sub.add_parser("stream-create")
    c.add_argument("name")
    c.add_argument("subject")
    c.add_argument("--duplicate-window", type=float, default=120)
    i = sub.add_parser("stream-info")
    i.add_argument("name")
    k = sub.add_parser("consume")
    k.add_argument("name")
    k.add_argument("n", type=int)
    r = sub.add_parser("stream-read")
    r.add_argument("name")
    r.add_argument("--ids", action="store_true")
    a = ap.parse_args()

    if a.cmd == "ready":
        try:
            Nats(a.port, a.user, a.password, a.token)
        except (OSError, RuntimeError):
            return 1
        return 0
    nc = Nats(a.port, a.user, a.password, a.token)
    if a.cmd == "pub":
        if a.raw is not None:
            payloads = [a.raw.encode()]
        elif a.file:
            with open(a.file, "rb") as f:
                payloads = [line.rstrip(b"\n") for line in f]
        else:
            payloads = [(a.template % i).encode() for i in range(a.start, a.start + a.n)]
        inbox = "_INBOX.pub.%d" % time.monotonic_ns()
        if a.js:
            nc.subscribe(inbox + ".*")
        out = []
        acked = 0
        nc.sock.settimeout(30)

        def read_acks(until):
            nonlocal acked
            while acked < until:
                _, _, _, data = nc.next_message()
                reply = json.loads(data)
                if "error" in reply:
                    raise RuntimeError("publish refused: %s" % reply["error"])
                acked += 1

        for k, payload in enumerate(payloads):
            out.append(nc.publish(a.subject, payload, reply=inbox + ".%d" % k if a.js else None))
            if len(out) >= 1000:
                nc.sock.sendall(b"".join(out))
                out = []
                if a.js:  # at most 2000 acknowledgements outstanding
                    read_acks(k + 1 - 1000)
        out.append(b"PING\r\n")
        nc.sock.sendall(b"".join(out))
        if a.js:
            read_acks(len(payloads))
        if not a.js:  # the PONG after our PUBs: the server has them all
            while nc._line() != b"PONG":
                pass
        return 0
    if a.cmd == "sub":
        nc.subscribe(a.subject)
        nc.sock.sendall(b"PING\r\n")
        while nc._line() != b"PONG":
            pass
        with open(a.out + ".ready", "w") as f:
            f.write("subscribed\n")
        got = 0
        deadline = time.monotonic() + a.timeout
        with open(a.out, "wb", buffering=0) as f:
            while got < a.n:
                nc.sock.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    _, _, _, data = nc.next_message()
                except socket.timeout:
                    return 1
                f.write(data + b"\n")
                got += 1
        return 0
    if a.cmd == "stream-create":
        config = {"name": a.name, "subjects": [a.subject], "storage": "file",
                  "duplicate_window": int(a.duplicate_window * 1e9)}
        reply = json.loads(nc.request("$JS.API.STREAM.CREATE." + a.name,
                                      json.dumps(config).encode()))
        if "error" in reply:
            print(reply["error"], file=sys.stderr)
            return 1
        return 0
    if a.cmd == "stream-info":
        reply = json.loads(nc.request("$JS.API.STREAM.INFO." + a.name, b""))
        if "error" in reply:
            print(reply["error"], file=sys.stderr)
            return 1
        print(reply["state"]["messages"], reply["state"]["last_seq"])
        return 0
    if a.cmd == "consume":
        config = {"stream_name": a.name,
                  "config": {"deliver_policy": "all", "ack_policy": "all",
                             "max_ack_pending": -1, "inactive_threshold": 60 * 10**9}}
        reply = json.loads(nc.request("$JS.API.CONSUMER.CREATE." + a.name,
                                      json.dumps(config).encode()))
        if "error" in reply:
            print(reply["error"], file=sys.stderr)
            return 1
        nxt = "$JS.API.CONSUMER.MSG.NEXT.%s.%s" % (a.name, reply["name"])
        inbox = "_INBOX.consume.%d" % time.monotonic_ns()
        nc.subscribe(inbox)
        got = 0
        nc.sock.settimeout(30)
        while got < a.n:
            want = min(1000, a.n - got)
            nc.sock.sendall(nc.publish(nxt, json.dumps({"batch": want, "expires": 10**9}).encode(),
                                       reply=inbox))
            last = None
            for _ in range(want):
                _, reply_to, headers, _ = nc.next_message()
                if not reply_to:  # a status (408 request timeout, ...): ask again
                    break
                last = reply_to
                got += 1
            if last:
                nc.sock.sendall(nc.publish(last, b"+ACK"))
        print(got)
        return 0
    if a.cmd == "stream-read":
        info = json.loads(nc.request("$JS.API.STREAM.INFO." + a.name, b""))
        first, last = info["state"]["first_seq"], info["state"]["last_seq"]
        for seq in range(first, last + 1 if last else first):
            reply = json.loads(nc.request("$JS.API.STREAM.MSG.GET." + a.name,
                                          json.dumps({"seq": seq}).encode()))
            if "error" in reply:
                continue  # deleted
            m = reply["message"]
            data = base64.b64decode(m.get("data", "")).decode()
            if a.ids:
                hdrs = base64.b64decode(m.get("hdrs", "")).decode()
                ids = [h.split(":", 1)[1].strip() for h in hdrs.split("\r\n")
                       if h.lower().startswith("nats-msg-id:")]
                print("%s|%s" % (data, ids[0] if ids else ""))
            else:
                print(data)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
