"""sim-up / sim-down: start the simulator and Azurite in the background, print the environment.

  python -m drsim.harness up [--port P] [--state-dir D] [--env-file F] [--no-azurite]
  python -m drsim.harness down [--env-file F]        (or DRHOST_SIM_PIDS in the environment)
"""
import argparse
import base64
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from .state import ACCOUNT_ID, MI_CLIENT_ID, SUBSCRIPTION_ID, TENANT_ID

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # sim
AZURITE = os.path.join(HERE, "node_modules", ".bin", "azurite-blob")
# Azurite's blob service through a launcher that lets the simulator add storage accounts (drsim.blob)
AZURITE_LAUNCHER = os.path.join(HERE, "bin", "azurite-blob.js")
BLOB_ACCOUNT = "drhoststate"
DOMAIN = "sim.localhost"


def _wait_file(path, proc, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        if proc.poll() is not None:
            raise SystemExit(f"sim-up: {what} exited with code {proc.returncode} before it was ready")
        time.sleep(0.05)
    raise SystemExit(f"sim-up: {what} not ready after {timeout}s")


def _https_ok(port, ca, host, path, timeout=20):
    ctx = ssl.create_default_context(cafile=ca)
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                with ctx.wrap_socket(s, server_hostname=host) as t:
                    t.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
                    data = t.recv(64)
                    if data.startswith(b"HTTP/1.1"):
                        return data.split(b" ")[1].decode()
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise SystemExit(f"sim-up: https://{host}:{port}{path} did not answer ({last})")


def _spawn(cmd, log_path, env=None):
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True, cwd=HERE)


