"""Demo data of the gateway: the org tree (head office, 3 branches, 6 sub-branches) and one user per
role per branch."""

SERVICE = "gateway"

BRANCHES = [
    ("sh", "上海分行", [("sh_pudong", "浦东支行"), ("sh_xuhui", "徐汇支行")]),
    ("bj", "北京分行", [("bj_haidian", "海淀支行"), ("bj_chaoyang", "朝阳支行")]),
    ("gz", "广州分行", [("gz_tianhe", "天河支行"), ("gz_yuexiu", "越秀支行")]),
]

ROLES = ["admin", "operator", "approver", "analyst", "viewer", "account_manager"]


def load(api, bank):
    head_office = bank.head_office_id
    for branch_id, branch_name, sub_branches in BRANCHES:
        created = api.create("/api/v1/orgs", {"id": branch_id, "parentId": head_office, "kind": "branch",
                                              "name": branch_name}, "org-" + branch_id)
        bank.note("org", branch_id, created)
        for sub_id, sub_name in sub_branches:
            created = api.create("/api/v1/orgs", {"id": sub_id, "parentId": branch_id, "kind": "sub_branch",
                                                  "name": sub_name}, "org-" + sub_id)
            bank.note("org", sub_id, created)
        for role in ROLES:
            username = f"{branch_id}_{role}"
            created = api.create("/api/v1/users", {"username": username, "password": bank.demo_password,
                                                   "orgId": branch_id, "roles": [role]}, "user-" + username)
            bank.note("user", username, created)
            bank.add_login(username, bank.demo_password, f"{branch_name} ({branch_id})", role)
