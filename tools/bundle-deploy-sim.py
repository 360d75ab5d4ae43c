#!/usr/bin/env python3
"""Stand-in for `databricks bundle deploy -t TARGET` on the local simulator (the Databricks CLI
cannot be installed here). Resolves databricks.yml for the target (tools/bundle_resolve.py), then
creates or resets each job through the Jobs API of the workspace at --host, as the CLI does:
settings carry `deployment` (kind BUNDLE, the bundle's metadata path) and `edit_mode` UI_LOCKED,
a job of this bundle and target is found again by that metadata path and job key tag, and a job
removed from the bundle is deleted.

    tools/bundle-deploy-sim.py --host URL --target T [--bundle DIR] [--var name=value]...

Auth, as the CLI in the bundle workflow: with DATABRICKS_AUTH_TYPE=github-oidc, the GitHub OIDC
token (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, audience DATABRICKS_TOKEN_AUDIENCE) is exchanged at the
workspace's /oidc/v1/token for DATABRICKS_CLIENT_ID under its federation policy; otherwise an
Entra client-credentials token (AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET, exported by tools/with-sim.sh). TLS trusts DRHOST_CA_BUNDLE.
FIDELITY: not the CLI. Artifacts are not built or uploaded (relative library paths point at
where the CLI would upload them), permissions are not applied, only jobs are deployed, and the
deployment state lives in the jobs' own tags instead of a state file in the workspace.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import requests  # noqa: E402

import bundle_resolve  # noqa: E402

DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
JOBS = "/api/2.2/jobs"
KEY_TAG, TARGET_TAG = "bundle_job_key", "bundle_target"


def _loopback_localhost():
    """Resolve *.localhost (the simulator's hosts) to 127.0.0.1, as libcurl does."""
    import socket
    orig = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
            host = "127.0.0.1"
        return orig(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo


def _github_oidc_token(session, host):
    env = os.environ
    missing = [k for k in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                           "DATABRICKS_CLIENT_ID", "DATABRICKS_TOKEN_AUDIENCE") if not env.get(k)]
    if missing:
        raise SystemExit(f"bundle-deploy-sim: github-oidc needs {', '.join(missing)}")
    sep = "&" if "?" in env["ACTIONS_ID_TOKEN_REQUEST_URL"] else "?"
    r = session.get(f"{env['ACTIONS_ID_TOKEN_REQUEST_URL']}{sep}audience={env['DATABRICKS_TOKEN_AUDIENCE']}",
                    headers={"Authorization": "Bearer " + env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]})
    r.raise_for_status()
    r = session.post(host + "/oidc/v1/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": r.json()["value"], "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "client_id": env["DATABRICKS_CLIENT_ID"], "scope": "all-apis"})
    if r.status_code != 200:
        raise SystemExit(f"bundle-deploy-sim: token exchange for {env['DATABRICKS_CLIENT_ID']}: "
                         f"{r.status_code} {r.text}")
    return r.json()["access_token"]


def _token(session, host):
    env = os.environ
    if env.get("DATABRICKS_AUTH_TYPE") == "github-oidc":
        return _github_oidc_token(session, host)
    missing = [k for k in ("AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
                           "AZURE_CLIENT_SECRET") if not env.get(k)]
    if missing:
        raise SystemExit(f"bundle-deploy-sim: set {', '.join(missing)} (run under tools/with-sim.sh)")
    r = session.post(f"{env['AZURE_AUTHORITY_HOST'].rstrip('/')}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
                     data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"],
                           "client_secret": env["AZURE_CLIENT_SECRET"], "scope": DATABRICKS_SCOPE})
    r.raise_for_status()
    return r.json()["access_token"]


def _workspace_paths(job, root_path):
    """Relative library paths (../dist/*.whl) -> where the CLI uploads artifacts."""
    for env in job.get("environments") or []:
        spec = env.get("spec") or {}
        spec["dependencies"] = [f"{root_path}/artifacts/.internal/{os.path.basename(d)}"
                                if d.startswith(".") else d for d in spec.get("dependencies") or []]
    for t in job.get("tasks") or []:
        for lib in t.get("libraries") or []:
            for k, v in list(lib.items()):
                if isinstance(v, str) and v.startswith("."):
                    lib[k] = f"{root_path}/artifacts/.internal/{os.path.basename(v)}"
    return job


def deploy(host, target, bundle, overrides, session=None, out=print):
    r = bundle_resolve.resolve(bundle, target, overrides)
    s = session or requests.Session()
    s.trust_env = False     # REQUESTS_CA_BUNDLE in the environment would replace the CA below
    s.verify = os.environ.get("DRHOST_CA_BUNDLE") or True
    host = host.rstrip("/")
    s.headers["Authorization"] = "Bearer " + _token(s, host)
    root_path = r["root_path"]
    meta = f"{root_path}/state/metadata.json"

    def call(method, path, **kw):
        resp = s.request(method, host + path, **kw)
        if resp.status_code >= 300:
            raise SystemExit(f"bundle-deploy-sim: {method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.text else {}

    mine, token = {}, None
    while True:
        q = {"limit": 100, **({"page_token": token} if token else {})}
        page = call("GET", JOBS + "/list", params=q)
        for j in page.get("jobs") or []:
            st = j.get("settings") or {}
            tags = st.get("tags") or {}
            if (st.get("deployment") or {}).get("metadata_file_path") == meta and \
                    tags.get(TARGET_TAG) == target:
                mine[tags.get(KEY_TAG)] = j["job_id"]
        token = page.get("next_page_token")
        if not token:
            break
    for key, job in sorted(r["jobs"].items()):
        job = _workspace_paths(dict(job, deployment={"kind": "BUNDLE", "metadata_file_path": meta},
                                    edit_mode="UI_LOCKED"), root_path)
        job.pop("permissions", None)
        job["tags"] = dict(job.get("tags") or {}, **{KEY_TAG: key, TARGET_TAG: target})
        states = ", ".join(f"{f} {job[f].get('pause_status', 'UNPAUSED')}"
                           for f in bundle_resolve.TRIGGER_FIELDS if isinstance(job.get(f), dict))
        if key in mine:
            call("POST", JOBS + "/reset", json={"job_id": mine[key], "new_settings": job})
            out(f"bundle-deploy-sim: {target} {host}: {key} ({job['name']}) updated job "
                f"{mine[key]}{'; ' + states if states else ''}")
        else:
            jid = call("POST", JOBS + "/create", json=job)["job_id"]
            out(f"bundle-deploy-sim: {target} {host}: {key} ({job['name']}) created job {jid}"
                f"{'; ' + states if states else ''}")
    for key, jid in sorted(mine.items(), key=lambda kv: str(kv[0])):
        if key not in r["jobs"]:
            call("POST", JOBS + "/delete", json={"job_id": jid})
            out(f"bundle-deploy-sim: {target} {host}: {key} removed from the bundle, deleted job {jid}")
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--bundle", default=os.path.join(HERE, "..", "examples", "bundle"))
    ap.add_argument("--var", action="append", default=[], help="name=value")
    a = ap.parse_args(argv)
    ov = dict(kv.split("=", 1) for kv in a.var if "=" in kv)
    if os.environ.get("DRHOST_CA_BUNDLE"):
        _loopback_localhost()
    try:
        deploy(a.host, a.target, os.path.normpath(a.bundle), ov)
    except bundle_resolve.BundleError as e:
        print(f"bundle-deploy-sim: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
