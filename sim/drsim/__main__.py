"""python -m drsim --port P [--state-dir D] [--tls-dir T] [--ready-file F]: run the simulator
in the foreground until SIGTERM/SIGINT."""
import argparse
import json
import os
import signal
import sys
import threading

from . import app
from .state import SIM


def main(argv=None):
    ap = argparse.ArgumentParser(prog="drsim", description="drhost local cloud simulator")
    ap.add_argument("--port", type=int, default=0, help="HTTPS port on 127.0.0.1 (0 = any free one)")
    ap.add_argument("--state-dir", help="persist state here (state.json), and keep TLS files here")
    ap.add_argument("--tls-dir", help="where to write ca.pem/server.pem/server.key")
    ap.add_argument("--ready-file", help="write {port, ca, client_secret} as JSON here once serving")
    ap.add_argument("--access-log", help="append one line per request to this file")
    ap.add_argument("--lro-polls", type=int, default=None, help="polls before an ARM LRO completes")
    args = ap.parse_args(argv)
    if args.lro_polls is not None:
        SIM.config.lro_polls = args.lro_polls
    running = app.start(port=args.port, state_dir=args.state_dir, tls_dir=args.tls_dir,
                        access_log=args.access_log)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    info = {"port": running.port, "ca": os.path.abspath(running.ca), "pid": os.getpid(),
            "tenant_id": SIM.config.tenant_id, "subscription_id": SIM.config.subscription_id,
            "client_id": SIM.config.client_id, "client_secret": SIM.config.client_secret,
            "account_id": SIM.config.account_id}
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
        os.replace(tmp, args.ready_file)
    print(f"drsim: serving on https://127.0.0.1:{running.port} (hosts *.{SIM.config.domain})", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
