package apidoc

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strings"
)

// The page is written with html.EscapeString rather than html/template: the
// template package's reflection keeps every exported method of the binary
// alive, which added about 4 MiB (and cold-start time) to the admin function.
// Every value below is escaped; only prose adds markup, around escaped text.

var backticks = regexp.MustCompile("`([^`]+)`")

// prose renders a description's `code` spans; everything else is escaped.
func prose(s string) string {
	return backticks.ReplaceAllString(html.EscapeString(s), "<code>$1</code>")
}

// HTML renders the guide as one self-contained page (no external assets).
func HTML(g Guide) ([]byte, error) {
	esc := html.EscapeString
	var b bytes.Buffer
	b.WriteString(pageTop)
	fmt.Fprintf(&b, `<header>
  <h1>Developer Guide</h1>
  <div>Base URL <code>%s</code> · %s · <a href="%s">OpenAPI document</a></div>
</header>
<main>
`, esc(g.BaseURL), esc(g.Auth), esc(g.OpenAPI))
	writeErrors(&b, g.Errors)
	for i, e := range g.Endpoints {
		fmt.Fprintf(&b, `
<section class="endpoint" id="%s">
  <h2>%s</h2>
  <div class="route"><span class="method">%s</span>%s</div>
  <p>%s <span class="perm">Permission: <code>%s</code></span></p>
%s  <div class="example"><h3>curl</h3>
    <button class="copy" type="button" data-target="curl-%d">Copy</button>
    <pre id="curl-%d"><code>%s</code></pre></div>
  <div class="example"><h3>JavaScript</h3>
    <button class="copy" type="button" data-target="js-%d">Copy</button>
    <pre id="js-%d"><code>%s</code></pre></div>
  <div class="example"><h3>Response %d</h3>
    <pre><code>%s</code></pre></div>
</section>
`, esc(e.OperationID), esc(e.Summary), esc(e.Method), esc(e.Path), prose(e.Description), esc(e.Permission),
			fieldsTable(e.Fields), i, i, esc(e.Curl), i, i, esc(e.JavaScript), e.Status, esc(e.Response))
	}
	if len(g.Operations) > 0 {
		b.WriteString(`
<section class="endpoint" id="webhook-operations">
  <h2>Key and webhook operations</h2>
  <p>Owner routes to roll and restrict keys and to keep webhooks healthy: they take the admin token (<code>UNIASSET_TOKEN</code>), not an API key, and read ids from <code>KEY_ID</code>, <code>WEBHOOK_ID</code>, <code>ROW_ID</code> (an Activity Log row) and <code>RECOVERY_ID</code>.</p>
`)
		for i, e := range g.Operations {
			fmt.Fprintf(&b, `  <div class="example" id="%s"><h3>%s</h3>
    <div class="route"><span class="method">%s</span>%s</div>
    <p>%s</p>
%s    <div class="example"><button class="copy" type="button" data-target="op-%d">Copy</button>
    <pre id="op-%d"><code>%s</code></pre></div></div>
`, esc(e.OperationID), esc(e.Summary), esc(e.Method), esc(e.Path), prose(e.Description), fieldsTable(e.Fields), i, i, esc(e.Curl))
		}
		b.WriteString("</section>\n")
	}
	b.WriteString(`
<section class="events" id="events">
  <h2>Webhook events</h2>
  <p>Each delivery is a signed POST of <code>{"event", "timestamp", "data"}</code>; <code>data</code> holds these fields.</p>
  <table>
`)
	for _, e := range g.Events {
		fmt.Fprintf(&b, "    <tr><td><code>%s</code></td><td>%s<div class=\"fields\">%s</div></td></tr>\n",
			esc(e.Name), prose(e.Description), esc(strings.Join(e.DataFields, ", ")))
	}
	b.WriteString("  </table>\n</section>\n")
	writeReceiving(&b, g.Receiving)
	b.WriteString(pageBottom)
	return b.Bytes(), nil
}

