#!/usr/bin/python3
"""A scripted websocket server for test/websocket_test.sh and the websocket benchmark.

Run it with Debian's /usr/bin/python3 (python3-websockets). Each URL path is a scenario; the
server appends one line per event to --log ("<path> #<connection>: <event>"), so a test can
check what the client sent and how often it connected. It writes "ready" to the log once
every listener is up.

Scenarios:
  /coinbase        Coinbase's ticker channel: expects exactly the subscription message
                   SUBSCRIBE (else logs "BAD SUBSCRIPTION", sends Coinbase's error message and
                   closes with 1008), acknowledges it, sends TICKS with explicit times, then a
                   heartbeat far enough ahead to close every window, and stays open.
  /multi           expects the two messages of MULTI in order, then sends {"id": 1}.
  /reconnect       connection 1 sends ids 1-3 and closes (1001); connection 2 sends ids 4-6
                   and drops the TCP connection without a close frame; connection 3 sends
                   ids 7-9 and stays open. Each connection must subscribe first.
  /bad             a mix of good and bad messages (see BAD_SCRIPT), then stays open.
  /huge            sends {"id": 1}, HUGE (2 MiB and a bit) and {"id": 3}, then stays open.
  /refuse          sends Coinbase's subscription error and closes with 1008, every time.
  /flood?n=N&size=S  N messages {"seq": i, "pad": "x" * S} as fast as the client reads them;
                   the count sent so far is kept in <log>.flood.
  /bench?n=N       N Coinbase ticker messages, pre-framed and written straight to the socket
                   (the benchmark's source), then stays open.
  /ingest          sends {"id": 1} and {"id": 2} without waiting for a subscription.

--tls-port serves the same scenarios over TLS (--cert/--key); --silent-port accepts TCP
connections and never answers.
"""

import argparse
import asyncio
import errno
import json
import ssl
import struct
import sys
import urllib.parse

import websockets

SUBSCRIBE = {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}
MULTI = [{"type": "subscribe", "channels": ["a"]}, {"type": "subscribe", "channels": ["b"]}]

# (seconds after 2026-01-01 00:00:00 UTC, price); every one a BTC-USD ticker.
TICKS = [(1, "100.00"), (3, "102.00"), (7, "104.00"), (12, "110.00"), (62, "120.00")]
LAST_HEARTBEAT_SECOND = 180

connections = {}
log_file = None


def log(line):
    log_file.write(line + "\n")
    log_file.flush()


