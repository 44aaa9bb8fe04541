// Package integrationapi serves POST /api/integrations/assets/*: the API-key
// authenticated writes that ERP and IoT systems make.
package integrationapi

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uniasset/integrations/shared/adminroutes"
	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/apilog"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/idempotency"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/ratelimit"
	"github.com/uniasset/integrations/shared/redact"
	"github.com/uniasset/integrations/shared/tenant"
)

// API holds what the handlers need.
type API struct {
	Keys        *apikey.Service
	Assets      *asset.Store
	Idempotency *idempotency.Store
	Log         *apilog.Writer
	Now         func() time.Time
	// Limiter holds each tenant's request limit (ratelimit.Table in
	// IntegrationsTable); Rate and Burst are the default a tenant profile may override.
	Limiter     ratelimit.Limiter
	Rate, Burst int
	refusals    atomic.Int64 // 429s this instance answered, for the sampled log line
}

// Routes lists what this function serves; template.yaml routes the same (a test checks).
var Routes = httpapi.RoutesOf((&API{}).endpoints())

func (a *API) endpoints() []httpapi.Endpoint {
	post := func(path string, perm apikey.Permission, op operation) httpapi.Endpoint {
		return httpapi.Endpoint{Route: httpapi.Route{Method: http.MethodPost, Pattern: path}, Handler: a.endpoint(perm, op)}
	}
	return []httpapi.Endpoint{
		post("/api/integrations/assets/create", apikey.AssetCreate, a.create),
		post("/api/integrations/assets/update", apikey.AssetUpdate, onAsset(a, http.StatusOK, a.update)),
		post("/api/integrations/assets/maintenance", apikey.MaintenanceCreate, onAsset(a, http.StatusCreated, a.maintenance)),
		post("/api/integrations/assets/maintenance/update", apikey.MaintenanceUpdate, onAsset(a, http.StatusOK, a.updateMaintenance)),
		post("/api/integrations/assets/assignment", apikey.AssignmentUpdate, onAsset(a, http.StatusOK, a.assignment)),
		post("/api/integrations/assets/geo-position", apikey.AssetLocation, onAsset(a, http.StatusOK, a.geoPosition)),
		post("/api/integrations/assets/documents", apikey.DocumentWrite, onAsset(a, http.StatusCreated, a.document)),
		post("/api/integrations/assets/documents/update", apikey.DocumentWrite, onAsset(a, http.StatusOK, a.updateDocument)),
	}
}

// Handler returns the router for the integration routes. This function is also
// API Gateway's $default route, so it answers every unknown path (404) and every
// wrong method on the admin function's paths (405).
func (a *API) Handler() http.Handler {
	rt := httpapi.NewRouter()
	rt.Mount(a.endpoints())
	rt.Reserve(adminroutes.Routes)
	return rt
}

// call is one authenticated request as an operation sees it.
type call struct {
	principal   apikey.Principal
	body        []byte
	idemKey     string // empty without an Idempotency-Key
	fingerprint string
	claim       *idempotency.Claim // held for idemKey; nil without one
}

// mark is the record of this request's write, made in the write's own
// transaction, so a retry that takes over a lost claim knows it happened.
func (c call) mark(ref string) asset.Mark {
	if c.claim == nil {
		return nil
	}
	m := c.claim.Mark(ref)
	return &m
}

// applied reports whether an earlier run of this request already wrote.
func (c call) applied() bool { return c.claim != nil && c.claim.Applied != "" }

func (c call) tenantID() string { return c.principal.Key.TenantID }
func (c call) actor() string    { return "apikey:" + c.principal.Key.ID }

// operation validates and executes; it returns the success status and body.
type operation func(ctx context.Context, c call) (int, any, error)

