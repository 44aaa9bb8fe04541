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

const secret = process.env.UNIASSET_WEBHOOK_SECRET;
const seen = new Set(); // use your database: a retry or a resend repeats the webhook-id

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks); // the raw bytes: never re-encoded JSON
    if (req.method !== "POST" || !verify(secret, req.headers, body)) {
      res.writeHead(401).end("invalid signature");
      return;
    }
    const id = req.headers["webhook-id"];
    if (seen.has(id)) {
      console.log("duplicate", id);
      res.writeHead(204).end(); // acknowledged before: acknowledge again
      return;
    }
    seen.add(id);
    const delivery = JSON.parse(body);
    console.log("received", delivery.event, id, delivery.data.assetId);
    res.writeHead(204).end(); // within 10 s; do slow work after answering
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
