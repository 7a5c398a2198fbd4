"""Demo data of the segment service: a few segments at head office and in a branch, and the bank's
global black list, so that estimates, members and portraits have something to show."""

import time

SERVICE = "segment"


def _wait_for_index(api, customers, timeout=60):
    """The segment service reads customers from the profile's change feed: wait until it has them."""
    deadline = time.time() + timeout
    rule = {"attr": "riskLevel", "op": "is_set"}
    while time.time() < deadline:
        _, body, _ = api.request("POST", "/api/v1/segments:estimate", {"rule": rule})
        if body["count"] >= customers:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the segment index did not reach {customers} customers in {timeout}s")


def load(api, bank):
    api.login("hq_operator", bank.demo_password)
    _wait_for_index(api, 60)
    segments = [
        ("seg-hq-affluent-active", {"name": "高净值活跃客户", "kind": "dynamic",
                                    "rule": {"all": [{"attr": "aum", "op": "gte", "value": 500000},
                                                     {"event": "app_login", "count": {"op": "gte", "value": 2}, "within": "30d"}]}}),
        ("seg-hq-conservative", {"name": "稳健型客户（快照）", "kind": "snapshot",
                                 "rule": {"attr": "riskLevel", "op": "in", "value": ["C1", "C2"]}}),
        ("seg-hq-fund-buyers", {"name": "近90天购买基金", "kind": "dynamic",
                                "rule": {"event": "fund_purchase", "within": "90d"}}),
    ]
    for key, body in segments:
        bank.note("segment", body["name"], api.create("/api/v1/segments", body, key))
    created = api.create("/api/v1/lists", {"name": "全行营销黑名单", "kind": "black", "global": True,
                                          "customerIds": ["C100060"]}, "list-global-blacklist")
    bank.note("list", "全行营销黑名单", created)
    api.login("sh_operator", bank.demo_password)
    created = api.create("/api/v1/segments", {"name": "上海贵宾客户", "kind": "dynamic", "rule": {"tag": "vip"}},
                         "seg-sh-vip")
    bank.note("segment", "上海贵宾客户", created)
