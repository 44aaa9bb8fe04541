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
        try:
            got = base64.b64decode(sig.removeprefix("v1,"), validate=True)
        except ValueError:  # not base64: not ours
            continue
        if sig.startswith("v1,") and hmac.compare_digest(got, want):
            return True
    return False


def process(msg_id, body):
    """Your work: here it prints what arrived."""
    delivery = json.loads(body)
    print("received", delivery["event"], msg_id, delivery["data"].get("assetId"), flush=True)


SECRET = os.environ["UNIASSET_WEBHOOK_SECRET"]
seen, lock = set(), threading.Lock()  # use your database: a retry or a resend repeats the webhook-id


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:  # far above any delivery
            self.send_response(413)
            self.end_headers()
            return
        body = self.rfile.read(length)  # the raw bytes: never re-encoded JSON
        if not verify(SECRET, self.headers, body):
            self.send_response(401)
            self.end_headers()
            return
        # Claim the id before the work, so a copy arriving meanwhile is not
        # processed twice; give it back if the work fails, so the retry does it.
        msg_id = self.headers["webhook-id"]
        with lock:
            dup = msg_id in seen
            seen.add(msg_id)
        if dup:
            print("duplicate", msg_id, flush=True)
        else:
            try:
                process(msg_id, body)
            except Exception:
                with lock:
                    seen.discard(msg_id)
                self.send_response(500)  # retried later
                self.end_headers()
                return
        self.send_response(204)  # within 10 s; do slow work after answering
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Receiver).serve_forever()
