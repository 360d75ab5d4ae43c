"""Admin host: region outages (drsim/outage.py). No authentication (loopback only).

  POST   /outages {"region": "westeurope", "mode": "503"|"drop"|"hang", "hang_s": 30}
  GET    /outages            -> {"outages": [...]}
  DELETE /outages[?region=R] -> the region (or every region) answers again
"""
from ..errors import PlainError
from ..http import route
from ..outage import OUTAGES


@route("admin", "GET", "/outages")
def outages_list(req):
    return {"outages": OUTAGES.list()}


@route("admin", "POST", "/outages")
def outages_add(req):
    b = req.json
    if not isinstance(b, dict):
        raise PlainError(400, "invalid_outage", "body must be a JSON object with `region`")
    unknown = sorted(set(b) - {"region", "mode", "hang_s"})
    if unknown:
        raise PlainError(400, "invalid_outage", f"unknown field(s): {', '.join(unknown)}")
    try:
        return 201, OUTAGES.set(b.get("region"), str(b.get("mode", "503")), b.get("hang_s", 30.0))
    except ValueError as e:
        raise PlainError(400, "invalid_outage", str(e)) from None


@route("admin", "DELETE", "/outages")
def outages_clear(req):
    region = req.query.get("region")
    return {"cleared": OUTAGES.clear(region)}
