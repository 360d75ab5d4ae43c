"""Fault injection: rules matched against (host kind, method, path regex), applied before the
handler runs (and before authentication, as a gateway would).

Rule fields (all optional except one effect):
  host_kind  "management" | "accounts" | "workspace" | "login" | "imds" | "admin" (None = any)
  method     "GET"... (None = any)
  path       regex searched in the request path (None = any)
  status     HTTP status to return (default 500; 429 when retry_after is set)
  code       error code in the host's error shape (default by status)
  message    error message
  rate       probability 0..1 that a matching call fails (default 1.0)
  nth        fail only the Nth matching call (1-based), then stop failing
  times      fail at most this many matching calls (None = unlimited)
  retry_after  seconds -> a Retry-After header (and status 429 unless status is given)
  latency_ms   sleep before answering (applies to every matching call, failing or not)
  lro_extra_polls  ARM: extra polls in a running state for LROs started by matching calls
  lro_fail     ARM: LROs started by matching calls end "Failed" with `code`/`message` (the resource's
               provisioningState becomes Failed); counts against `times`
"""
import random
import re
import threading
import time

from .errors import error_for_host

DEFAULT_CODES = {
    ("management", 429): "TooManyRequests", ("management", 500): "InternalServerError",
    ("management", 503): "ServiceUnavailable", ("management", 409): "Conflict",
    ("accounts", 429): "REQUEST_LIMIT_EXCEEDED", ("workspace", 429): "REQUEST_LIMIT_EXCEEDED",
    ("accounts", 503): "TEMPORARILY_UNAVAILABLE", ("workspace", 503): "TEMPORARILY_UNAVAILABLE",
    ("accounts", 500): "INTERNAL_ERROR", ("workspace", 500): "INTERNAL_ERROR",
    ("login", 429): "temporarily_unavailable", ("login", 500): "server_error",
}
FIELDS = ("host_kind", "method", "path", "status", "code", "message", "rate", "nth", "times",
          "retry_after", "latency_ms", "lro_extra_polls", "lro_fail")


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self._next = 0
        self.rng = random.Random(1234)

    def add(self, **spec):
        """Add a rule; -> its dict (with "id", "matched", "fired" counters)."""
        unknown = set(spec) - set(FIELDS)
        if unknown:
            raise ValueError(f"fault rule: unknown field(s) {sorted(unknown)}; expected some of {list(FIELDS)}")
        if spec.get("path") is not None:
            try:
                re.compile(spec["path"])
            except re.error as e:
                raise ValueError(f"fault rule: path is not a valid regex: {e}") from None
        rate = spec.get("rate")
        if rate is not None and not (0 <= float(rate) <= 1):
            raise ValueError("fault rule: rate must be within 0..1")
        with self.lock:
            self._next += 1
            rule = {k: spec.get(k) for k in FIELDS}
            if rule["method"]:
                rule["method"] = rule["method"].upper()
            rule.update(id=self._next, matched=0, fired=0)
            self.rules.append(rule)
            return dict(rule)

    def clear(self, rule_id=None):
        with self.lock:
            if rule_id is None:
                self.rules = []
            else:
                self.rules = [r for r in self.rules if r["id"] != int(rule_id)]

    def list(self):
        with self.lock:
            return [dict(r) for r in self.rules]

    @staticmethod
    def _matches(rule, host_kind, method, path):
        if rule["host_kind"] and rule["host_kind"] != host_kind:
            return False
        if rule["method"] and rule["method"] != method:
            return False
        if rule["path"] and not re.search(rule["path"], path):
            return False
        return True

    def before(self, req):
        """Sleep and/or raise according to the matching rules."""
        sleep_ms = 0
        failure = None
        with self.lock:
            for rule in self.rules:
                if not self._matches(rule, req.host_kind, req.method, req.path):
                    continue
                if rule["latency_ms"]:
                    sleep_ms = max(sleep_ms, int(rule["latency_ms"]))
                if rule["lro_fail"]:
                    continue          # applied when the operation starts (lro_failure), not here
                has_failure = rule["status"] or rule["code"] or rule["retry_after"] is not None or rule["nth"] \
                    or rule["rate"] is not None
                if not has_failure:
                    continue
                rule["matched"] += 1
                if failure is not None:
                    continue
                if rule["times"] is not None and rule["fired"] >= int(rule["times"]):
                    continue
                if rule["nth"]:
                    if rule["matched"] != int(rule["nth"]):
                        continue
                elif rule["rate"] is not None and self.rng.random() >= float(rule["rate"]):
                    continue
                rule["fired"] += 1
                failure = rule
        if sleep_ms:
            time.sleep(sleep_ms / 1000.0)
        if failure is not None:
            status = int(failure["status"] or (429 if failure["retry_after"] is not None else 500))
            code = failure["code"] or DEFAULT_CODES.get((req.host_kind, status), f"SimulatedFault{status}")
            msg = failure["message"] or f"simulated fault (rule {failure['id']})"
            headers = {}
            if failure["retry_after"] is not None:
                headers["Retry-After"] = str(int(failure["retry_after"]))
            raise error_for_host(req.host_kind, status, code, msg, headers)

    def lro_failure(self, host_kind, method, path):
        """-> (code, message) if a rule makes this LRO fail, else None."""
        with self.lock:
            for rule in self.rules:
                if rule["lro_fail"] and self._matches(rule, host_kind, method, path):
                    if rule["times"] is not None and rule["fired"] >= int(rule["times"]):
                        continue
                    rule["matched"] += 1
                    rule["fired"] += 1
                    return (rule["code"] or "InternalServerError",
                            rule["message"] or f"simulated operation failure (rule {rule['id']})")
        return None

    def lro_extra_polls(self, host_kind, method, path):
        extra = 0
        with self.lock:
            for rule in self.rules:
                if rule["lro_extra_polls"] and self._matches(rule, host_kind, method, path):
                    extra = max(extra, int(rule["lro_extra_polls"]))
        return extra


FAULTS = Faults()
