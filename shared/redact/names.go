package redact

import (
	"strings"
	"unicode"
)

// The field and header names whose values are secrets. The list is not ours:
// it is the union of two maintained defaults, so it moves with them when they
// are updated, plus the payment names PCI DSS asks to keep out of logs.
//   - Sentry's default denylist (relay's PII rules, shipped as
//     sentry_sdk.scrubber.DEFAULT_DENYLIST): password, passwd, secret, api_key,
//     apikey, auth, credentials, mysql_pwd, privatekey, private_key, token,
//     session, csrftoken, sessionid, x_csrftoken, set_cookie, cookie,
//     authorization, x_api_key and session cookie names (phpsessid,
//     connect.sid, symfony, ...).
//   - Rails' generated config.filter_parameters (partial matches): passw,
//     secret, token, _key, crypt, salt, otp, ssn, cvv, cvc.
//
// Left out on purpose: Rails' "email" and "certificate" (an asset's e-mail
// contact and a certificate's number or expiry are what an integrator debugs,
// not secrets) and Sentry's x_forwarded_for (the source IP is shown anyway).
var (
	// containedNames match anywhere in the name once case and separators are
	// dropped ("clientSecret", "X-Auth-Token", "db_password_hash").
	containedNames = []string{
		"passw", "passphrase", "pwd", "secret", "token", "apikey", "privatekey", "credential",
		"session", "csrf", "xsrf", "cookie", "authorization", "signature", "crypt",
		"cardnumber", "creditcard", "ccnumber", "cardnum", "cardverification", "securitycode", "iban",
		"phpsessid", "connectsid", "symfony",
		// Beyond both lists, seen when the stack was attacked:
		"passcode", "pswd", "privkey", "connectionstring", "mnemonic", "seedphrase",
	}
	// wordNames are too short to match inside other words ("pin" in "shipping",
	// "pass" in "compass", "auth" in "author"): they match whole words of the name.
	wordNames = map[string]bool{
		"pass": true, "pw": true, "auth": true, "salt": true, "otp": true, "ssn": true, "pin": true,
		"pan": true, "cvv": true, "cvv2": true, "cvc": true, "cvc2": true, "sid": true, "jwt": true,
		"dsn": true, "mfa": true, "totp": true, "pem": true,
	}
)

// SensitiveName reports whether a field or header with this name holds a secret.
func SensitiveName(name string) bool {
	words := splitWords(name)
	joined := strings.Join(words, "")
	for _, s := range containedNames {
		if strings.Contains(joined, s) {
			return true
		}
	}
	for i, w := range words {
		// Rails' "_key": a key of something (api_key, accessKey, X-Signing-Key),
		// but not a field called just "key", nor Idempotency-Key, which names a
		// request rather than unlocking anything (its value is still redacted
		// by value, like every other).
		if wordNames[w] || (w == "key" || w == "keys") && i > 0 && joined != "idempotencykey" {
			return true
		}
	}
	return false
}

// splitWords lowercases name and splits it at separators and camelCase humps:
// "X-Api-Key" and "apiKey" are [x api key] and [api key].
func splitWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
			(i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))):
			flush() // apiKey, APIKey → api key
		}
		cur = append(cur, unicode.ToLower(r))
	}
	flush()
	return words
}
