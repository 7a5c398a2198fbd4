"""Demo data of the profile service: a custom attribute and 60 customers spread over the branches and
sub-branches, with consents, so that segments, journeys and the 360° view have someone to show."""

import random
import time

SERVICE = "profile"

UNITS = ["sh", "sh_pudong", "sh_xuhui", "bj", "bj_haidian", "bj_chaoyang", "gz", "gz_tianhe", "gz_yuexiu"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "强", "洋", "艳", "杰", "娟", "涛", "明", "超", "霞"]
CITIES = {"sh": "上海", "bj": "北京", "gz": "广州"}


def load(api, bank):
    # Customer data is written by operators (the admin manages users, not data): a head-office operator
    # who may also see unmasked phone numbers (the pii right).
    username = "hq_operator"
    created = api.create("/api/v1/users", {"username": username, "password": bank.demo_password,
                                           "orgId": bank.head_office_id, "roles": ["operator"], "rights": ["pii"]},
                         "user-" + username)
    bank.note("user", username, created)
    bank.add_login(username, bank.demo_password, f"总行 ({bank.head_office_id})", "operator + pii")
    api.login(username, bank.demo_password)
    created = api.create("/api/v1/attributes", {"code": "vipLevel", "name": "贵宾等级", "type": "enum",
                                                "values": ["普通", "金卡", "白金", "钻石"]}, "attr-vipLevel")
    bank.note("attribute", "vipLevel", created)
    rng = random.Random(20261123)  # the same demo bank every time
    for i in range(60):
        unit = UNITS[i % len(UNITS)]
        customer_id = f"C{100001 + i}"
        aum = rng.choice([3000, 25000, 88000, 150000, 520000, 1200000, 6000000]) + rng.randint(0, 99) / 100
        body = {
            "orgId": unit,
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 2 else ""),
            "phone": "13" + str(rng.randint(100000000, 999999999)),
            "gender": rng.choice(["male", "female"]),
            "birthDate": f"{rng.randint(1955, 2003)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "city": CITIES[unit[:2]],
            "riskLevel": "C" + str(rng.randint(1, 5)),
            "aum": aum,
            "depositBalance": round(aum * rng.uniform(0.1, 0.6), 2),
            "isPayroll": rng.random() < 0.4,
            "hasCreditCard": rng.random() < 0.5,
            "registeredAt": f"20{rng.randint(15, 26):02d}-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}T02:00:00Z",
            "vipLevel": rng.choice(["普通", "金卡", "白金", "钻石"]),
            "consents": {"sms": rng.random() < 0.8, "push": True, "wechat": rng.random() < 0.6},
            "consentSource": "demo_onboarding",
        }
        status, _, _ = api.request("PUT", f"/api/v1/customers/{customer_id}", body)
        bank.note("customer", customer_id, status == 201)
    # Behaviour: two in three customers used the app in the last weeks (the others drift to dormant),
    # a few bought funds. Event ids are fixed, so a second load adds nothing.
    now = int(time.time())
    events = []
    for i in range(60):
        customer_id = f"C{100001 + i}"
        if i % 3 == 2:
            continue
        for k in range(1 + i % 4):
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (k * 3 + i % 5) * 86400 - 3600))
            events.append({"eventId": f"demo-login-{customer_id}-{k}", "customerId": customer_id, "name": "app_login",
                           "occurredAt": at, "properties": {"channel": "app"}})
        if i % 7 == 0:
            events.append({"eventId": f"demo-fund-{customer_id}", "customerId": customer_id, "name": "fund_purchase",
                           "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 2 * 86400)),
                           "properties": {"productCode": "F000123", "amount": 50000, "productRiskLevel": "R3", "channel": "app"}})
    _, result, _ = api.request("POST", "/api/v1/events", {"events": events})
    bank.note("events", f"{result['accepted']} accepted", result["accepted"] > 0)
    created = api.create("/api/v1/tags", {"code": "vip", "name": "贵宾客户", "kind": "manual", "isTemplate": True}, "tag-vip")
    bank.note("tag", "vip", created)
    api.request("POST", "/api/v1/tags/vip/members", {"customerIds": [f"C{100001 + i}" for i in range(0, 60, 5)]})
