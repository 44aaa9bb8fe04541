// A UniAsset webhook receiver: verifies each delivery's signature, skips
// one it has processed (by webhook-id), and acknowledges with 204.
// Run: UNIASSET_WEBHOOK_SECRET=whsec_... PORT=8080 node receiver.js
const crypto = require("node:crypto");
const http = require("node:http");

// webhook-signature (Standard Webhooks): an HMAC-SHA256 of "id.timestamp.body",
// keyed by the base64 part of the whsec_ secret, is one of its space-separated
// "v1,<base64>" values; and the timestamp is recent.
function verify(secret, headers, body) {
  const id = headers["webhook-id"] ?? "";
  const ts = headers["webhook-timestamp"] ?? "";
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const want = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest();
  return (headers["webhook-signature"] ?? "").split(" ").some((sig) => {
    if (!sig.startsWith("v1,")) return false;
    const got = Buffer.from(sig.slice(3), "base64");
    return got.length === want.length && crypto.timingSafeEqual(got, want);
  });
}

const secret = process.env.UNIASSET_WEBHOOK_SECRET ?? "";
// Without the secret every signature would be checked with an empty key.
if (!secret.startsWith("whsec_") || Buffer.from(secret.slice(6), "base64").length < 24) {
  console.error("UNIASSET_WEBHOOK_SECRET must be the webhook's whsec_ secret");
  process.exit(1);
}
// Use your database (keep ids at least 14 days: a recovery resends that far
// back): a retry or a resend repeats the webhook-id. false: being done.
const done = new Map();

// processDelivery is your work: here it prints what arrived.
function processDelivery(id, body) {
  const delivery = JSON.parse(body);
  console.log("received", delivery.event, id, delivery.data.assetId);
}

http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size > 1 << 20) req.destroy(); // far above any delivery
    else chunks.push(c);
  });
  req.on("end", () => {
    if (req.method === "GET") {
      // The endpoint verification (POST .../verify): echo the challenge.
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ verification: req.headers["x-uniasset-challenge"] ?? "" }));
      return;
    }
    const body = Buffer.concat(chunks); // the raw bytes: never re-encoded JSON
    if (req.method !== "POST" || !verify(secret, req.headers, body)) {
      res.writeHead(401).end("invalid signature");
      return;
    }
    // Claim the id before the work, so a copy arriving meanwhile is not
    // done twice (nor acknowledged before the work is); give it back if the
    // work fails, so the retry does it.
    const id = req.headers["webhook-id"];
    if (done.get(id) === true) {
      console.log("duplicate", id);
      res.writeHead(204).end(); // acknowledged before: acknowledge again
      return;
    }
    if (done.has(id)) {
      res.writeHead(409).end("in progress"); // another copy is being done: retried later
      return;
    }
    done.set(id, false);
    try {
      processDelivery(id, body);
    } catch (err) {
      done.delete(id);
      res.writeHead(500).end("try again"); // retried later
      return;
    }
    done.set(id, true);
    res.writeHead(204).end(); // within 10 s; do slow work after answering
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
