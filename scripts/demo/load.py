#!/usr/bin/env python3
"""Loads the demo bank through the gateway's public API. Idempotent: run it any number of times.

Environment:
  LATTICE_GATEWAY_URL      default http://127.0.0.1:8080
  LATTICE_ADMIN_USERNAME   default admin
  LATTICE_ADMIN_PASSWORD   required: the head-office admin's password
  LATTICE_DEMO_PASSWORD    the demo users' password, default Lattice#2026
  LATTICE_DEMO_SERVICES    space-separated services that are running (default: all); a module whose
                           service is not running is skipped

Each service adds its demo data as a module in this folder with `SERVICE = "<name>"` and
`load(api, bank)`, listed in MODULES in dependency order. The logins table goes to stdout, progress
to stderr.
"""
import importlib
import os
import sys

sys.dont_write_bytecode = True  # keep the checkout clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lattice_api import APIError, LatticeAPI  # noqa: E402

# Service modules, in the order their data depends on each other.
MODULES = ["gateway", "profile", "segment", "dispatcher", "rewards"]


class DemoBank:
    """What the modules share: who is logged in, the org tree's root, the logins to print."""

    def __init__(self, head_office_id, demo_password):
        self.head_office_id = head_office_id
        self.demo_password = demo_password
        self.logins = []  # (username, password, org, role)
        self.created = 0
        self.existing = 0

    def add_login(self, username, password, org, role):
        self.logins.append((username, password, org, role))

    def note(self, kind, name, created):
        if created:
            self.created += 1
        else:
            self.existing += 1
        print(f"  {kind} {name}: {'created' if created else 'already there'}", file=sys.stderr)


def main():
    url = os.environ.get("LATTICE_GATEWAY_URL", "http://127.0.0.1:8080")
    admin = os.environ.get("LATTICE_ADMIN_USERNAME", "admin")
    password = os.environ.get("LATTICE_ADMIN_PASSWORD")
    if not password:
        print("LATTICE_ADMIN_PASSWORD is required (the head-office admin's password)", file=sys.stderr)
        return 2
    running = set(os.environ.get("LATTICE_DEMO_SERVICES", "").split()) or None

    api = LatticeAPI(url)
    session = api.login(admin, password)
    head_office = session["user"]["orgId"]
    if head_office != "hq":
        print(f"note: the head office is {head_office!r}, not 'hq'; branches go below it", file=sys.stderr)
    bank = DemoBank(head_office, os.environ.get("LATTICE_DEMO_PASSWORD", "Lattice#2026"))

    for name in MODULES:
        module = importlib.import_module(name)
        if running is not None and module.SERVICE not in running:
            print(f"skipping {name}: {module.SERVICE} is not running", file=sys.stderr)
            continue
        print(f"loading {name}", file=sys.stderr)
        module.load(api, bank)
    print(f"demo bank loaded: {bank.created} created, {bank.existing} already there", file=sys.stderr)

    rows = [("username", "password", "org unit", "role")] + bank.logins
    widths = [max(_width(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


def _width(text):
    # CJK characters take two terminal columns.
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


def _pad(text, width):
    return text + " " * (width - _width(text))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except APIError as err:
        print(f"demo load failed: {err}", file=sys.stderr)
        sys.exit(1)
    except OSError as err:
        print(f"demo load failed: cannot reach the gateway: {err}", file=sys.stderr)
        sys.exit(1)