// fieldsTable renders a body's fields.
func fieldsTable(fields []Field) string {
	if len(fields) == 0 {
		return ""
	}
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString("  <table class=\"fields-table\">\n    <tr><th>field</th><th>type</th><th>required</th><th>limits</th><th></th></tr>\n")
	for _, f := range fields {
		req := ""
		if f.Required {
			req = "yes"
		}
		fmt.Fprintf(&b, "    <tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			esc(f.Name), esc(f.Type), req, prose(f.Limits), prose(f.Description))
	}
	b.WriteString("  </table>\n")
	return b.String()
}

// writeErrors renders "Errors" and "Retrying safely".
func writeErrors(b *bytes.Buffer, e Errors) {
	esc := html.EscapeString
	fmt.Fprintf(b, `
<section class="events" id="errors">
  <h2>Errors</h2>
  <p>Every error has one shape; <code>fields</code> (on 400) lists every problem in the body. Bodies are at most 64 KiB.</p>
  <pre><code>%s</code></pre>
  <table>
    <tr><th>status</th><th>code</th><th>when</th><th>retry?</th></tr>
`, esc(e.Envelope))
	for _, c := range e.Codes {
		fmt.Fprintf(b, "    <tr><td>%d</td><td><code>%s</code></td><td>%s</td><td>%s</td></tr>\n", c.Status, esc(c.Code), prose(c.When), prose(c.Retry))
	}
	b.WriteString(`  </table>
</section>
<section class="events" id="retrying">
  <h2>Retrying safely</h2>
  <ul>
`)
	for _, rule := range e.Idempotency {
		fmt.Fprintf(b, "    <li>%s</li>\n", prose(rule))
	}
	fmt.Fprintf(b, `  </ul>
  <div class="example" id="retry"><h3>Node.js · %s</h3>
    <p><code>%s</code> (run it twice: the second answer is the first, replayed)</p>
    <button class="copy" type="button" data-target="retry-code">Copy</button>
    <pre id="retry-code"><code>%s</code></pre></div>
</section>
`, esc(e.Retry.File), esc(e.Retry.Run), esc(e.Retry.Code))
}

// writeReceiving renders "Receiving webhooks": the headers, the rules and
// a copyable receiver per language.
func writeReceiving(b *bytes.Buffer, r Receiving) {
	esc := html.EscapeString
	b.WriteString(`
<section class="events" id="receiving">
  <h2>Receiving webhooks</h2>
  <p>Each delivery is a POST with these headers:</p>
  <table>
`)
	for _, h := range r.Headers {
		fmt.Fprintf(b, "    <tr><td><code>%s</code></td><td>%s</td></tr>\n", esc(h.Name), prose(h.Value))
	}
	b.WriteString("  </table>\n  <ul>\n")
	for _, rule := range r.Rules {
		fmt.Fprintf(b, "    <li>%s</li>\n", prose(rule))
	}
	b.WriteString("  </ul>\n")
	writeVerify(b, r.Verify)
	b.WriteString("  <p>A complete receiver that does all of this, in three languages (each is run against real deliveries by our tests):</p>\n")
	for i, rv := range r.Receivers {
		fmt.Fprintf(b, `  <div class="example" id="receiver-%d"><h3>%s · %s</h3>
    <p><code>%s</code></p>
    <button class="copy" type="button" data-target="rcv-%d">Copy</button>
    <pre id="rcv-%d"><code>%s</code></pre></div>
`, i, esc(rv.Language), esc(rv.File), esc(rv.Run), i, i, esc(rv.Code))
	}
	b.WriteString("</section>\n")
}

// writeVerify renders "Checking a signature by hand": the steps, then the
// worked example as a table of the values to reproduce.
func writeVerify(b *bytes.Buffer, v Verify) {
	esc := html.EscapeString
	b.WriteString(`  <h3 id="verify">Checking a signature by hand</h3>
  <p>Without a library, <code>webhook-signature</code> is checked in these steps:</p>
  <ol>
`)
	for _, s := range v.Steps {
		fmt.Fprintf(b, "    <li>%s</li>\n", prose(s))
	}
	e := v.Example
	b.WriteString("  </ol>\n  <p>Worked example: with these inputs your code must produce these signatures.</p>\n  <table class=\"fields-table\" id=\"verify-example\">\n")
	for _, row := range [][2]string{
		{"secret", e.Secret}, {"webhook-id", e.WebhookID}, {"webhook-timestamp", e.WebhookTimestamp}, {"body (raw bytes)", e.Body},
		{"signed content", e.SignedContent}, {"webhook-signature", e.WebhookSignature},
		{"X-UniAsset-Signature (hex HMAC-SHA256 of the body, keyed by the secret string as is)", e.UniAssetSignature},
	} {
		fmt.Fprintf(b, "    <tr><th>%s</th><td><code>%s</code></td></tr>\n", esc(row[0]), esc(row[1]))
	}
	b.WriteString("  </table>\n")
}

const pageTop = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>UniAsset Integrations — Developer Guide</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d2433; background: #f6f7fb; }
  header { background: #1d2433; color: #fff; padding: 24px 32px; }
  header h1 { margin: 0 0 4px; font-size: 22px; }
  header a { color: #9cc3ff; }
  main { max-width: 980px; margin: 0 auto; padding: 24px 32px 48px; }
  section.endpoint { background: #fff; border: 1px solid #dde1ea; border-radius: 8px; padding: 20px 24px; margin: 0 0 24px; }
  h2 { font-size: 18px; margin: 0 0 8px; }
  .route { font-family: ui-monospace, monospace; font-size: 14px; }
  .method { background: #2f6fdf; color: #fff; border-radius: 4px; padding: 1px 8px; margin-right: 6px; }
  .perm { color: #5b6478; font-size: 13px; }
  .example { position: relative; margin: 12px 0 0; }
  .example h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: #5b6478; margin: 0 0 4px; }
  pre { background: #111827; color: #e5e7eb; padding: 14px 16px; border-radius: 6px; overflow-x: auto; margin: 0; }
  button.copy { position: absolute; top: 24px; right: 8px; font-size: 12px; padding: 4px 10px; border-radius: 4px;
    border: 1px solid #4b5563; background: #374151; color: #fff; cursor: pointer; }
  button.copy.copied { background: #15803d; border-color: #15803d; }
  section.events { background: #fff; border: 1px solid #dde1ea; border-radius: 8px; padding: 20px 24px; }
  section.events td { vertical-align: top; padding: 6px 12px 6px 0; border-top: 1px solid #eef0f5; }
  .fields { color: #5b6478; font-size: 13px; font-family: ui-monospace, monospace; }
  table.fields-table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
  table.fields-table td, table.fields-table th { text-align: left; padding: 3px 10px 3px 0; border-top: 1px solid #eef0f5; vertical-align: top; }
</style>
</head>
<body>
`

const pageBottom = `</main>
<script>
  // Copies the example's exact text; falls back to a hidden textarea where the Clipboard API is unavailable.
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("copy refused");
  }
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.target).innerText;
      try {
        await copyText(text);
        button.textContent = "Copied";
        button.classList.add("copied");
      } catch (e) {
        button.textContent = "Press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; button.classList.remove("copied"); }, 2000);
    });
  }
</script>
</body>
</html>
`
