package apidoc

import (
	"bytes"
	"html/template"
	"regexp"
)

var backticks = regexp.MustCompile("`([^`]+)`")

// prose renders a description's `code` spans; everything else is escaped.
func prose(s string) template.HTML {
	escaped := template.HTMLEscapeString(s)
	return template.HTML(backticks.ReplaceAllString(escaped, "<code>$1</code>"))
}

// HTML renders the guide as one self-contained page (no external assets).
func HTML(g Guide) ([]byte, error) {
	var b bytes.Buffer
	err := page.Execute(&b, g)
	return b.Bytes(), err
}

var page = template.Must(template.New("guide").Funcs(template.FuncMap{"prose": prose}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>UniAsset Integrations — Developer Guide</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d2433; background: #f6f7fb; }
  header { background: #1d2433; color: #fff; padding: 24px 32px; }
  header h1 { margin: 0 0 4px; font-size: 22px; }
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
</style>
</head>
<body>
<header>
  <h1>Developer Guide</h1>
  <div>Base URL <code>{{.BaseURL}}</code> · {{.Auth}}</div>
</header>
<main>
{{range $i, $e := .Endpoints}}
<section class="endpoint" id="{{$e.OperationID}}">
  <h2>{{$e.Summary}}</h2>
  <div class="route"><span class="method">{{$e.Method}}</span>{{$e.Path}}</div>
  <p>{{prose $e.Description}} <span class="perm">Permission: <code>{{$e.Permission}}</code></span></p>
  <div class="example"><h3>curl</h3>
    <button class="copy" type="button" data-target="curl-{{$i}}">Copy</button>
    <pre id="curl-{{$i}}"><code>{{$e.Curl}}</code></pre></div>
  <div class="example"><h3>JavaScript</h3>
    <button class="copy" type="button" data-target="js-{{$i}}">Copy</button>
    <pre id="js-{{$i}}"><code>{{$e.JavaScript}}</code></pre></div>
</section>
{{end}}
</main>
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
`))