// endpoint wraps an operation with the contract's check order (key →
// tenant limit → the key's IP allowlist → plan → permission → body →
// target), idempotency, and the API call log.
func (a *API) endpoint(perm apikey.Permission, op operation) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		start := a.Now()
		rc := httpapi.RequestContext(ctx)
		principal, err := a.Keys.Authenticate(ctx, r.Header.Get("Authorization"), apikey.Caller{IP: rc.HTTP.SourceIP, UserAgent: r.UserAgent()})
		var limited *apikey.LookupsLimited
		if errors.As(err, &limited) {
			err = a.Keys.Sources.Policy().Refuse(w.Header(), limited.RetryAfter)
			a.sampleRefusal(ctx, "key lookups", "")
		}
		if err != nil {
			// No tenant is known, so nothing goes to any tenant's activity log.
			httpapi.WriteError(w, r, err)
			return
		}
		if err := a.admit(ctx, w.Header(), principal); err != nil {
			// No API log entry: one per refused request would let a flood
			// write as fast as it is refused (admit samples the refusals).
			httpapi.WriteError(w, r, err)
			return
		}
		body, bodyErr := httpapi.ReadBody(r)
		status, respBody, errCode, replayed := a.run(ctx, r, perm, principal, body, bodyErr, op)
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		httpapi.WriteBody(w, status, respBody, apierror.Code(errCode))

		entry := apilog.Entry{
			TenantID: principal.Key.TenantID, Method: r.Method, Endpoint: r.URL.Path, Status: status, ErrorCode: errCode,
			APIKeyID: principal.Key.ID, APIKeyName: principal.Key.Name, SourceIP: rc.HTTP.SourceIP,
			// Everything taken from the request goes through the same redaction as its body.
			UserAgent: redact.String(r.UserAgent()), RequestID: rc.RequestID, DurationMs: a.Now().Sub(start).Milliseconds(),
			IdempotencyKey: redact.String(r.Header.Get("Idempotency-Key")), Replayed: replayed,
			RequestHeaders: redact.Headers(r.Header), RequestBody: redact.JSON(body), ResponseBody: redact.JSON(respBody),
		}
		// The write already happened; losing its log line is bad but must not turn success into failure.
		if err := a.Log.Write(context.WithoutCancel(ctx), entry, start); err != nil {
			httpapi.Logger(ctx).Error("api call log write failed", "error", err.Error(), "tenantId", entry.TenantID)
		}
	}
}

// limits are what a request takes: a slot of its tenant's limit and, when
// its key has one, of the key's own limit within it (a share of the
// tenant's items: the same one write), and how clients see them.
type limits struct {
	key    ratelimit.Key
	tenant ratelimit.Policy
	own    *ratelimit.Policy // the key's own limit (nil: none)
	share  ratelimit.Share
}

// Bounds of a tenant's override: no tenant may take the HTTP API's shared
// throttle (1,000 rps, burst 2,000) whole.
const maxRate, maxBurst = 1000, 2000

func (a *API) limits(p apikey.Principal) limits {
	rate, burst := a.Rate, a.Burst
	if p.Profile.APIRateLimit > 0 {
		rate = min(p.Profile.APIRateLimit, maxRate)
	}
	if p.Profile.APIRateBurst > 0 {
		burst = min(p.Profile.APIRateBurst, maxBurst)
	}
	ls := limits{
		key:    ratelimit.Key{TenantID: p.Key.TenantID, Scope: keyschema.RateAPI},
		tenant: ratelimit.Policy{Name: "tenant", Limit: ratelimit.PerSecond(float64(max(rate, 1)), max(burst, 1))},
	}
	if own, id := p.Key.OwnLimit(); own != nil {
		l := ratelimit.Limit{Every: own.Period() / time.Duration(own.Requests), Burst: own.Requests}
		ls.own = &ratelimit.Policy{Name: "key", Limit: l}
		ls.share = ratelimit.Share{ID: id, Limit: l}
	}
	return ls
}

