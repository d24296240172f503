#!/usr/bin/python3
"""Independent Kafka clients for the tests (python3-confluent-kafka): write what the connector
reads, read what it writes, and look at consumer-group offsets.

  kafka_clients.py produce BOOTSTRAP TOPIC [--timeout-ms MS]
      one message per stdin line "PARTITION|KEY|TIMESTAMP_MS|VALUE"; an empty field means
      none (any partition, no key, the producer's clock); VALUE "\\N" is a message without a
      value, and a "hex:" prefix gives raw bytes (for KEY too). Exits 1 if any message is not
      delivered. Lines are produced as they arrive (a paced writer can feed it through a pipe).
  kafka_clients.py consume BOOTSTRAP TOPIC
      prints every message as "PARTITION|OFFSET|KEY|VALUE" (partition by partition), then exits;
      reads as a read_committed consumer
  kafka_clients.py committed BOOTSTRAP GROUP TOPIC
      prints "PARTITION|OFFSET" for each partition (-1001: nothing committed)
"""
import sys

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition


def produce(bootstrap, topic, timeout_ms):
    failures = []
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": timeout_ms,
                         "enable.idempotence": True})

    def report(err, msg):
        if err is not None:
            failures.append(str(err))

    for line in sys.stdin:
        partition, key, timestamp, value = line.rstrip("\n").split("|", 3)
        args = {"topic": topic, "on_delivery": report}
        if partition:
            args["partition"] = int(partition)
        if key.startswith("hex:"):
            args["key"] = bytes.fromhex(key[4:])
        elif key:
            args["key"] = key.encode()
        if timestamp:
            args["timestamp"] = int(timestamp)
        if value == "\\N":
            args["value"] = None
        elif value.startswith("hex:"):
            args["value"] = bytes.fromhex(value[4:])
        else:
            args["value"] = value.encode()
        producer.produce(**args)
        producer.poll(0)
    remaining = producer.flush(timeout_ms / 1000 + 5)
    if failures or remaining:
        print("delivery failed: %s (%d undelivered)" % (failures[:3], remaining), file=sys.stderr)
        sys.exit(1)


def text(b):
    return "" if b is None else b.decode("utf-8", "backslashreplace")


def consume(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kafka_clients.py",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "isolation.level": "read_committed"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])  # 0: from the start
    pending, out = set(partitions), []
    while pending:
        msg = consumer.poll(10)
        if msg is None:
            sys.exit("timed out reading %s" % topic)
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
                continue
            sys.exit(str(msg.error()))
        out.append((msg.partition(), msg.offset(), text(msg.key()), text(msg.value())))
    consumer.close()
    for p, o, k, v in sorted(out):
        print("%d|%d|%s|%s" % (p, o, k, v))


def committed(bootstrap, group, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    for tp in consumer.committed([TopicPartition(topic, p) for p in sorted(partitions)], 10):
        print("%d|%d" % (tp.partition, tp.offset))
    consumer.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "produce":
        timeout = 30000
        if len(args) == 4 and args[2] == "--timeout-ms":
            timeout = int(args[3])
        produce(args[0], args[1], timeout)
    elif cmd == "consume":
        consume(*args)
    elif cmd == "committed":
        committed(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
