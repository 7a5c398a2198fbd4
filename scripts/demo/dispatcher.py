"""Demo data of the dispatcher: providers for every channel pointing at the provider simulator (which
posts its delivery receipts back through the gateway), send policies, approved templates, and a first
batch of messages so that the 360° view and message lists have something to show."""

import json
import os
import urllib.request

SERVICE = "dispatcher"
CHANNELS = ["sms", "push", "wechat", "wecom", "call", "email"]


def _configure_simulator(gateway_url, providers):
    """Tells the simulator where each channel's receipts go (the gateway's callback) and with which secret."""
    simulator = os.environ.get("LATTICE_SIMULATOR_URL", "")
    if not simulator:
        return
    targets = {ch: {"url": f"{gateway_url}/api/v1/receipts/{p['id']}", "secret": p["receiptSecret"]}
               for ch, p in providers.items() if p.get("receiptSecret")}
    req = urllib.request.Request(simulator + "/control/config", method="PUT",
                                 data=json.dumps({"receiptTargets": targets, "receiptDelayMs": 200}).encode("utf-8"))
    req.add_header("Content-Type", "application/json")
    urllib.request.urlopen(req, timeout=10).read()


def load(api, bank):
    simulator = os.environ.get("LATTICE_SIMULATOR_URL", "") or "http://127.0.0.1:8090"
    api.login("hq_operator", bank.demo_password)
    providers = {}
    for channel in CHANNELS:
        # The create's answer (replayed for the same key) is the only place the receipt secret appears.
        _, body, _ = api.request("POST", "/api/v1/providers",
                                 {"channel": channel, "name": f"模拟{channel}网关", "endpoint": simulator + "/send",
                                  "ratePerSecond": 200, "timeoutMs": 3000},
                                 {"Idempotency-Key": f"demo-provider-{channel}"})
        providers[channel] = body
        bank.note("provider", f"模拟{channel}网关", True)
    _configure_simulator(api.base_url, providers)
    api.request("PUT", "/api/v1/policies", {"smsSignature": "【Lattice银行】"})
    templates = {
        "sms": {"channel": "sms", "name": "信用卡分期优惠", "kind": "marketing",
                "body": "【Lattice银行】尊敬的{{name}}，您的信用卡账单可享分期手续费8折，详情 {{link:https://bank.example/installment}} 回T退订"},
        "push": {"channel": "push", "name": "手机银行新功能", "kind": "marketing",
                 "body": "{{name}}您好，手机银行上线一键转账，快来体验"},
        "inbox": {"channel": "inbox", "name": "账单提醒（站内信）", "kind": "transactional", "title": "账单提醒",
                  "body": "{{name}}您好，您本月的账单已出，请按时还款。"},
        "fund": {"channel": "push", "name": "稳健理财推荐", "kind": "marketing", "productRiskLevel": "R2",
                 "body": "稳健增利理财R2开放申购。理财非存款，产品有风险，投资须谨慎。"},
    }
    ids = {}
    for key, body in templates.items():
        _, created, _ = api.request("POST", "/api/v1/templates", body, {"Idempotency-Key": f"demo-template-{key}"})
        ids[key] = created["id"]
        bank.note("template", body["name"], True)
    # Templates are approved by someone other than their author: a head-office approver.
    api.login("admin", os.environ["LATTICE_ADMIN_PASSWORD"])
    created = api.create("/api/v1/users", {"username": "hq_approver", "password": bank.demo_password,
                                           "orgId": bank.head_office_id, "roles": ["approver"]}, "user-hq_approver")
    bank.note("user", "hq_approver", created)
    bank.add_login("hq_approver", bank.demo_password, f"总行 ({bank.head_office_id})", "approver")
    api.login("hq_approver", bank.demo_password)
    for key, template_id in ids.items():
        current = api.get(f"/api/v1/templates/{template_id}")
        if current["status"] != "approved":
            api.request("POST", f"/api/v1/templates/{template_id}:approve")
    api.login("hq_operator", bank.demo_password)
    messages = []
    for i in range(1, 21):
        customer = f"C{100000 + i}"
        messages.append({"customerId": customer, "templateId": ids["push"], "key": f"demo-push-{customer}", "campaignId": "demo"})
        messages.append({"customerId": customer, "templateId": ids["inbox"], "key": f"demo-inbox-{customer}"})
        messages.append({"customerId": customer, "templateId": ids["fund"], "key": f"demo-fund-{customer}", "campaignId": "demo-fund"})
    api.request("POST", "/api/v1/messages", {"messages": messages})
    bank.note("messages", "首批演示消息", True)
