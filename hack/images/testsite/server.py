"""A small HTTP server for test sites: every GET answers 200 with the pod, node and zone serving it.

POD_NAME, NODE_NAME and ZONE come from the downward API. /healthz is for readiness probes.
"""

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDENTITY = {key: os.environ.get(var, "") for key, var in (("pod", "POD_NAME"), ("node", "NODE_NAME"), ("zone", "ZONE"))}
BODY = (json.dumps(IDENTITY) + "\n").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:  # one line per request is too many
        pass


def main() -> None:
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    # PID 1 gets no default SIGTERM handler: exit at once, so pods stop without the grace timeout.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"serving {IDENTITY} on :{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
