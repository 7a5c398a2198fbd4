"""Load generators of `scripts/bench profile` (stdlib only): a customers CSV, batched event ingestion
for a fixed time, and single events at a fixed rate with their latency percentiles."""

import http.client
import json
import random
import sys
import threading
import time
import uuid

UNITS = ["sh", "bj", "gz"]


def write_csv(path, rows):
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,orgId,name,phone,aum,riskLevel,city,isPayroll\n")
        for i in range(rows):
            f.write(f"B{i:07d},{UNITS[i % 3]},客户{i},13{rng.randint(100000000, 999999999)},"
                    f"{rng.randint(0, 5000000)}.{rng.randint(0, 99):02d},C{1 + i % 5},上海,{'true' if i % 3 == 0 else 'false'}\n")


def _connection(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _event(customers, name="app_login"):
    return {"eventId": uuid.uuid4().hex, "customerId": f"B{random.randrange(customers):07d}", "name": name,
            "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "properties": {"channel": "app"}}


def batches(port, token, customers, seconds, threads, batch):
    """Posts batches of `batch` events from `threads` connections for `seconds`; prints events/s."""
    accepted = [0] * threads
    failures = []
    stop = time.time() + seconds

    def worker(k):
        conn = _connection(port)
        while time.time() < stop:
            body = json.dumps({"events": [_event(customers) for _ in range(batch)]})
            conn.request("POST", "/api/v1/events", body, {"Authorization": "Bearer " + token,
                                                          "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 and resp.status != 202:
                failures.append((resp.status, data[:200]))
                return
            accepted[k] += json.loads(data).get("accepted", 0)

    started = time.time()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.time() - started
    if failures:
        sys.exit(f"event batches failed: {failures[:3]}")
    print(f"{sum(accepted) / elapsed:.0f}")


def paced(port, token, customers, rate, seconds, threads):
    """Single-event POSTs at `rate` per second for `seconds`; prints p50 and p99 in ms."""
    latencies = []
    lock = threading.Lock()
    failures = []
    per_thread = rate / threads
    start = time.time() + 0.2

    def worker(k):
        conn = _connection(port)
        n = 0
        while True:
            due = start + (n + k / threads) / per_thread
            if due > start + seconds:
                return
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps(_event(customers))
            sent = time.time()
            conn.request("POST", "/api/v1/events", body, {"Authorization": "Bearer " + token,
                                                          "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            # Latency from when the request was due: a late sender counts against us (no coordinated omission).
            took = time.time() - min(sent, max(due, sent - 1))
            if resp.status not in (200, 202):
                failures.append(resp.status)
            with lock:
                latencies.append(took * 1000)
            n += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        sys.exit(f"single events failed: {failures[:5]}")
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"{p(0.5):.2f} {p(0.99):.2f} {len(latencies)}")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "csv":
        write_csv(sys.argv[2], int(sys.argv[3]))
    elif command == "batches":
        batches(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))
    elif command == "paced":
        paced(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]))
