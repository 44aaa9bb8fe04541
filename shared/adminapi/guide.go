package adminapi

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/httpapi"
)

var (
	apiIDPattern  = regexp.MustCompile(`^[a-z0-9]{10}$`)
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// baseURL is where clients reach this API, from configuration only: the
// configured public URL (a custom domain; the local stack's own address), else
// the execute-api URL of the API this request came through, whose id API
// Gateway supplies. The request's Host header is never used: it is the
// client's to choose.
func (a *API) baseURL(r *http.Request) string {
	if a.PublicURL != "" {
		return a.PublicURL
	}
	id := httpapi.RequestContext(r.Context()).APIID
	if !apiIDPattern.MatchString(id) || !regionPattern.MatchString(a.Region) {
		return "https://YOUR-API-HOST"
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(a.Region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return "https://" + id + ".execute-api." + a.Region + "." + suffix
}

// developerGuide serves the guide generated from the OpenAPI document: JSON,
// or the HTML page when the client asks for text/html.
func (a *API) developerGuide(w http.ResponseWriter, r *http.Request, _ User) error {
	g, err := apidoc.NewGuide(a.baseURL(r))
	if err != nil {
		return err
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		page, err := apidoc.HTML(g)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(page)
		return nil
	}
	httpapi.WriteJSON(w, http.StatusOK, g)
	return nil
}

// openAPI serves the OpenAPI document the guide is made from, its servers
// naming where this API is reached.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	doc, err := apidoc.DocumentFor(a.baseURL(r))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
	return nil
}
