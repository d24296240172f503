"""Independent RabbitMQ clients for test/rabbitmq_test.sh (python3-pika), and a TCP proxy.

  clients.py declare PORT QUEUE [EXCHANGE KEY]   a durable queue, optionally bound to a new
                                                durable direct exchange with routing key KEY
  clients.py publish PORT QUEUE FROM TO         {"id": i, "v": i * 10} for i in FROM..TO, with
                                                message_id "m<i>", persistent, confirmed
  clients.py publish_raw PORT QUEUE BODY        one message with that body, confirmed
  clients.py drain PORT QUEUE                   every message now in QUEUE (acked), one body a
                                                line, sorted
  clients.py bulk PORT EXCHANGE N               N JSON messages (benchmark rows) to a fanout
                                                EXCHANGE, unconfirmed, as fast as pika goes;
                                                then waits until QUEUES... hold them
  clients.py consume_n PORT QUEUE N PREFETCH    takes N messages (acking every 100), prints N
  clients.py proxy LISTEN TARGET                a TCP proxy 127.0.0.1:LISTEN -> TARGET;
                                                SIGUSR1: hold (stop forwarding client -> broker
                                                bytes), SIGUSR2: cut every connection (held
                                                bytes are dropped) and forward again
"""
import json
import os
import selectors
import signal
import socket
import sys

import pika


def connect(port):
    return pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=int(port)))


def declare(port, queue, exchange=None, key=None):
    conn = connect(port)
    ch = conn.channel()
    ch.queue_declare(queue=queue, durable=True)
    if exchange:
        kind = "fanout" if key == "" else "direct"
        ch.exchange_declare(exchange=exchange, exchange_type=kind, durable=True)
        ch.queue_bind(queue=queue, exchange=exchange, routing_key=key)
    conn.close()


def publish(port, queue, bodies):
    conn = connect(port)
    ch = conn.channel()
    ch.confirm_delivery()
    for message_id, body in bodies:
        props = pika.BasicProperties(delivery_mode=2, message_id=message_id)
        ch.basic_publish(exchange="", routing_key=queue, body=body, properties=props)
    conn.close()


def drain(port, queue):
    conn = connect(port)
    ch = conn.channel()
    out = []
    while True:
        method, _, body = ch.basic_get(queue=queue, auto_ack=False)
        if method is None:
            break
        out.append(body.decode())
        ch.basic_ack(method.delivery_tag)
    conn.close()
    for line in sorted(out):
        print(line)


def bulk(port, exchange, n, queues):
    conn = connect(port)
    ch = conn.channel()
    kinds = ("view", "click", "buy")
    props = pika.BasicProperties(delivery_mode=1)  # transient: the broker keeps up with pika
    for i in range(n):
        body = ('{"id":%d,"user_name":"user-%d","kind":"%s","amount":%d.%02d}'
                % (i, i % 1000, kinds[i % 3], i % 500, i % 100))
        ch.basic_publish(exchange=exchange, routing_key="", body=body, properties=props)
    for q in queues:
        while ch.queue_declare(queue=q, passive=True).method.message_count < n:
            conn.sleep(0.1)
    conn.close()


def consume_n(port, queue, n, prefetch):
    conn = connect(port)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    seen = 0
    for method, _, _ in ch.consume(queue, auto_ack=False):
        seen += 1
        if seen % 100 == 0 or seen == n:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if seen == n:
            break
    ch.cancel()
    conn.close()
    print(seen)


def proxy(listen, target):
    sel = selectors.DefaultSelector()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(listen)))
    server.listen(16)
    sel.register(server, selectors.EVENT_READ, None)
    state = {"hold": False, "cut": False}
    peers = {}  # socket -> (peer socket, is client side)

    def on_usr1(*_):
        state["hold"] = True

    def on_usr2(*_):
        state["cut"] = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    print("ready", flush=True)

    def close_pair(s):
        other = peers.pop(s, (None, None))[0]
        for x in (s, other):
            if x is None:
                continue
            peers.pop(x, None)
            if x in held:
                held.discard(x)
            else:
                sel.unregister(x)
            x.close()

    held = set()  # client sockets not polled while holding
    while True:
        if state["hold"]:
            for s, (_, from_client) in list(peers.items()):
                if from_client and s not in held:
                    sel.unregister(s)
                    held.add(s)
        if state["cut"]:
            for s in list(peers):
                if s in peers:
                    # RST, so that nothing buffered is delivered.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    close_pair(s)
            state["cut"] = False
            state["hold"] = False
            print("cut", flush=True)
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            if s is server:
                client, _ = server.accept()
                try:
                    upstream = socket.create_connection(("127.0.0.1", int(target)))
                except OSError:
                    client.close()  # the broker is down: so is the connection
                    continue
                peers[client] = (upstream, True)
                peers[upstream] = (client, False)
                sel.register(client, selectors.EVENT_READ, None)
                sel.register(upstream, selectors.EVENT_READ, None)
                continue
            if s not in peers:
                continue
            other, from_client = peers[s]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                close_pair(s)
                continue
            try:
                other.sendall(data)
            except OSError:
                close_pair(s)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "declare":
        declare(*args)
    elif cmd == "publish":
        port, queue, lo, hi = args
        publish(port, queue, [("m%d" % i, json.dumps({"id": i, "v": i * 10}))
                              for i in range(int(lo), int(hi) + 1)])
    elif cmd == "publish_raw":
        port, queue, body = args
        publish(port, queue, [(None, body)])
    elif cmd == "bulk":
        port, exchange, n = args[:3]
        bulk(port, exchange, int(n), args[3:])
    elif cmd == "consume_n":
        port, queue, n, prefetch = args
        consume_n(port, queue, int(n), int(prefetch))
    elif cmd == "drain":
        drain(*args)
    elif cmd == "proxy":
        proxy(*args)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
