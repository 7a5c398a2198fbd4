"""Load generators of `scripts/bench profile` (stdlib only): a customers CSV, and batched event ingestion
for a fixed time. (Single events are paced by wrk with single_event.lua: a Python client would cost as
much CPU as the service it measures.)"""

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


def batches(port, token, customers, seconds, threads, batch, target_rate=40000, paced=False):
    """Posts batches of `batch` events from `threads` connections for `seconds`; prints events/s.
    Unpaced, as fast as the service answers; paced, batch k leaves at k * batch / target_rate seconds
    (a steady `target_rate` events/s while the service keeps up).

    The bodies are made before the clock starts (enough for `target_rate` events/s), so the load
    generator does not spend, while it measures, the CPU the service needs on this 2-core machine."""
    run = uuid.uuid4().hex[:12]
    occurred = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rng = random.Random(11)
    bodies = []
    for b in range(int(target_rate * seconds / batch) + threads):
        events = [{"eventId": f"{run}-{b}-{i}", "customerId": f"B{rng.randrange(customers):07d}", "name": "app_login",
                   "occurredAt": occurred, "properties": {"channel": "app"}} for i in range(batch)]
        bodies.append(json.dumps({"events": events}).encode())
    accepted = [0] * threads
    failures = []
    lock = threading.Lock()
    next_body = iter(enumerate(bodies))
    stop = time.time() + seconds
    finished = [0.0] * threads

    def worker(k):
        conn = _connection(port)
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        while time.time() < stop:
            with lock:
                item = next(next_body, None)
            if item is None:
                break
            k_body, body = item
            if paced:
                time.sleep(max(0.0, started + k_body * batch / target_rate - time.time()))
            conn.request("POST", "/api/v1/events", body, headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 and resp.status != 202:
                failures.append((resp.status, data[:200]))
                return
            accepted[k] += json.loads(data).get("accepted", 0)
        finished[k] = time.time()

    started = time.time()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = max(finished) - started
    if failures:
        sys.exit(f"event batches failed: {failures[:3]}")
    print(f"{sum(accepted) / elapsed:.0f}")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "csv":
        write_csv(sys.argv[2], int(sys.argv[3]))
    elif command == "batches":
        batches(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))
    elif command == "paced":   # ... RATE: batches paced to RATE events/s
        batches(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]),
                target_rate=float(sys.argv[8]), paced=True)
