"""Azure Resource Manager (management host): every path goes to the generic engine."""
from ..arm import engine
from ..http import route


@route("management", "*", "/{path:path}", case_insensitive=True)
def arm(req):
    return engine.dispatch(req)
