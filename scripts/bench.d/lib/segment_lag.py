"""The lag probe of `scripts/bench segment-feed` (stdlib only): every second, set a marker customer's
attribute to a new value through the gateway and time how long until a segment estimate sees it.
Prints BENCH lines: the median and the largest lag, in ms (a value not seen within 30 s counts as 30 s)."""

import http.client
import json
import sys
import time


def call(port, token, method, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=json.dumps(body),
                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data else None


def main():
    port, token, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    call(port, token, "POST", "/api/v1/attributes", {"code": "benchMarker", "name": "bench marker", "type": "int"})
    lags = []
    started = time.time()
    n = 0
    while time.time() - started < seconds - 3:
        n += 1
        call(port, token, "PUT", "/api/v1/customers/MARKER", {"orgId": "sh", "benchMarker": n})
        changed = time.time()
        rule = {"rule": {"attr": "benchMarker", "op": "eq", "value": n}}
        seen = True
        while call(port, token, "POST", "/api/v1/segments:estimate", rule)["count"] != 1:
            if time.time() - changed > 30:
                seen = False   # counted as 30 s: the index fell behind; the next value is tried
                break
            time.sleep(0.02)
        lags.append((time.time() - changed) * 1000 if seen else 30000.0)
        time.sleep(max(0.0, 1.0 - (time.time() - changed)))
    lags.sort()
    print(f"BENCH segment_feed_lag_samples {len(lags)} samples")
    print(f"BENCH segment_feed_lag_p50_ms {lags[len(lags) // 2]:.0f} ms")
    print(f"BENCH segment_feed_lag_max_ms {lags[-1]:.0f} ms")


if __name__ == "__main__":
    main()
