"""A small client for the Lattice public API (through the gateway), for the demo-bank loader.

Plain python3 standard library. Creates are idempotent: each carries an Idempotency-Key, and a 409
(already there) counts as success, so the loader can run any number of times.
"""
import json
import urllib.error
import urllib.request


class APIError(Exception):
    """A response that is neither success nor an accepted 409, with the server's error body."""

    def __init__(self, method, path, status, body):
        self.status = status
        self.body = body
        shown = json.dumps(body, ensure_ascii=False) if isinstance(body, (dict, list)) else body
        super().__init__(f"{method} {path} -> {status}: {shown}")


class LatticeAPI:
    def __init__(self, base_url, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token = None

    def request(self, method, path, body=None, headers=None):
        """Returns (status, decoded JSON body or None, response headers). Raises APIError for 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, _decode(resp.read()), resp.headers
        except urllib.error.HTTPError as err:
            raise APIError(method, path, err.code, _decode(err.read())) from None

    def get(self, path):
        return self.request("GET", path)[1]

    def create(self, path, body, key):
        """POST a create; True when created now, False when it was already there (409 conflict, or
        the replay of an earlier create with the same Idempotency-Key)."""
        try:
            _, _, headers = self.request("POST", path, body, {"Idempotency-Key": "demo-" + key})
            return headers.get("idempotent-replay") != "true"
        except APIError as err:
            # 409 idempotency_in_progress means "the same create is running now", not "exists".
            if err.status == 409 and _code(err.body) != "idempotency_in_progress":
                return False
            raise

    def login(self, username, password):
        """Logs in and keeps the token for later calls; returns the login response."""
        _, body, _ = self.request("POST", "/api/v1/auth/login", {"username": username, "password": password})
        self.token = body["token"]
        return body


def _code(body):
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return None


def _decode(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
