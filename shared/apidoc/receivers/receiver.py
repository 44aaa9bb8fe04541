# A UniAsset webhook receiver: verifies each delivery's signature, skips
# one it has processed (by webhook-id), and acknowledges with 204.
# Run: UNIASSET_WEBHOOK_SECRET=whsec_... PORT=8080 python3 receiver.py
import base64, hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret, headers, body):
    """webhook-signature (Standard Webhooks): an HMAC-SHA256 of "id.timestamp.body",
    keyed by the base64 part of the whsec_ secret, is one of its space-separated
    "v1,<base64>" values; and the timestamp is recent."""
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    want = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    for sig in headers.get("webhook-signature", "").split():
        if sig.startswith("v1,") and hmac.compare_digest(base64.b64decode(sig[3:]), want):
            return True
    return False


SECRET = os.environ["UNIASSET_WEBHOOK_SECRET"]
seen, lock = set(), threading.Lock()  # use your database: a retry or a resend repeats the webhook-id


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))  # the raw bytes
        if not verify(SECRET, self.headers, body):
            self.send_response(401)
            self.end_headers()
            return
        msg_id = self.headers["webhook-id"]
        with lock:
            dup = msg_id in seen
            seen.add(msg_id)
        if dup:
            print("duplicate", msg_id, flush=True)
        else:
            delivery = json.loads(body)
            print("received", delivery["event"], msg_id, delivery["data"].get("assetId"), flush=True)
        self.send_response(204)  # within 10 s; do slow work after answering
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Receiver).serve_forever()
