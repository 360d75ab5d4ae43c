"""Azure Resource Manager (management host): every path goes to the generic engine."""
from . import engine, graph
from .ids import parse
from ..errors import ArmError
from ..http import route


@route("management", "*", "/{path:path}", case_insensitive=True)
def arm(req):
    if req.path.rstrip("/").lower() == "/providers/microsoft.resourcegraph/resources":
        req.stats_name = f"{req.method} Microsoft.ResourceGraph/resources"
        return graph.query(req)
    # Stats per method and resource type ("PUT Microsoft.Network/virtualNetworks"), for benches.
    try:
        rid = parse(req.path)
        low = req.path.lower()
        if "/operationstatuses/" in low or "/operationresults/" in low:
            req.stats_name = f"{req.method} (operation status)"
        else:
            req.stats_name = f"{req.method} {rid.type or rid.kind}"
    except ArmError:
        pass
    return engine.dispatch(req)
