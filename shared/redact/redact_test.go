package redact

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestJSONRedactsByNameAtAnyDepth(t *testing.T) {
	in := `{"name":"Forklift","password":"p1","nested":{"list":[{"client_secret":"s2","ok":"fine"}],"Api-Key":"k3"},"accessToken":"t4","shipping":"kept","description":"ok"}`
	out := JSON([]byte(in))
	for _, secret := range []string{"p1", "s2", "k3", "t4"} {
		if strings.Contains(out, `"`+secret+`"`) {
			t.Errorf("%s survived: %s", secret, out)
		}
	}
	for _, kept := range []string{"Forklift", "fine", `"shipping":"kept"`, `"description":"ok"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%s was redacted: %s", kept, out)
		}
	}
}

func TestJSONRedactsByValue(t *testing.T) {
	key := "ua_live_" + strings.Repeat("ab", 32)
	in := `{"note":"my key is ` + key + `","card":4111111111111111,"spaced":"4111 1111 1111 1111","order":1234567890123,"auth":"Bearer abc.def","whsec":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`
	out := JSON([]byte(in))
	for _, secret := range []string{key, "4111111111111111", "4111 1111 1111 1111", "abc.def", "whsec_MfKQ"} {
		if strings.Contains(out, secret) {
			t.Errorf("%s survived: %s", secret, out)
		}
	}
	// 1234567890123 fails the Luhn check: an order number, not a card.
	if !strings.Contains(out, "1234567890123") {
		t.Errorf("a non-card number was redacted: %s", out)
	}
}

func TestNotJSONStillRedacted(t *testing.T) {
	key := "ua_live_" + strings.Repeat("cd", 32)
	out := JSON([]byte(`{"broken": "` + key))
	if strings.Contains(out, key) {
		t.Fatalf("key survived in malformed body: %s", out)
	}
}

func TestHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer ua_live_x")
	h.Set("Cookie", "session=1")
	h.Set("X-Api-Key", "k")
	h.Set("Content-Type", "application/json")
	h.Set("X-Custom", "Bearer leaked-token")
	got := Headers(h)
	for _, name := range []string{"authorization", "cookie", "x-api-key"} {
		if got[name] != Marker {
			t.Errorf("%s = %q", name, got[name])
		}
	}
	if got["content-type"] != "application/json" || strings.Contains(got["x-custom"], "leaked-token") {
		t.Errorf("headers: %v", got)
	}
}

func TestLuhn(t *testing.T) {
	for s, want := range map[string]bool{"4111111111111111": true, "4111111111111112": false, "79927398713": false, "5555 5555 5555 4444": true} {
		if luhn(s) != want {
			t.Errorf("luhn(%q) = %v", s, !want)
		}
	}
}

// Card numbers however they are written, wherever they sit.
func TestCardNumbersInEveryForm(t *testing.T) {
	for in, want := range map[string]string{
		"SN4111111111111111":                "SN" + Marker,
		"SN4111111111111111X":               "SN" + Marker + "X",
		"card_4111111111111111_end":         "card_" + Marker + "_end",
		"4111.1111.1111.1111":               Marker,
		"4111  1111   1111 1111":            Marker,
		"4111\t1111-1111–1111":              Marker, // a tab and an en dash
		"4111 1111 1111 1111 123":           Marker + " 123",
		"exp 12/27 4111 1111 1111 1111":     "exp 12/27 " + Marker,
		"٤١١١١١١١١١١١١١١١":                  Marker, // Arabic-Indic digits
		"４１１１１１１１１１１１１１１１":                  Marker, // fullwidth digits
		"४१११११११११११११११":                  Marker, // Devanagari digits
		"5555555555554444":                  Marker,
		"3782 822463 10005":                 Marker, // Amex, 4-6-5
		"pay 6011111111111117 now":          "pay " + Marker + " now",
		"Bearer\u00a0abc.def":               Marker,
		"Basic dXNlcjpodW50ZXIy":            Marker, // user:hunter2
		"Authorization: Bearer abc.def.ghi": "Authorization: " + Marker,
	} {
		if out := String(in); out != want {
			t.Errorf("%q redacted to %q, want %q", in, out, want)
		}
	}
	for _, s := range []string{
		"order 1234567890123",         // fails Luhn
		"0000000000000000",            // zeros pass Luhn but are no card
		"2026-03-08T09:15:00Z",        // a time
		"12345678901234567890123",     // one long id: no window of it is judged
		"serial 4111111111111112",     // one digit off
		"lat 52.520008 lon 13.404954", // coordinates
		"52.520008 13.404954",         // coordinates without words between
		"+49 151 12345678",            // a phone number
		"490154203237518",             // an IMEI (Luhn-checked, 15 digits)
		"IMEI 356938035643809",        // another
		"89441000303053300583",        // a SIM ICCID
		`{"ts":1718000000123}`,        // epoch milliseconds
		"Basic inspection of the pump",
		"Replace bearer assembly",
		"Basic maintenance",
	} {
		if out := JSON([]byte(s)); out != s {
			t.Errorf("%q redacted to %q", s, out)
		}
	}
}

func TestJSONNumbersAndKeysThatAreCards(t *testing.T) {
	for _, body := range []string{
		`{"n":4111111111111111}`,
		`{"n":4.111111111111111e15}`,
		`{"n":4111111111111111.0}`,
		`{"n":-4111111111111111}`,
		`{"n":[4111111111111111]}`,
		`{"4111 1111 1111 1111":"x"}`,
		`{"SN4111111111111111":null}`,
		`{"n":4111111111111111.000000000000000000000000000000000000000000000000000000000000000000}`,
	} {
		out := JSON([]byte(body))
		if strings.Contains(out, "4111") || strings.Contains(out, "4.111") || !strings.Contains(out, Marker) {
			t.Errorf("%s stored as %s", body, out)
		}
	}
	if out := JSON([]byte(`{"a":"x","b":"y","4111111111111111":1,"5555555555554444":2}`)); strings.Count(out, Marker) != 2 {
		t.Errorf("two card keys must stay two entries: %s", out)
	}
	if out := JSON([]byte(`{"qty":12,"price":1234567890123.5,"html":"<b>"}`)); out != `{"html":"<b>","price":1234567890123.5,"qty":12}` {
		t.Errorf("ordinary values changed: %s", out)
	}
}

func TestSensitiveNames(t *testing.T) {
	for _, n := range []string{
		"password", "pass", "PASS", "pwd", "userPwd", "db_pwd", "passwd", "Passphrase", "pin", "PIN", "card_pin",
		"otp", "mfaCode", "totp", "ssn", "cvv", "cvc2", "client_secret", "clientSecret", "accessToken", "X-Auth-Token",
		"Authorization", "Proxy-Authorization", "auth", "Cookie", "Set-Cookie", "sessionId", "PHPSESSID", "connect.sid",
		"csrf_token", "X-XSRF-TOKEN", "apiKey", "api_key", "X-Api-Key", "privateKey", "private_key", "signingKey",
		"credentials", "encrypted_value", "salt", "cardNumber", "card_number", "creditCard", "iban", "securityCode", "jwt", "dsn",
	} {
		if !SensitiveName(n) {
			t.Errorf("%q not treated as sensitive", n)
		}
	}
	for _, n := range []string{
		"name", "shipping", "compass", "bypass", "passenger", "author", "authorName", "description", "key", "keyboard",
		"monkey", "Idempotency-Key", "idempotencyKey", "spinner", "company", "pantry", "Content-Type", "User-Agent",
		"externalId", "serialNumber", "email", "certificateExpiresAt",
	} {
		if SensitiveName(n) {
			t.Errorf("%q treated as sensitive", n)
		}
	}
}

// Text that is not JSON, or JSON cut short, is still redacted by name.
func TestRawTextRedactedByName(t *testing.T) {
	for in, want := range map[string]string{
		`{"password": "hunter2", "x": `:                 `{"password": "[REDACTED]", "x": `,
		`{"name":"a","pwd":"hunter2`:                    `{"name":"a","pwd":"[REDACTED]"`,
		`{"pin": 1234, "ok": 1}{}`:                      `{"pin": [REDACTED], "ok": 1}{}`,
		`password=hunter2&name=pump`:                    `password=[REDACTED]&name=pump`,
		`error: token: abc123 rejected`:                 `error: token: [REDACTED]`,
		"password: correct horse battery\nnext":         "password: [REDACTED]\nnext",
		`Authorization: Token abc123`:                   `Authorization: [REDACTED]`,
		`{"password":["hunter2","x"],"a":1`:             `{"password":[REDACTED],"a":1`,
		`{"creds":{"pwd":"a","b":{"c":1}},"a":1`:        `{"creds":{"pwd":"[REDACTED]","b":{"c":1}},"a":1`,
		`{"data":"{\"password\":\"hunter2\"}","pad":"x`: `{"data":"{\"password\":\"[REDACTED]\"}","pad":"x`,
		`{"user":"bob","client_secret":"s3cr3t"`:        `{"user":"bob","client_secret":"[REDACTED]"`,
		`{"description":"pass the salt, please"}`:       `{"description":"pass the salt, please"}`,
	} {
		got := JSON([]byte(in))
		if strings.HasPrefix(in, `{"description"`) {
			got = String(in)
		}
		if got != want {
			t.Errorf("%s\n got %s\nwant %s", in, got, want)
		}
	}
	if out := JSON([]byte("{\"pwd\": \"\xffhunter2\"")); strings.Contains(out, "hunter2") {
		t.Errorf("invalid UTF-8 kept the secret: %q", out)
	}
}

// A receiver's JSON response is redacted by name, not only by value.
func TestResponseBodiesRedactedByName(t *testing.T) {
	out := JSON([]byte(`{"ok":true,"password":"hunter2","nested":{"refresh_token":"r1"}}`))
	if strings.Contains(out, "hunter2") || strings.Contains(out, "r1") {
		t.Errorf("kept: %s", out)
	}
}

// Forms an attack on the running stack found surviving.
func TestFormsFoundWhenTheStackWasAttacked(t *testing.T) {
	key := "ua_live_" + strings.Repeat("9f", 32)
	for _, in := range []string{
		`{"note":"4111    1111    1111    1111"}`,           // more than three spaces
		"{\"note\":\"4111\u200b1111\u200b1111\u200b1111\"}", // zero-width spaces
		"{\"note\":\"4111\u20601111\u20601111\u20601111\"}", // word joiners
		"{\"note\":\"4111\u00ad1111\u00ad1111\u00ad1111\"}", // soft hyphens
		`{"note":"4111/1111/1111/1111"}`,
		`{"note":"4111,1111,1111,1111"}`,
		`{"note":"4111:1111:1111:1111"}`,
		"{\"note\":\"4111\\n1111\\n1111\\n1111\"}",
		`{"note":"004111111111111111"}`,
		`{"n":4111111111111111.000000000000000000000000000000000000000000000000000000000000}`,
		`{"n":4111111111111111` + strings.Repeat("0", 60) + `e-60}`,
		`{"n":[4111111111111111`,
		`{"k":"ua\u005flive_` + strings.Repeat("9f", 32) + `"`,
		`ua%5Flive%5F` + strings.Repeat("9f", 32),
		`{'password': '4111111111111111'}`,
		`<password>4111111111111111</password>`,
		`"password" => "4111111111111111"`,
		`password := 4111111111111111`,
		`{"passcode":"4111111111111111"`,
		`postgres://admin:4111111111111111@db:5432/x`,
		`https://user:4111111111111111@host/`,
	} {
		out := JSON([]byte(in))
		if strings.Contains(out, "4111") || strings.Contains(out, "9f9f9f") || !strings.Contains(out, Marker) {
			t.Errorf("%s\n  stored as %s", in, out)
		}
	}
	if out := JSON([]byte(`{"n":[` + strings.Repeat("4e999999,", 50) + `1]}`)); out != `{"n":[`+strings.Repeat("4e999999,", 50)+`1]}` {
		t.Errorf("huge exponents changed: %s", out)
	}
	h := http.Header{}
	h.Set(key, "1")
	h.Set("X-4111111111111111", "1")
	for name := range Headers(h) {
		if strings.Contains(name, "9f9f") || strings.Contains(name, "4111") {
			t.Errorf("a header name kept a secret: %q", name)
		}
	}
}

// luhn is luhnDigits for the digits of s.
func luhn(s string) bool { return luhnDigits(digitsOf(s)) }

func digitsOf(s string) []int {
	var out []int
	for _, r := range s {
		if d, ok := digitValue(r); ok {
			out = append(out, d)
		}
	}
	return out
}

// A key reaches stored text in every spelling a leak takes: split by
// spaces, tabs or line breaks (as they are or escaped), cut in halves,
// upper-cased, URL-encoded, in a query string, in JSON. None of its hex
// survives, and the text after it does.
func TestAPIKeySpellings(t *testing.T) {
	hexKey := "0123456789abcdef" + "fedcba9876543210" + "00112233445566778899aabbccddeeff"
	half1, half2 := hexKey[:32], hexKey[32:]
	spellings := []string{
		"ua_live_ " + hexKey,
		"ua_live_\t" + hexKey,
		"ua_live_\n" + hexKey,
		"ua_live_" + half1 + "\n" + half2,
		"ua_live_" + half1 + " " + half2,
		"ua_live_" + half1 + "\r\n" + half2,
		strings.ToUpper("ua_live_" + hexKey),
		"Bearer%20ua_live_" + hexKey,
		"Bearer%20ua%5Flive%5F" + hexKey,
		"https://api.example/x?api_key=ua_live_" + hexKey + "&x=1",
		"ua_live_%20" + half1 + "%0A" + half2,
		`ua_live_\n` + half1 + `\t` + half2,
		`ua\u005flive\u005f` + hexKey,
		"key: ua_live_" + half1[:16] + " " + half1[16:] + " " + half2[:16] + "\t" + half2[16:],
	}
	for _, s := range spellings {
		for _, stored := range []string{String("sent " + s + " then more"), JSON([]byte(`{"note":` + strconvQuote("sent "+s+" then more") + `}`))} {
			for _, part := range []string{half1[:12], half1[20:], half2[:12], half2[20:], strings.ToUpper(half2[20:])} {
				if strings.Contains(stored, part) {
					t.Errorf("%q stored as %q: %q survives", s, stored, part)
				}
			}
			if !strings.Contains(stored, "then more") || !strings.Contains(stored, Marker) {
				t.Errorf("%q stored as %q: the text after the key, or the marker, is missing", s, stored)
			}
		}
	}
	// Hex that follows no scheme is left alone (hashes, ids), and so is a gap no digit follows.
	if got := String("sha " + hexKey); got != "sha "+hexKey {
		t.Errorf("a bare hash was redacted: %q", got)
	}
	if got := String("ua_live_" + hexKey + " deadbeef"); got != Marker+" deadbeef" {
		t.Errorf("more than the key's 64 digits was taken: %q", got)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