def coinbase_time(second):
    return "2026-01-01T00:%02d:%02d.000000Z" % (second // 60, second % 60)


def ticker(seq, second, price, product="BTC-USD"):
    return {
        "type": "ticker", "sequence": seq, "product_id": product, "price": price,
        "open_24h": "99.00", "volume_24h": "1234.5", "low_24h": "98.00", "high_24h": "121.00",
        "volume_30d": "98765.4", "best_bid": price, "best_bid_size": "0.5",
        "best_ask": price, "best_ask_size": "0.25", "side": "buy",
        "time": coinbase_time(second), "trade_id": 1000 + seq, "last_size": "0.01",
    }


def heartbeat(seq, second):
    return {"type": "heartbeat", "sequence": seq, "last_trade_id": 1000 + seq,
            "product_id": "BTC-USD", "time": coinbase_time(second)}


COINBASE_ERROR = {"type": "error", "message": "Failed to subscribe",
                  "reason": "BTC-XYZ is not a valid product"}


async def expect_subscription(ws, tag, expected):
    """Receives len(expected) messages and compares them (as JSON) with `expected`."""
    for i, want in enumerate(expected):
        try:
            got = await asyncio.wait_for(ws.recv(), timeout=10)
        except asyncio.TimeoutError:
            log(f"{tag}: BAD SUBSCRIPTION: none received")
            return False
        ok = isinstance(got, str)
        try:
            ok = ok and json.loads(got) == want
        except ValueError:
            ok = False
        if not ok:
            log(f"{tag}: BAD SUBSCRIPTION {i}: {got!r}")
            await ws.send(json.dumps(COINBASE_ERROR))
            await ws.close(1008, "unexpected subscription message")
            return False
        log(f"{tag}: subscription {i} ok")
    return True


async def scenario_coinbase(ws, tag):
    if not await expect_subscription(ws, tag, [SUBSCRIBE]):
        return
    await ws.send(json.dumps({"type": "subscriptions",
                              "channels": [{"name": "ticker", "product_ids": ["BTC-USD"]}]}))
    seq = 1
    for second, price in TICKS:
        await ws.send(json.dumps(ticker(seq, second, price)))
        seq += 1
        await ws.send(json.dumps(heartbeat(seq, second)))
        seq += 1
    await ws.send(json.dumps(heartbeat(seq, LAST_HEARTBEAT_SECOND)))
    log(f"{tag}: script sent")
    await ws.wait_closed()


async def scenario_multi(ws, tag):
    if await expect_subscription(ws, tag, MULTI):
        await ws.send(json.dumps({"id": 1}))
        await ws.wait_closed()


async def scenario_reconnect(ws, tag, n):
    if not await expect_subscription(ws, tag, [SUBSCRIBE]):
        return
    first = 3 * (n - 1) + 1
    for i in range(first, first + 3) if n <= 3 else []:
        await ws.send(json.dumps({"id": i}))
    if n == 1:
        await ws.close(1001, "going away")
        log(f"{tag}: closed")
    elif n == 2:
        await asyncio.sleep(0.2)  # let the messages leave before the connection is cut
        ws.transport.abort()
        log(f"{tag}: aborted")
    else:
        await ws.wait_closed()


# (kind, payload) for /bad: the test's table is (id int) with max_message_size 1 MiB.
BAD_SCRIPT = [
    ("text", '{"id": 1}'),
    ("text", "this is not JSON"),
    ("binary", b"\x00\xff\xfe\x01"),
    ("binary", b'{"id": 2}'),
    ("text", '{"id": 99, "pad": "' + "x" * (2 << 20) + '"}'),  # over max_message_size
    ("text", "[1, 2]"),
    ("text", '{"id": "three"}'),
    ("fragments", ['{"id"', ": ", "4}"]),
    ("text", '{"id": 5}'),
]


async def scenario_bad(ws, tag):
    for kind, payload in BAD_SCRIPT:
        await ws.send(payload)
    log(f"{tag}: script sent")
    await ws.wait_closed()


HUGE = '{"id": 2, "pad": "' + "x" * (2 << 20) + '"}'


async def scenario_huge(ws, tag):
    for payload in ['{"id": 1}', HUGE, '{"id": 3}']:
        await ws.send(payload)
    log(f"{tag}: script sent")
    await ws.wait_closed()


async def scenario_refuse(ws, tag):
    await ws.recv()
    await ws.send(json.dumps(COINBASE_ERROR))
    await ws.close(1008, "subscription refused")
    log(f"{tag}: refused")


async def scenario_flood(ws, tag, params, progress_path):
    n = int(params.get("n", ["1000"])[0])
    size = int(params.get("size", ["100"])[0])
    pad = "x" * size
    with open(progress_path, "w") as progress:
        for i in range(1, n + 1):
            await ws.send('{"seq": %d, "pad": "%s"}' % (i, pad))
            progress.seek(0)
            progress.write("%12d\n" % i)
            progress.flush()
    log(f"{tag}: flood sent {n}")
    await ws.wait_closed()


def frame(payload):
    """One unmasked server text frame."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


async def scenario_bench(ws, tag, params):
    n = int(params.get("n", ["1000000"])[0])
    if not await expect_subscription(ws, tag, [SUBSCRIBE]):
        return
    # 1000 tickers per second of event time, pre-framed once with a placeholder time and
    # written straight to the transport, so that Python stays out of the way.
    placeholder = coinbase_time(0).encode()
    block = b"".join(frame(json.dumps(ticker(i, 0, "%d.%02d" % (100 + i % 50, i % 100)))
                           .encode()) for i in range(1000))
    sent = 0
    while sent < n:
        second = sent // 1000
        if second >= 3600:
            break  # coinbase_time() covers one hour
        data = block.replace(placeholder, coinbase_time(second).encode())
        count = min(1000, n - sent)
        if count < 1000:
            data = b"".join(frame(json.dumps(ticker(i, second, "100.00")).encode())
                            for i in range(count))
        ws.transport.write(data)
        await ws.drain()
        sent += count
    log(f"{tag}: bench sent {sent}")
    await ws.wait_closed()


async def scenario_ingest(ws, tag):
    await ws.send(json.dumps({"id": 1}))
    await ws.send(json.dumps({"id": 2}))
    await ws.wait_closed()


def make_handler(args, scheme):
    async def handler(ws):
        url = urllib.parse.urlparse(ws.path)
        path = url.path
        n = connections[(scheme, path)] = connections.get((scheme, path), 0) + 1
        tag = f"{scheme} {path} #{n}"
        log(f"{tag}: connected" + "".join(
            f" [{h}: {ws.request_headers[h]}]" for h in ("Authorization", "X-Other")
            if h in ws.request_headers))
        params = urllib.parse.parse_qs(url.query)
        try:
            if path == "/coinbase":
                await scenario_coinbase(ws, tag)
            elif path == "/multi":
                await scenario_multi(ws, tag)
            elif path == "/reconnect":
                await scenario_reconnect(ws, tag, n)
            elif path == "/bad":
                await scenario_bad(ws, tag)
            elif path == "/huge":
                await scenario_huge(ws, tag)
            elif path == "/refuse":
                await scenario_refuse(ws, tag)
            elif path == "/flood":
                await scenario_flood(ws, tag, params, args.log + ".flood")
            elif path == "/bench":
                await scenario_bench(ws, tag, params)
            elif path == "/ingest":
                await scenario_ingest(ws, tag)
            else:
                await ws.close(1008, "unknown scenario")
        except websockets.ConnectionClosed:
            log(f"{tag}: client went away")
        log(f"{tag}: done")
    return handler


async def silent(reader, writer):
    log("silent: connected")
    await reader.read()  # never answer; wait for the client to give up
    writer.close()


async def bound(start):
    """Awaits start() (a server's bind), retrying for up to 20 s while its port is in use: the
    test ports lie in the kernel's ephemeral range, so another program's client socket can hold
    one for a while (a busy machine running two suites)."""
    for attempt in range(40):
        try:
            return await start()
        except OSError as e:
            if e.errno != errno.EADDRINUSE or attempt == 39:
                raise
            await asyncio.sleep(0.5)


async def main():
    global log_file
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-port", type=int)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--silent-port", type=int)
    p.add_argument("--log", required=True)
    args = p.parse_args()
    log_file = open(args.log, "a")
    servers = [await bound(lambda: websockets.serve(make_handler(args, "ws"), "127.0.0.1",
                                                    args.port, max_size=2 ** 20,
                                                    ping_interval=None))]
    if args.tls_port:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        servers.append(await bound(lambda: websockets.serve(make_handler(args, "wss"),
                                                            "127.0.0.1", args.tls_port, ssl=ctx,
                                                            ping_interval=None)))
    if args.silent_port:
        servers.append(await bound(lambda: asyncio.start_server(silent, "127.0.0.1",
                                                                args.silent_port)))
    log("ready")
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
