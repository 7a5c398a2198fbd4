"""Demo data of the rewards service: a 加息券 (rate-boost coupon), a cash coupon with a budget, a points
programme, and a lottery with a consolation prize and a designated winner; all approved by the head-office
approver, with a few grants, points and draws so that customers' reward lists have something to show."""

import os

from lattice_api import APIError

SERVICE = "rewards"

REWARDS = [
    {"code": "demo-rate-boost-050", "name": "0.5%加息券（30天）", "kind": "coupon", "couponType": "rate_boost",
     "faceValue": "0.50", "stock": 5000, "unitCost": "8.00", "budget": "40000.00", "perCustomerLimit": 1,
     "validity": {"days": 30}, "description": "购买稳健理财时年化收益率加0.5个百分点"},
    {"code": "demo-cash-20", "name": "20元开户立减金", "kind": "coupon", "couponType": "cash", "faceValue": "20.00",
     "stock": 10000, "unitCost": "20.00", "budget": "100000.00", "perCustomerLimit": 1, "perDayLimit": 1,
     "validity": {"days": 7}},
    {"code": "demo-points-500", "name": "签到积分500", "kind": "points", "points": 500, "stock": 100000,
     "unitCost": "0.50", "perDayLimit": 1, "validity": {"days": 365}},
    {"code": "demo-lottery-spring", "name": "新春抽奖", "kind": "lottery", "stock": 20000, "unitCost": "0",
     "perCustomerLimit": 3, "validity": {"days": 60},
     "lottery": {"prizes": [{"id": "ipad", "name": "iPad", "weight": 1, "stock": 5, "unitCost": "3000.00"},
                            {"id": "tea", "name": "茶叶礼盒（网点领取）", "weight": 20, "stock": 200, "unitCost": "120.00"},
                            {"id": "cash5", "name": "5元立减金", "weight": 300, "stock": 5000, "unitCost": "5.00"}],
                 "consolation": {"id": "thanks", "name": "10积分", "unitCost": "0.01"},
                 "pointsPerDraw": 100,
                 "designated": [{"customerId": "C100001", "prizeId": "tea"}]}},
]


def _reward_ids(api):
    """code → id of the rewards already there (the catalog is small in the demo)."""
    ids, cursor = {}, None
    while True:
        page = api.get("/api/v1/rewards?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        ids.update({r["code"]: r for r in page["items"]})
        cursor = page.get("nextCursor")
        if not cursor:
            return ids


def load(api, bank):
    api.login("hq_operator", bank.demo_password)
    existing = _reward_ids(api)
    for body in REWARDS:
        if body["code"] in existing:
            bank.note("reward", body["name"], False)
            continue
        _, created, _ = api.request("POST", "/api/v1/rewards", body, {"Idempotency-Key": "demo-reward-" + body["code"]})
        existing[body["code"]] = created
        bank.note("reward", body["name"], True)
    # Approved by someone other than their author (the dispatcher's module creates hq_approver; create it if absent).
    api.login("admin", os.environ["LATTICE_ADMIN_PASSWORD"])
    api.create("/api/v1/users", {"username": "hq_approver", "password": bank.demo_password,
                                 "orgId": bank.head_office_id, "roles": ["approver"]}, "user-hq_approver")
    api.login("hq_approver", bank.demo_password)
    for reward in existing.values():
        if reward.get("status") != "approved" and reward["code"].startswith("demo-"):
            api.request("POST", f"/api/v1/rewards/{reward['id']}:approve")
    api.login("hq_operator", bank.demo_password)
    ids = {code: r["id"] for code, r in existing.items()}
    for i in range(1, 11):
        customer = f"C{100000 + i}"
        for code in ["demo-rate-boost-050", "demo-cash-20", "demo-points-500"]:
            try:
                api.request("POST", f"/api/v1/rewards/{ids[code]}/grants", {"customerId": customer},
                            {"Idempotency-Key": f"demo-grant-{code}-{customer}"})
            except APIError as err:
                if err.status != 409:  # out of stock or a limit: fine on a re-run
                    raise
        try:
            api.request("POST", f"/api/v1/lotteries/{ids['demo-lottery-spring']}:draw", {"customerId": customer},
                        {"Idempotency-Key": f"demo-draw-{customer}"})
        except APIError as err:
            if err.status != 409:
                raise
    bank.note("grants", "演示发放、积分与抽奖（10位客户）", True)
