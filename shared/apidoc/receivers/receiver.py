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
        if not sig.startswith("v1,"):
            continue
        try:
            got = base64.b64decode(sig[3:], validate=True)
        except ValueError:  # not base64: not ours
            continue
        if hmac.compare_digest(got, want):
            return True
    return False


def process(msg_id, body):
    """Your work: here it prints what arrived."""
    delivery = json.loads(body)
    print("received", delivery["event"], msg_id, delivery["data"].get("assetId"), flush=True)


SECRET = os.environ.get("UNIASSET_WEBHOOK_SECRET", "")
try:  # without the secret every signature would be checked with an empty key
    ok = SECRET.startswith("whsec_") and len(base64.b64decode(SECRET[6:], validate=True)) >= 24
except ValueError:
    ok = False
if not ok:
    sys.exit("UNIASSET_WEBHOOK_SECRET must be the webhook's whsec_ secret")
# Use your database (keep ids at least 14 days: a recovery resends that far
# back): a retry or a resend repeats the webhook-id. False: being done.
done, lock = {}, threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_GET(self):
        """The endpoint verification (POST .../verify): echo the challenge."""
        answer = json.dumps({"verification": self.headers.get("X-UniAsset-Challenge", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

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
        # done twice (nor acknowledged before the work is); give it back if
        # the work fails, so the retry does it.
        msg_id = self.headers["webhook-id"]
        with lock:
            state = done.get(msg_id)  # None: new; False: being done; True: done
            if state is None:
                done[msg_id] = False
        if state is True:
            print("duplicate", msg_id, flush=True)
        elif state is False:
            self.send_response(409)  # another copy is being done: retried later
            self.end_headers()
            return
        else:
            try:
                process(msg_id, body)
            except Exception:
                with lock:
                    del done[msg_id]
                self.send_response(500)  # retried later
                self.end_headers()
                return
            with lock:
                done[msg_id] = True
        self.send_response(204)  # within 10 s; do slow work after answering
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Receiver).serve_forever()