// admit takes a slot of the request's limits, or answers RATE_LIMITED with
// the headers of the one that refused. Admitted responses carry the policies.
func (a *API) admit(ctx context.Context, h http.Header, p apikey.Principal) error {
	ls := a.limits(p)
	var (
		ok, byKey bool
		wait      time.Duration
		err       error
	)
	if ls.own == nil {
		ok, wait, err = ratelimit.Admit(ctx, a.Limiter, ls.key, ls.tenant.Limit, a.Now())
	} else {
		ok, byKey, wait, err = ratelimit.AdmitShare(ctx, a.Limiter, ls.key, ls.tenant.Limit, ls.share, a.Now())
	}
	switch {
	case err != nil:
		return err
	case !ok && byKey:
		a.sampleRefusal(ctx, "key "+p.Key.ID, p.Key.TenantID)
		return ls.own.Refuse(h, wait)
	case !ok:
		a.sampleRefusal(ctx, "tenant", p.Key.TenantID)
		return ls.tenant.Refuse(h, wait)
	}
	fields := ls.tenant.Field()
	if ls.own != nil {
		fields += ", " + ls.own.Field()
	}
	h.Set("RateLimit-Policy", fields)
	return nil
}

// sampleRefusal logs the first refusal and every 100th after it: enough to
// see a flood in the function log without writing a line per request.
func (a *API) sampleRefusal(ctx context.Context, limit, tenantID string) {
	if n := a.refusals.Add(1); n%100 == 1 {
		httpapi.Logger(ctx).Warn("rate limited", "limit", limit, "tenantId", tenantID, "refusedSoFar", n)
	}
}

