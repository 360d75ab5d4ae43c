"""Launcher task of the drhost replication job in dr (see docs/replication.md).

Runs the uploaded drhost binary with the given arguments from DRHOST_HOME, streams its output
into the task log and fails the task (non-zero exit) when the replication reports a failed
object, so the job's failure notifications fire. Credentials arrive as environment variables
that the job resolves from the secret scope; nothing is printed of them.
"""
import os
import stat
import subprocess
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: launcher.py DRHOST_BINARY SCRIPT [args...]", file=sys.stderr)
        return 2
    binary, args = argv[0], argv[1:]
    home = os.environ.get("DRHOST_HOME") or os.path.dirname(os.path.dirname(binary))
    mode = os.stat(binary).st_mode
    if not mode & stat.S_IXUSR:
        # workspace files lose the executable bit: run a private copy
        local = "/tmp/drhost-launcher-bin"
        with open(binary, "rb") as src, open(local, "wb") as dst:
            dst.write(src.read())
        os.chmod(local, 0o700)
        binary = local
    proc = subprocess.run([binary, *args], cwd=home, check=False)
    print(f"drhost exited with {proc.returncode}", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
