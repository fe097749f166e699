"""Upload and download throughput of one local file with the official Python SDK
(e2b==2.45.1), the twin of the Rust `files-transfer` binary.

    python files_transfer.py FILE

Streams FILE into a new sandbox (`files.write` with a file object), streams it back
(`files.read(format="stream")`) to FILE.down, checks the size and prints one JSON line.
Each transfer starts after `sync`, as in `make bench`.
"""

import json
import os
import sys
import time

from e2b import Sandbox


def main():
    path = sys.argv[1]
    size = os.path.getsize(path)
    sandbox = Sandbox.create()
    try:
        os.sync()
        started = time.perf_counter()
        with open(path, "rb") as f:
            sandbox.files.write("/tmp/bench.bin", f)
        up = time.perf_counter() - started

        os.sync()
        started = time.perf_counter()
        copied = 0
        with open(path + ".down", "wb") as out:
            for chunk in sandbox.files.read("/tmp/bench.bin", format="stream"):
                out.write(chunk)
                copied += len(chunk)
        down = time.perf_counter() - started
        os.remove(path + ".down")
        if copied != size:
            raise SystemExit(f"downloaded {copied} of {size} bytes")
    finally:
        sandbox.kill()
    mib = size / (1024 * 1024)
    print(json.dumps({
        "sdk": "e2b-python",
        "mib": round(mib),
        "upload_s": round(up, 2),
        "upload_mib_s": round(mib / up, 1),
        "download_s": round(down, 2),
        "download_mib_s": round(mib / down, 1),
    }))


if __name__ == "__main__":
    main()
