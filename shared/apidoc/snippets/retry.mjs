// Send a write so that no retry can ever apply it twice: one Idempotency-Key
// per change, the same on every retry of it.
const BASE_URL = "__BASE_URL__";

async function send(path, body, idempotencyKey) {
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(BASE_URL + path, {
        method: "POST",
        headers: {
          "Authorization": `Bearer ${process.env.UNIASSET_API_KEY}`,
          "Content-Type": "application/json",
          "Idempotency-Key": idempotencyKey,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30000), // a hung connection is no answer
      });
    } catch (err) {
      // No answer: the write may or may not have happened. The same key makes the retry safe.
      if (attempt >= 5) throw err;
      await pause(attempt);
      continue;
    }
    // A proxy in between can answer a 502 or 504 that is not JSON.
    const answer = await res.json().catch(() => ({}));
    if (res.ok) {
      return { status: res.status, replayed: res.headers.get("Idempotent-Replayed") === "true", answer };
    }
    const code = answer.error?.code;
    const again = res.status === 429 || res.status >= 500 || code === "IDEMPOTENCY_IN_PROGRESS";
    if (!again || attempt >= 5) {
      throw new Error(`${res.status} ${code}: ${answer.error?.message}`); // fix it, or keep the change for later
    }
    await pause(attempt, Number(res.headers.get("Retry-After")));
  }
}

// Retry-After when the API gives one (at most a minute); else about 0.5 s, 1 s, 2 s, 4 s, with jitter.
function pause(attempt, retryAfter) {
  const ms = retryAfter > 0 ? Math.min(retryAfter, 60) * 1000 : Math.min(30000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The key names the change in your system (record ERP-17, its version 1), not the attempt.
const result = await send(
  "/api/integrations/assets/create",
  { name: "Forklift A-17", categoryName: "Vehicles", statusName: "ACTIVE", externalId: "ERP-17" },
  "erp-asset-ERP-17-v1",
);
console.log(result.status, result.replayed ? "replayed" : "applied", result.answer.assetId);