// run performs the checks in contract order and the operation, and renders the response.
func (a *API) run(ctx context.Context, r *http.Request, perm apikey.Permission, p apikey.Principal, body []byte, bodyErr error, op operation) (status int, resp []byte, code string, replayed bool) {
	fail := func(err error) (int, []byte, string, bool) {
		status, body, code := httpapi.RenderError(ctx, err)
		return status, body, string(code), false
	}
	switch source := httpapi.RequestContext(ctx).HTTP.SourceIP; {
	case !p.Key.AllowsIP(source):
		return fail(apierror.New(apierror.IPNotAllowed, "this API key is not allowed from %s; its allowlist is in the API key registry", source))
	case !p.Profile.Plan.AtLeast(tenant.Enterprise):
		return fail(apierror.New(apierror.EnterpriseRequired, "the integration API requires the Enterprise plan"))
	case !p.Key.Has(perm):
		return fail(apierror.New(apierror.InsufficientPermissions, "this API key lacks the %q permission", perm))
	case bodyErr != nil:
		return fail(bodyErr)
	}
	c := call{principal: p, body: body}
	if key := r.Header.Get("Idempotency-Key"); key != "" || len(r.Header.Values("Idempotency-Key")) > 0 {
		if len(r.Header.Values("Idempotency-Key")) != 1 || !idempotency.ValidKey(key) {
			return fail(apierror.New(apierror.Validation, "Idempotency-Key must be 1-%d visible ASCII characters without commas", idempotency.MaxKeyLength))
		}
		c.idemKey, c.fingerprint = key, idempotency.Fingerprint(r.Method, r.URL.Path, body)
	}
	if c.idemKey == "" {
		st, v, err := op(ctx, c)
		if err != nil {
			return fail(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fail(err)
		}
		return st, b, "", false
	}

	claim, stored, err := a.Idempotency.Begin(ctx, c.tenantID(), c.idemKey, c.fingerprint, a.Now())
	if err != nil {
		return fail(err)
	}
	if stored != nil {
		return stored.Status, []byte(stored.Body), "", true
	}
	c.claim = claim
	st, v, err := op(ctx, c)
	var b []byte
	if err == nil {
		b, err = json.Marshal(v)
	}
	if err != nil {
		// Only successes are kept: a retry after any error runs the request again.
		if rerr := claim.Release(context.WithoutCancel(ctx)); rerr != nil {
			httpapi.Logger(ctx).Error("idempotency release failed", "error", rerr.Error())
		}
		return fail(err)
	}
	if cerr := claim.Complete(context.WithoutCancel(ctx), idempotency.Response{Status: st, Body: string(b)}); cerr != nil {
		// The write succeeded; if the record is lost, the lease expires and a retry
		// re-runs, which the create's derived id keeps from duplicating.
		httpapi.Logger(ctx).Error("idempotency complete failed", "error", cerr.Error())
	}
	return st, b, "", false
}

func decode[T interface{ ValidateAt(time.Time) error }](body []byte, dst T, now time.Time) error {
	return httpapi.DecodeValid(body, dst, func() error { return dst.ValidateAt(now) })
}

// derivedID makes a create with an Idempotency-Key always choose the same id,
// so a retry that takes over an abandoned claim (its first run wrote, then
// died or lost the stored response) finds the record instead of making a
// second one. It comes from the claim's seed, which lives as long as the
// key's record: the same key and body sent after the record expired create anew.
func derivedID(prefix string, c call) string {
	sum := sha256.Sum256([]byte(c.tenantID() + "\x00" + c.claim.Seed))
	return prefix + strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

func (a *API) create(ctx context.Context, c call) (int, any, error) {
	var in asset.CreateInput
	if err := decode(c.body, &in, a.Now()); err != nil {
		return 0, nil, err
	}
	id := asset.NewID()
	if c.claim != nil {
		id = derivedID("asset_", c)
	}
	if c.applied() { // an earlier run created it
		return a.answerCreated(ctx, c, id)
	}
	created, err := a.Assets.Create(ctx, c.tenantID(), id, c.actor(), in, c.mark(id))
	// The id is new (random, or derived from this request's key), so an asset
	// already under it is this request's own: written by an earlier run, or
	// by the SDK's first try of this very call when its answer was lost and
	// the SDK retried.
	if errors.Is(err, asset.ErrExists) {
		existing, found, gerr := a.Assets.Get(ctx, c.tenantID(), id)
		if gerr == nil && found {
			return http.StatusCreated, existing, nil
		}
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, created, nil
}

// onAsset builds an operation for a body that names an existing asset: decode and
// validate it, resolve assetId or externalId within the caller's tenant, then act.
func onAsset[T any, PT interface {
	*T
	ValidateAt(time.Time) error
	Target() asset.Ref
}](a *API, status int, act func(ctx context.Context, c call, assetID string, in PT) (any, error)) operation {
	return func(ctx context.Context, c call) (int, any, error) {
		in := PT(new(T))
		if err := decode(c.body, in, a.Now()); err != nil {
			return 0, nil, err
		}
		id, err := a.Assets.Resolve(ctx, c.tenantID(), in.Target())
		if err != nil {
			return 0, nil, err
		}
		v, err := act(ctx, c, id, in)
		return status, v, err
	}
}

// answerCreated answers a create whose earlier run already wrote the asset.
func (a *API) answerCreated(ctx context.Context, c call, id string) (int, any, error) {
	got, err := a.current(ctx, c, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, got, nil
}

// current answers a request whose earlier run already wrote (and lost its
// stored response): the asset as it is now, without writing again.
func (a *API) current(ctx context.Context, c call, id string) (asset.Asset, error) {
	got, found, err := a.Assets.Get(ctx, c.tenantID(), id)
	if err == nil && !found {
		err = apierror.New(apierror.NotFound, "no asset %q", id)
	}
	return got, err
}

func (a *API) update(ctx context.Context, c call, id string, in *asset.UpdateInput) (any, error) {
	if c.applied() {
		return a.current(ctx, c, id)
	}
	return a.Assets.Update(ctx, c.tenantID(), id, c.actor(), *in, c.mark(id))
}

func (a *API) maintenance(ctx context.Context, c call, assetID string, in *asset.MaintenanceInput) (any, error) {
	id, chosen := asset.NewMaintenanceID(), in.MaintenanceID != nil
	switch {
	case chosen:
		id = *in.MaintenanceID
	case c.claim != nil:
		id = derivedID("mnt_", c)
	}
	m, err := addRecord(ctx, c, id, chosen,
		func(id string) (asset.Maintenance, bool, error) {
			return a.Assets.GetMaintenance(ctx, c.tenantID(), assetID, id)
		},
		func(id string) (asset.Maintenance, error) {
			return a.Assets.AddMaintenance(ctx, c.tenantID(), assetID, id, c.actor(), *in, c.mark(id))
		})
	if chosen && errors.Is(err, asset.ErrExists) {
		return nil, apierror.New(apierror.Conflict, "asset %q already has a maintenance record %q", assetID, id)
	}
	return m, err
}

func (a *API) document(ctx context.Context, c call, assetID string, in *asset.DocumentInput) (any, error) {
	id, chosen := asset.NewDocumentID(), in.DocumentID != nil
	switch {
	case chosen:
		id = *in.DocumentID
	case c.claim != nil:
		id = derivedID("doc_", c)
	}
	d, err := addRecord(ctx, c, id, chosen,
		func(id string) (asset.Document, bool, error) {
			return a.Assets.GetDocument(ctx, c.tenantID(), assetID, id)
		},
		func(id string) (asset.Document, error) {
			return a.Assets.AddDocument(ctx, c.tenantID(), assetID, id, c.actor(), *in, c.mark(id))
		})
	if chosen && errors.Is(err, asset.ErrExists) {
		return nil, apierror.New(apierror.Conflict, "asset %q already has a document %q", assetID, id)
	}
	return d, err
}

// addRecord adds a record under id to an asset, answering as create does
// when an earlier run of the request (or the SDK's lost first try) already
// wrote it. An id the caller chose can be someone else's: then ErrExists is
// returned, not the stored record.
func addRecord[T any](ctx context.Context, c call, id string, chosen bool, get func(id string) (T, bool, error), add func(id string) (T, error)) (T, error) {
	if c.applied() { // an earlier run added it
		if v, found, err := get(id); err != nil || found {
			return v, err
		}
	}
	v, err := add(id)
	if errors.Is(err, asset.ErrExists) && !chosen { // this request's own record, as in create
		if existing, found, gerr := get(id); gerr == nil && found {
			return existing, nil
		}
	}
	return v, err
}

func (a *API) updateDocument(ctx context.Context, c call, assetID string, in *asset.DocumentUpdateInput) (any, error) {
	return updateRecord(c,
		func() (asset.Document, bool, error) {
			return a.Assets.GetDocument(ctx, c.tenantID(), assetID, in.DocumentID)
		},
		func() (asset.Document, error) {
			return a.Assets.UpdateDocument(ctx, c.tenantID(), assetID, c.actor(), *in, c.mark(in.DocumentID))
		},
		apierror.New(apierror.NotFound, "asset %q has no document %q", assetID, in.DocumentID))
}

func (a *API) updateMaintenance(ctx context.Context, c call, assetID string, in *asset.MaintenanceUpdateInput) (any, error) {
	return updateRecord(c,
		func() (asset.Maintenance, bool, error) {
			return a.Assets.GetMaintenance(ctx, c.tenantID(), assetID, in.MaintenanceID)
		},
		func() (asset.Maintenance, error) {
			return a.Assets.UpdateMaintenance(ctx, c.tenantID(), assetID, c.actor(), *in, c.mark(in.MaintenanceID))
		},
		apierror.New(apierror.NotFound, "asset %q has no maintenance record %q", assetID, in.MaintenanceID))
}

// updateRecord changes a record of an asset, or, when an earlier run of the
// request applied the change, answers with the record as it is.
func updateRecord[T any](c call, get func() (T, bool, error), update func() (T, error), missing error) (T, error) {
	if c.applied() {
		v, found, err := get()
		if err == nil && !found {
			err = missing
		}
		return v, err
	}
	return update()
}

func (a *API) assignment(ctx context.Context, c call, id string, in *asset.AssignmentInput) (any, error) {
	if c.applied() {
		return a.current(ctx, c, id)
	}
	return a.Assets.Assign(ctx, c.tenantID(), id, c.actor(), *in, c.mark(id))
}

// geoPosition acknowledges a reading older than the stored one without applying it; the body shows what is kept.
func (a *API) geoPosition(ctx context.Context, c call, id string, in *asset.GeoPositionInput) (any, error) {
	if c.applied() {
		return a.current(ctx, c, id)
	}
	kept, _, err := a.Assets.SetPosition(ctx, c.tenantID(), id, c.actor(), *in, c.mark(id))
	return kept, err
}