def up(args):
    state_dir = args.state_dir
    run_dir = os.path.abspath(state_dir) if state_dir else tempfile.mkdtemp(prefix="drsim-")
    os.makedirs(run_dir, exist_ok=True)
    if not state_dir:
        open(os.path.join(run_dir, ".ephemeral"), "w").close()   # sim-down removes the directory
    ready = os.path.join(run_dir, "ready.json")
    if os.path.exists(ready):
        os.unlink(ready)
    cmd = [sys.executable, "-m", "drsim", "--port", str(args.port), "--tls-dir", run_dir,
           "--ready-file", ready, "--access-log", os.path.join(run_dir, "access.log")]
    if state_dir:
        cmd += ["--state-dir", run_dir]
    sim = _spawn(cmd, os.path.join(run_dir, "sim.log"))
    pids = [sim.pid]
    try:
        _wait_file(ready, sim, 30, "the simulator")
        with open(ready, encoding="utf-8") as f:
            info = json.load(f)
        port, ca = info["port"], info["ca"]
        _https_ok(port, ca, f"admin.{DOMAIN}", "/health")
        env = {
            "DRHOST_CA_BUNDLE": ca,
            "AZURE_AUTHORITY_HOST": f"https://login.{DOMAIN}:{port}",
            "AZURE_TENANT_ID": TENANT_ID,
            "AZURE_CLIENT_ID": info["client_id"],
            "AZURE_CLIENT_SECRET": info["client_secret"],
            "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION_ID,
            "DRHOST_ARM_ENDPOINT": f"https://management.{DOMAIN}:{port}",
            "DATABRICKS_ACCOUNT_HOST": f"https://accounts.{DOMAIN}:{port}",
            "DATABRICKS_ACCOUNT_ID": ACCOUNT_ID,
            "DRHOST_IMDS_ENDPOINT": f"https://imds.{DOMAIN}:{port}/metadata/identity/oauth2/token",
            "DRHOST_SIM_MI_CLIENT_ID": MI_CLIENT_ID,
            "DRHOST_SIM_ADMIN": f"https://admin.{DOMAIN}:{port}",
        }
        if not args.no_azurite:
            if not os.path.exists(AZURITE):
                raise SystemExit(f"sim-up: Azurite is not installed ({AZURITE}); run sim/setup.sh")
            key = base64.b64encode(secrets.token_bytes(32)).decode()
            accounts_file = os.path.join(run_dir, "azurite-accounts")
            secret = secrets.token_hex(32)
            if state_dir and os.path.exists(os.path.join(run_dir, "azurite.json")):
                with open(os.path.join(run_dir, "azurite.json"), encoding="utf-8") as f:
                    secret = json.load(f)["secret"]      # the same keys for the kept accounts
            aenv = dict(os.environ, AZURITE_ACCOUNTS=f"{BLOB_ACCOUNT}:{key}",
                        DRSIM_AZURITE_ACCOUNTS_FILE=accounts_file)
            alog = os.path.join(run_dir, "azurite.log")
            if os.path.exists(alog):
                os.unlink(alog)
            acmd = [shutil.which("node") or "node", AZURITE_LAUNCHER,
                    "--blobHost", "127.0.0.1", "--blobPort", str(args.blob_port),
                    "--cert", os.path.join(run_dir, "server.pem"), "--key", os.path.join(run_dir, "server.key"),
                    "--skipApiVersionCheck", "--disableTelemetry", "--loose"]
            if state_dir:
                acmd += ["--location", os.path.join(run_dir, "azurite")]
            else:
                acmd += ["--inMemoryPersistence", "--extentMemoryLimit", "256"]
            az = _spawn(acmd, alog, env=aenv)
            pids.append(az.pid)
            bport = _azurite_port(alog, az)
            _https_ok(bport, ca, "127.0.0.1", f"/{BLOB_ACCOUNT}?comp=list")
            # the simulator (drsim.blob) and tools/deltacheck.py find the data accounts here
            cfg = {"endpoint": f"https://127.0.0.1:{bport}", "accounts_file": accounts_file,
                   "secret": secret, "ca": ca}
            tmp = os.path.join(run_dir, "azurite.json.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(cfg, f)
            os.replace(tmp, os.path.join(run_dir, "azurite.json"))
            env.update({"DRHOST_BLOB_DATA_ENDPOINT": f"https://127.0.0.1:{bport}/{{account}}",
                        "DRHOST_BLOB_ENDPOINT": f"https://127.0.0.1:{bport}/{BLOB_ACCOUNT}",
                        "DRHOST_BLOB_ACCOUNT": BLOB_ACCOUNT, "DRHOST_BLOB_KEY": key})
        env["DRHOST_SIM_PIDS"] = " ".join(str(p) for p in pids)
        env["DRHOST_SIM_DIR"] = run_dir
    except BaseException:
        _kill(pids)
        raise
    lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    if args.env_file:
        tmp = args.env_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(lines)
        os.replace(tmp, args.env_file)
    sys.stdout.write(lines)
    return 0


def _azurite_port(log_path, proc, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                m = re.search(r"successfully listens on https://127\.0\.0\.1:(\d+)", f.read())
            if m:
                return int(m.group(1))
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"sim-up: Azurite exited with code {proc.returncode}; see {log_path}")
        time.sleep(0.1)
    raise SystemExit(f"sim-up: Azurite did not start within {timeout}s; see {log_path}")


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _kill(pids):
    for p in pids:
        try:
            os.killpg(p, signal.SIGTERM)      # each child leads its own session/group
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
    end = time.monotonic() + 5
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.05)
    for p in pids:
        if _alive(p):
            try:
                os.killpg(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _reap_zombies():
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def down(args):
    pids = os.environ.get("DRHOST_SIM_PIDS", "")
    run_dir = os.environ.get("DRHOST_SIM_DIR", "")
    if args.env_file:
        if not os.path.exists(args.env_file):
            print(f"sim-down: {args.env_file} not found (nothing running?)", file=sys.stderr)
            return 0
        with open(args.env_file, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"export DRHOST_SIM_PIDS=(.*)$", line.strip())
                if m:
                    pids = shlex.split(m.group(1))[0] if m.group(1) else ""
                m = re.match(r"export DRHOST_SIM_DIR=(.*)$", line.strip())
                if m:
                    run_dir = shlex.split(m.group(1))[0] if m.group(1) else ""
    plist = [int(p) for p in pids.split() if p.isdigit()]
    if not plist:
        print("sim-down: no DRHOST_SIM_PIDS (nothing to stop)", file=sys.stderr)
        return 0
    _kill(plist)
    _reap_zombies()
    if args.env_file and os.path.exists(args.env_file):
        os.unlink(args.env_file)
    if run_dir and os.path.exists(os.path.join(run_dir, ".ephemeral")):
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"sim-down: stopped {' '.join(map(str, plist))}", file=sys.stderr)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="drsim.harness")
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up")
    u.add_argument("--port", type=int, default=0)
    u.add_argument("--blob-port", type=int, default=0)
    u.add_argument("--state-dir")
    u.add_argument("--env-file")
    u.add_argument("--no-azurite", action="store_true")
    d = sub.add_parser("down")
    d.add_argument("--env-file")
    args = ap.parse_args(argv)
    return up(args) if args.cmd == "up" else down(args)


if __name__ == "__main__":
    sys.exit(main())
