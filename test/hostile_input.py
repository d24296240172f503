#!/usr/bin/python3
"""Hostile messages for test/hostile_input_test.sh, delivered three ways.

  hostile_input.py list
      prints the names of the messages, one a line, in sending order
  hostile_input.py lengths [--skip NAME,...]
      prints the messages' lengths in bytes, in ascending order, joined by commas
  hostile_input.py file PATH [--skip NAME,...]
      writes the messages to PATH, one a line (none of them holds a newline)
  hostile_input.py serve PORT LOG [--skip NAME,...]
      a websocket server on 127.0.0.1:PORT sending the messages as text frames to every
      client, then staying open; writes "ready" to LOG once listening, "sent N" after sending
  hostile_input.py produce BOOTSTRAP TOPIC NAME
      produces message NAME to partition 0 of TOPIC (one at a time: the test broker keeps only
      a few MB per partition, so each is read before the next is sent)

keys_2e5 is for Kafka only (skip it elsewhere). The first and the last message are good rows (ids 1 and 99); every other one is bad data for
a table (id int, name text, n numeric, doc jsonb, arr int[]) in format json: it must be
counted as a bad row, and no process may die on it.
"""

import sys

NEST = 100000


def messages():
    big_digits = b"7" * 1000000
    yield "good_first", b'{"id": 1, "name": "first", "n": 1.50}'
    yield "nest_unread", b'{"id": 2, "unused": ' + b"[" * NEST + b"]" * NEST + b"}"
    yield "nest_json", b'{"id": 3, "doc": ' + b"[" * NEST + b"]" * NEST + b"}"
    yield "nest_array", b'{"id": 4, "arr": ' + b"[" * NEST + b"]" * NEST + b"}"
    yield "nest_objects", b'{"id": 5, "doc": ' + b'{"a":' * NEST + b"1" + b"}" * NEST + b"}"
    yield "nest_unclosed", b'{"id": 6, "unused": ' + b"[" * NEST
    yield "huge_100mb", b'{"id": 7, "name": "' + b"x" * (100 << 20) + b'"}'
    yield "keys_1e6", many_keys(1000000, b"eight")
    # The same shape within the test broker's 5 MB per partition (Kafka only).
    yield "keys_2e5", many_keys(200000, b"eight and a half")
    yield "utf8_key", b'{"id": 9, "k\xff\xfe": 1}'
    yield "utf8_value", b'{"id": 10, "name": "\xc3\x28"}'
    yield "nul_raw", b'{"id": 11, "name": "a\x00b"}'
    yield "nul_escaped", b'{"id": 12, "name": "a\\u0000b"}'
    yield "nul_after", b'{"id": 13}\x00'
    yield "digits_numeric", b'{"id": 14, "n": ' + big_digits + b"}"
    yield "digits_int", b'{"id": ' + big_digits + b"}"
    yield "digits_fraction", b'{"id": 16, "n": 0.' + big_digits + b"e-99999999999}"
    yield "good_last", b'{"id": 99, "name": "last", "n": 12345678901234567890.000000001}'


def many_keys(n, id_text):
    return b"{" + b",".join(b'"k%d":0' % i for i in range(n)) + b', "id": "' + id_text + b'"}'


def selected(args):
    skip = set()
    if len(args) >= 2 and args[-2] == "--skip":
        skip = set(args[-1].split(","))
    return [(name, data) for name, data in messages() if name not in skip]


def write_file(path, msgs):
    with open(path, "wb") as f:
        for _, data in msgs:
            assert b"\n" not in data
            f.write(data + b"\n")


def serve(port, log_path, msgs):
    import asyncio
    import websockets

    log = open(log_path, "a")

    async def handler(ws, path=None):
        for _, data in msgs:
            # Text frames carry bytes as they are (invalid UTF-8 included): build the frames
            # ourselves, since the library would refuse to send invalid text.
            await send_raw_text(ws, data)
        log.write("sent %d\n" % len(msgs))
        log.flush()
        await asyncio.Future()

    async def main():
        async with websockets.serve(handler, "127.0.0.1", port, max_size=None,
                                    compression=None):
            log.write("ready\n")
            log.flush()
            await asyncio.Future()

    asyncio.run(main())


async def send_raw_text(ws, data):
    """Sends `data` as one unmasked text frame, written straight to the transport."""
    import struct
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", 0x81, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    ws.transport.write(header + data)
    await ws.drain()


def produce(bootstrap, topic, name):
    from confluent_kafka import Producer
    failures = []
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 200000000,
                         "enable.idempotence": True, "linger.ms": 0})

    def report(err, msg):
        if err is not None:
            failures.append(str(err))

    data = next(data for n, data in messages() if n == name)
    producer.produce(topic, value=data, partition=0, on_delivery=report)
    if producer.flush(60) or failures:
        sys.exit("delivery failed: %s" % failures[:3])


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "list":
        for name, _ in selected(args):
            print(name)
    elif cmd == "lengths":
        print(",".join(str(n) for n in sorted(len(data) for _, data in selected(args))))
    elif cmd == "file":
        write_file(args[0], selected(args))
    elif cmd == "serve":
        serve(int(args[0]), args[1], selected(args))
    elif cmd == "produce":
        produce(args[0], args[1], args[2])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
