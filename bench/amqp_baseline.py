"""The events scenario's baseline: raw pika on the same broker, with what the system's bus pays
for delivery guarantees and nothing else: persistent messages published one at a time with
publisher confirms (as the outbox relay does) to a topic exchange, a durable quorum queue, a
consumer with prefetch 20 acking each message (as platform_kit.bus.Consumer does).

Two processes, as in the system (relay and consumer):
  python -m bench.amqp_baseline consume --url URL --out FILE   # one line per message: step, due, received
  python -m bench.amqp_baseline publish --url URL --step N --rate R --duration D
The publisher is open loop: each message is due at a fixed time and carries it; the consumer's
latency is measured from there, so a publisher that falls behind shows in the latencies."""
from __future__ import annotations

import argparse
import signal
import threading
import time

import pika

EXCHANGE = "bench.events"
QUEUE = "bench.baseline"
ROUTING_KEY = "bench.grade_recorded.v1"


def _connect(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.heartbeat = 30
    return pika.BlockingConnection(params)


def declare(channel) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(QUEUE, EXCHANGE, routing_key=ROUTING_KEY)


def remove(url: str) -> None:
    """The baseline's queue and exchange, gone again (with anything a broken step left in them)."""
    connection = _connect(url)
    channel = connection.channel()
    channel.queue_delete(QUEUE)
    channel.exchange_delete(EXCHANGE)
    connection.close()


def consume(url: str, out_path: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    connection = _connect(url)
    channel = connection.channel()
    declare(channel)
    channel.basic_qos(prefetch_count=20)
    with open(out_path, "a", encoding="utf-8") as out:

        def on_message(ch, method, properties, body: bytes) -> None:
            received = time.time()
            ch.basic_ack(method.delivery_tag)
            step, due = body.decode().split("\t")[:2]
            out.write(f"{step}\t{due}\t{received:.6f}\n")

        channel.basic_consume(QUEUE, on_message)
        while not stop.is_set():
            connection.process_data_events(time_limit=0.2)
            out.flush()
    connection.close()


def publish(url: str, step: int, rate: float, duration: float) -> None:
    connection = _connect(url)
    channel = connection.channel()
    channel.confirm_delivery()
    declare(channel)
    properties = pika.BasicProperties(content_type="application/x-protobuf", delivery_mode=pika.DeliveryMode.Persistent, type=ROUTING_KEY)
    padding = "x" * 300  # about the size of a GradeRecorded event
    count = int(round(rate * duration))
    start = time.time() + 0.05
    for index in range(count):
        due = start + index / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        channel.basic_publish(EXCHANGE, ROUTING_KEY, f"{step}\t{due:.6f}\t{padding}".encode(), properties=properties)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["consume", "publish"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out")
    parser.add_argument("--step", type=int, default=0)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--duration", type=float, default=5)
    args = parser.parse_args()
    if args.mode == "consume":
        consume(args.url, args.out)
    else:
        publish(args.url, args.step, args.rate, args.duration)


if __name__ == "__main__":
    main()
