"""Starting the simulator: route discovery, TLS, the server thread."""
import importlib
import os
import pkgutil
import threading

from . import tls
from .state import SIM

_loaded = False
ROUTE_PACKAGES = ("drsim.routes", "drsim.arm", "drsim.databricks")


def load_routes():
    """Import every module under drsim/routes/, drsim/arm/ and drsim/databricks/ (recursively) once, so
    their @route decorators register. A package that does not exist is skipped."""
    global _loaded
    if _loaded:
        return
    for pkg_name in ROUTE_PACKAGES:
        try:
            pkg = importlib.import_module(pkg_name)
        except ModuleNotFoundError as e:
            if e.name == pkg_name:
                continue
            raise
        for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
            importlib.import_module(info.name)
    _loaded = True


class Running:
    """A started simulator: .port .ca .server .thread; stop() shuts it down."""

    def __init__(self, server, thread, paths):
        self.server = server
        self.thread = thread
        self.port = server.server_address[1]
        self.ca = paths["ca"]
        self.paths = paths

    def url(self, kind, path=""):
        return SIM.config.url(kind, path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        if SIM.config.state_dir:
            SIM.save()


def start(port=0, state_dir=None, tls_dir=None, access_log=None, host="127.0.0.1"):
    """Start the simulator in a background thread; -> Running. tls_dir holds the generated CA
    and certificate (default: state_dir, else a temp dir)."""
    from .http import make_server
    load_routes()
    if tls_dir is None:
        if state_dir:
            tls_dir = state_dir
        else:
            import tempfile
            tls_dir = tempfile.mkdtemp(prefix="drsim-tls-")
    paths = tls.generate(tls_dir)
    from .blob import BLOBS
    BLOBS.config_dir = tls_dir       # sim-up writes azurite.json there once Azurite listens
    log = open(access_log, "a", encoding="utf-8") if access_log else None  # noqa: SIM115 - server lifetime
    server = make_server(host, port, paths["cert"], paths["key"], log)
    SIM.config.port = server.server_address[1]
    if state_dir:
        os.makedirs(state_dir, exist_ok=True)
        SIM.config.state_dir = state_dir
        snap = os.path.join(state_dir, "state.json")
        if os.path.exists(snap):
            SIM.load(snap)
    t = threading.Thread(target=server.serve_forever, name="drsim", daemon=True)
    t.start()
    return Running(server, t, paths)
