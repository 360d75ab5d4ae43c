"""Errors a handler raises; the server turns them into each service's error JSON."""


class SimError(Exception):
    """Base class: status + JSON body."""

    status = 500

    def body(self):
        raise NotImplementedError

    def headers(self):
        return {}


class DatabricksError(SimError):
    """Databricks REST error: {"error_code", "message", "details"}."""

    def __init__(self, status, error_code, message, details=None):
        super().__init__(f"{status} {error_code}: {message}")
        self.status = int(status)
        self.error_code = error_code
        self.message = message
        self.details = details if details is not None else []

    def body(self):
        return {"error_code": self.error_code, "message": self.message, "details": self.details}


class ArmError(SimError):
    """ARM error: {"error": {"code", "message", "target", "details"}}."""

    def __init__(self, status, code, message, target=None, details=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = int(status)
        self.code = code
        self.message = message
        self.target = target
        self.details = details if details is not None else []

    def body(self):
        err = {"code": self.code, "message": self.message}
        if self.target is not None:
            err["target"] = self.target
        err["details"] = self.details
        return {"error": err}


class EntraError(SimError):
    """Entra ID token endpoint error: {"error", "error_description", "error_codes", ...}."""

    def __init__(self, status, error, aadsts, description):
        super().__init__(f"{status} {error}: AADSTS{aadsts}: {description}")
        self.status = int(status)
        self.error = error
        self.aadsts = int(aadsts)
        self.description = description

    def body(self):
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.aadsts}: {self.description}",
            "error_codes": [self.aadsts],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }


class PlainError(SimError):
    """A generic JSON error for hosts without a service shape (admin, imds)."""

    def __init__(self, status, error, message):
        super().__init__(f"{status} {error}: {message}")
        self.status = int(status)
        self.error = error
        self.message = message

    def body(self):
        return {"error": self.error, "message": self.message}


def error_for_host(host_kind, status, code, message, headers=None):
    """Build the right error type for a host kind (used by faults and auth)."""
    if host_kind == "management":
        e = ArmError(status, code, message)
    elif host_kind in ("accounts", "workspace"):
        e = DatabricksError(status, code, message)
    elif host_kind == "login":
        e = EntraError(status, code, 50000, message)
    else:
        e = PlainError(status, code, message)
    if headers:
        extra = dict(headers)
        e.headers = lambda: extra
    return e
