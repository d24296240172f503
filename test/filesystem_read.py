"""Reads what the filesystem sink wrote, with readers independent of arroyo_stream (Python's json
module, python3-avro), for test/filesystem_test.sh. Also produces and consumes Avro messages on
Kafka (python3-confluent-kafka, python3-avro) in Confluent's wire format.

  filesystem_read.py files DIR
      every file under DIR, one "relative/path size" line each, sorted by path
  filesystem_read.py rows json|avro DIR
      every record of the committed files under DIR (in file order, files sorted by name within
      a directory), one JSON object per line; datetimes in ISO 8601, bytes as \\x hex. Fails if
      a file is still in progress, or if a record disagrees with its Hive-style partition path
      (col=value directories)
  filesystem_read.py produce BOOTSTRAP TOPIC SCHEMA_ID SCHEMA_JSON
      JSON records on stdin -> one Avro message each (magic 0, the id, the record); a line
      "RAW <hex>" is sent as those bytes, a line "RANDOM <count> <seed>" as that many messages
      of random bytes after the prefix
  filesystem_read.py consume BOOTSTRAP TOPIC SCHEMA_ID SCHEMA_JSON
      every message of the topic, checked for the wire format's prefix, decoded, one JSON line
"""

import datetime
import io
import json
import os
import random
import sys
import urllib.parse

import avro.datafile
import avro.io
import avro.schema


def plain(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat(timespec="microseconds")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    return v


def files(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out.append((os.path.relpath(p, root), os.path.getsize(p)))
    return sorted(out)


def check_partition(rel, record):
    parts = rel.split("/")[:-1]
    for part in parts:
        col, _, value = part.partition("=")
        col = urllib.parse.unquote(col)
        value = urllib.parse.unquote(value)
        actual = record.get(col)
        if value == "__HIVE_DEFAULT_PARTITION__":
            ok = actual is None or actual == ""
        else:
            ok = actual is not None and str(plain(actual)).lower() == value.lower()
        if not ok:
            sys.exit(f"{rel}: record {record} does not belong in {part}")


def rows(fmt, root):
    for rel, _ in files(root):
        name = os.path.basename(rel)
        if name.endswith(".inprogress"):
            sys.exit(f"{rel}: still in progress")
        path = os.path.join(root, rel)
        if fmt == "json":
            with open(path, encoding="utf-8") as f:
                records = [json.loads(line) for line in f]
        else:
            with open(path, "rb") as f:
                reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
                records = list(reader)
        for r in records:
            check_partition(rel, r)
            print(json.dumps({k: plain(v) for k, v in r.items()}, sort_keys=True))


def produce(bootstrap, topic, schema_id, schema_json):
    from confluent_kafka import Producer

    schema = avro.schema.parse(schema_json)
    writer = avro.io.DatumWriter(schema)
    p = Producer({"bootstrap.servers": bootstrap})
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line.startswith("RANDOM "):
            # RANDOM COUNT SEED: random bodies (0 to 64 bytes) after the wire format's prefix
            count, seed = (int(x) for x in line.split()[1:])
            rng = random.Random(seed)
            for _ in range(count):
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(65)))
                p.produce(topic, value=b"\0" + int(schema_id).to_bytes(4, "big") + body,
                          partition=0)
            continue
        if line.startswith("RAW "):
            payload = bytes.fromhex(line[4:])
        else:
            buf = io.BytesIO()
            buf.write(b"\0" + int(schema_id).to_bytes(4, "big"))
            writer.write(json.loads(line), avro.io.BinaryEncoder(buf))
            payload = buf.getvalue()
        p.produce(topic, value=payload, partition=0)
    if p.flush(30) != 0:
        sys.exit("messages not delivered")


def consume(bootstrap, topic, schema_id, schema_json):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

    schema = avro.schema.parse(schema_json)
    reader = avro.io.DatumReader(schema)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "filesystem_read",
                  "enable.partition.eof": True, "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    while True:
        m = c.poll(10)
        if m is None:
            sys.exit("timed out reading the topic")
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                break
            sys.exit(str(m.error()))
        v = m.value()
        prefix = b"\0" + int(schema_id).to_bytes(4, "big")
        if v[:5] != prefix:
            sys.exit(f"message without the wire format's prefix: {v[:5].hex()}")
        record = reader.read(avro.io.BinaryDecoder(io.BytesIO(v[5:])))
        print(json.dumps({k: plain(x) for k, x in record.items()}, sort_keys=True))
    c.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "files":
        for rel, size in files(args[0]):
            print(rel, size)
    elif cmd == "rows":
        rows(args[0], args[1])
    elif cmd == "produce":
        produce(*args)
    elif cmd == "consume":
        consume(*args)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
