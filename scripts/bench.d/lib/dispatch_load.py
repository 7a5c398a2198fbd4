"""Load driver of `scripts/bench dispatch` (stdlib only).

setup GATEWAY_PORT ADMIN_PASSWORD SIMULATOR_URL OUT_JSON
    through the gateway: an operator and an approver at head office, quiet hours off, an SMS provider
    at the simulator taking BENCH_DISPATCH_PROVIDER_BATCH messages a call (default 100, the gateway's
    batch submission; 1 is one message a request), an approved marketing SMS template.
send DISPATCHER_PORT SECRET TEMPLATE_ID CUSTOMERS SIMULATOR_URL THREADS
    posts one marketing SMS per customer straight to the dispatcher (as the canvas does: internal
    credential and the caller's identity), batches of 1,000 from THREADS connections, and waits until
    the simulator has accepted every message; prints BENCH lines.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

BATCH = int(os.environ.get("BENCH_DISPATCH_PROVIDER_BATCH", "100"))


def call(port, method, path, token=None, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    conn.request(method, path, json.dumps(body).encode() if body is not None else None, h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, (json.loads(data) if data else None)


def expect(status, answer, wanted, what):
    if status not in wanted:
        sys.exit(f"{what}: HTTP {status} {answer}")
    return answer


def setup(gw, password, simulator, out):
    login = lambda u, p: expect(*call(gw, "POST", "/api/v1/auth/login", body={"username": u, "password": p}), (200,), "login " + u)["token"]
    admin = login("admin", password)
    for user, role in (("bench_op", "operator"), ("bench_ap", "approver")):
        expect(*call(gw, "POST", "/api/v1/users", admin, {"username": user, "password": "bench-password-1",
                                                           "orgId": "hq", "roles": [role]}), (201,), "user " + user)
    op, ap = login("bench_op", "bench-password-1"), login("bench_ap", "bench-password-1")
    expect(*call(gw, "PUT", "/api/v1/policies", op, {"quietHours": {}}), (200,), "policies")
    provider = expect(*call(gw, "POST", "/api/v1/providers", op, {
        "channel": "sms", "name": "sim-sms", "endpoint": simulator, "ratePerSecond": 100000, "timeoutMs": 5000,
        "batchSize": BATCH, "credentials": "sim-token"}), (201,), "provider")
    template = expect(*call(gw, "POST", "/api/v1/templates", op, {
        "channel": "sms", "name": "bench", "kind": "marketing",
        "body": "【Lattice银行】{{name}}您好，您的专属理财体验金已到账 回T退订"}), (201,), "template")
    expect(*call(gw, "POST", f"/api/v1/templates/{template['id']}:approve", ap), (200,), "approve")
    json.dump({"provider": provider["id"], "receiptSecret": provider["receiptSecret"], "template": template["id"]}, open(out, "w"))


def stats(simulator):
    u = urllib.parse.urlparse(simulator)
    return call(u.port, "GET", "/control/stats")[1]


def send(port, secret, template, customers, simulator, threads):
    run = uuid.uuid4().hex[:10]
    bodies = []
    for start in range(0, customers, 1000):
        items = [{"customerId": f"B{i:07d}", "templateId": template, "key": f"{run}:{i}"}
                 for i in range(start, min(start + 1000, customers))]
        bodies.append(json.dumps({"messages": items}).encode())
    headers = {"Content-Type": "application/json", "x-lattice-internal": secret, "x-lattice-user": "bench_op",
               "x-lattice-org": "hq", "x-lattice-org-path": "/hq/", "x-lattice-roles": "operator", "x-lattice-rights": "view,edit"}
    lock = threading.Lock()
    pending = iter(bodies)
    outcome = {"queued": 0, "suppressed": 0, "refused": 0}
    failures = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                body = next(pending, None)
            if body is None:
                return
            conn.request("POST", "/api/v1/messages", body, headers)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                failures.append(f"HTTP {r.status} {data[:300]!r}")
                return
            counts = {"queued": 0, "suppressed": 0, "refused": 0}
            for item in json.loads(data)["items"]:
                if "error" in item:
                    counts["refused"] += 1
                elif item["message"]["status"] == "suppressed":
                    counts["suppressed"] += 1
                else:
                    counts["queued"] += 1
            with lock:
                for k, v in counts.items():
                    outcome[k] += v

    before = stats(simulator)
    t0 = time.time()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    admitted = time.time()
    if failures:
        sys.exit("sends failed: " + failures[0])
    expected = outcome["queued"]
    last, last_change = -1, time.time()
    while True:
        s = stats(simulator)
        accepted = s["accepted"] - before["accepted"]
        if accepted >= expected:
            break
        if accepted != last:
            last, last_change = accepted, time.time()
        elif time.time() - last_change > 60:
            break  # stalled: whatever is missing is lost
        time.sleep(0.05)
    done = time.time()
    time.sleep(2)  # late duplicates of messages in flight
    s = stats(simulator)
    accepted = s["accepted"] - before["accepted"]
    print(f"BENCH dispatch_messages {customers} msgs")
    print(f"BENCH dispatch_admitted_per_s {customers / (admitted - t0):.0f} msg/s")
    print(f"BENCH dispatch_suppressed {outcome['suppressed']} msgs")
    print(f"BENCH dispatch_refused {outcome['refused']} msgs")
    print(f"BENCH dispatch_msgs_per_s {accepted / (done - t0):.0f} msg/s")
    print(f"BENCH dispatch_lost {max(0, expected - accepted)} msgs")
    print(f"BENCH dispatch_duplicated {s['duplicates'] - before['duplicates']} msgs")


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif sys.argv[1] == "send":
        send(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], int(sys.argv[7]))
    else:
        sys.exit(__doc__)
