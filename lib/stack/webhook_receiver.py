"""The demo's webhook receiver: what a CRM's side of Kopek's webhooks looks like.

`cargo xtask up` starts it on a loopback port, registers it as a webhook endpoint and writes
the endpoint's signing secret to --secret-file. Every request is checked with the Standard
Webhooks reference library (`standardwebhooks`, not Kopek's code) and printed; a repeated
event id — a retry or a replay — is recognised and said so. Answers 204 when the signature
verifies, 400 when it does not (Kopek then retries).
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

seen: set[str] = set()


def handler(secret_file: Path):
    class Receive(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if not secret_file.exists():
                self.send_response(503)
                self.end_headers()
                return
            hook = Webhook(secret_file.read_text().strip())
            try:
                event = hook.verify(body, dict(self.headers.items()))
            except WebhookVerificationError as refused:
                print(f"webhook ✗ refused: {refused}", flush=True)
                self.send_response(400)
                self.end_headers()
                return
            again = " (again: a retry or replay)" if event["id"] in seen else ""
            seen.add(event["id"])
            data = event.get("data", {})
            what = ", ".join(
                f"{k}={json.dumps(v, ensure_ascii=False)}"
                for k, v in list(data.items())[:3]
                if k != "actor"
            )
            print(
                f"webhook ✓ signature verified  #{event['sequence']:<4} {event['type']:<24} "
                f"{event['id']}{again}  {what}",
                flush=True,
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    return Receive


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret-file", type=Path, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(args.secret_file))
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
