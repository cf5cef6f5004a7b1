package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/fault"
)

const (
	algorithm      = "AWS4-HMAC-SHA256"
	signingService = "rds"
	terminator     = "aws4_request"
	amzDateLayout  = "20060102T150405Z"
	scopeLayout    = "20060102"

	// maxSkew is how far a signature's date may be from the server's clock,
	// in either direction, as in AWS.
	maxSkew = 15 * time.Minute
	// maxPresignExpiry is the longest X-Amz-Expires AWS accepts: a week.
	maxPresignExpiry = 7 * 24 * time.Hour
)

// signature is what a request claims: who signed it, when, for what scope,
// over which headers.
type signature struct {
	accessKeyID   string
	scopeDate     string // YYYYMMDD
	region        string
	service       string
	terminator    string
	signedHeaders string // as sent; it is part of the canonical request
	headerNames   []string
	value         string // hex HMAC
	amzDate       string // the timestamp as it goes into the string to sign
	time          time.Time
	presigned     bool
	expires       time.Duration // presigned only; 0 if X-Amz-Expires is absent
}

// Authenticate verifies the request's Signature Version 4, sent either in the
// Authorization header or as X-Amz-* query parameters (a presigned URL), and
// returns the principal that signed it. body is the request body, already
// read; the signature covers its SHA-256.
//
// Refusals are *fault.Fault values with AWS's codes: MissingAuthenticationToken,
// IncompleteSignature, InvalidClientTokenId, SignatureDoesNotMatch (all 403)
// and RequestExpired (400).
func (k *Keyring) Authenticate(r *http.Request, body []byte) (Principal, error) {
	sig, err := parseSignature(r)
	if err == nil {
		err = checkTime(sig, k.now())
	}
	if err != nil {
		k.refused(r, sig.accessKeyID, err)
		return Principal{}, err
	}
	secret, principal, ok := k.lookup(sig.accessKeyID)
	if !ok {
		err := invalidClientTokenID()
		k.refused(r, sig.accessKeyID, err)
		return Principal{}, err
	}
	if err := k.checkScope(sig, r); err != nil {
		k.refused(r, sig.accessKeyID, err)
		return Principal{}, err
	}
	payloadHash, err := payloadHash(r, body)
	if err != nil {
		k.refused(r, sig.accessKeyID, err)
		return Principal{}, err
	}
	canonical := canonicalRequest(r, sig, payloadHash)
	toSign := stringToSign(sig, canonical)
	want := hex.EncodeToString(hmacSHA256(signingKey(secret, sig.scopeDate, sig.region, sig.service), toSign))
	if !hmac.Equal([]byte(want), []byte(sig.value)) {
		err := signatureDoesNotMatch(signatureMismatchMessage)
		// The canonical request is what a client author needs to compare
		// with their own; it holds no secret.
		k.log.Debug("signature mismatch", "access_key_id", sig.accessKeyID,
			"canonical_request", canonical, "string_to_sign", toSign)
		k.refused(r, sig.accessKeyID, err)
		return Principal{}, err
	}
	return principal, nil
}

// refused logs a refusal without anything secret: never the Authorization
// header, never a signature.
func (k *Keyring) refused(r *http.Request, accessKeyID string, err error) {
	attrs := []any{"remote", r.RemoteAddr, "access_key_id", accessKeyID}
	var f *fault.Fault
	if errors.As(err, &f) {
		attrs = append(attrs, "code", f.Code, "reason", f.Message)
	} else {
		attrs = append(attrs, "err", err)
	}
	k.log.Info("request not authenticated", attrs...)
}

func parseSignature(r *http.Request) (signature, error) {
	headers := r.Header.Values("Authorization")
	query := r.URL.Query()
	presigned := query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Signature") || query.Has("X-Amz-Credential")
	switch {
	case len(headers) > 0 && presigned:
		return signature{}, incompleteSignature("Only one authentication method is allowed: the Authorization header or the X-Amz-* query parameters, not both.")
	case len(headers) > 1:
		return signature{}, incompleteSignature("The request has %d Authorization headers; it must have one.", len(headers))
	case len(headers) == 1:
		return parseHeader(headers[0], r)
	case presigned:
		return parseQuery(query)
	default:
		return signature{}, missingAuthenticationToken()
	}
}

// parseHeader reads "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/rds/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=…" and the date header.
func parseHeader(h string, r *http.Request) (signature, error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithm {
		return signature{}, incompleteSignature("Unsupported AWS 'algorithm': '%s'. Sign requests with Signature Version 4 (%s).", alg, algorithm)
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return signature{}, incompleteSignature("Authorization header is malformed: %q is not a key=value pair.", part)
		}
		params[key] = value
	}
	var missing []string
	for _, p := range []string{"Credential", "SignedHeaders", "Signature"} {
		if params[p] == "" {
			missing = append(missing, "Authorization header requires '"+p+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return signature{}, incompleteSignature("%s", strings.Join(missing, " "))
	}
	sig, err := parseCredential(params["Credential"])
	if err != nil {
		return sig, err
	}
	if err := sig.setSignedHeaders(params["SignedHeaders"]); err != nil {
		return sig, err
	}
	sig.value = params["Signature"]

	// AWS also accepts the HTTP Date header when X-Amz-Date is absent.
	switch amz, date := r.Header.Get("X-Amz-Date"), r.Header.Get("Date"); {
	case amz != "":
		sig.time, err = parseAmzDate(amz)
		sig.amzDate = amz
	case date != "":
		if sig.time, err = http.ParseTime(date); err != nil {
			err = incompleteSignature("Date header %q is not an HTTP date.", date)
		}
		sig.time = sig.time.UTC()
		sig.amzDate = sig.time.Format(amzDateLayout)
	default:
		err = incompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	return sig, err
}

// parseQuery reads the X-Amz-* parameters of a presigned URL.
func parseQuery(q url.Values) (signature, error) {
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(p) == "" {
			return signature{}, incompleteSignature("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'; %s is missing.", p)
		}
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != algorithm {
		return signature{}, incompleteSignature("Unsupported AWS 'algorithm': '%s'. Sign requests with Signature Version 4 (%s).", alg, algorithm)
	}
	sig, err := parseCredential(q.Get("X-Amz-Credential"))
	if err != nil {
		return sig, err
	}
	sig.presigned = true
	if err := sig.setSignedHeaders(q.Get("X-Amz-SignedHeaders")); err != nil {
		return sig, err
	}
	sig.value = q.Get("X-Amz-Signature")
	sig.amzDate = q.Get("X-Amz-Date")
	if sig.time, err = parseAmzDate(sig.amzDate); err != nil {
		return sig, err
	}
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n <= 0 || time.Duration(n)*time.Second > maxPresignExpiry {
			return sig, incompleteSignature("X-Amz-Expires must be a number of seconds from 1 to %d, not %q.", int(maxPresignExpiry/time.Second), e)
		}
		sig.expires = time.Duration(n) * time.Second
	}
	return sig, nil
}

func parseCredential(c string) (signature, error) {
	parts := strings.Split(c, "/")
	if len(parts) != 5 || parts[0] == "" {
		return signature{}, incompleteSignature("Credential %q is malformed; expected <access key id>/<YYYYMMDD>/<region>/%s/%s.", c, signingService, terminator)
	}
	return signature{accessKeyID: parts[0], scopeDate: parts[1], region: parts[2], service: parts[3], terminator: parts[4]}, nil
}

func (s *signature) setSignedHeaders(list string) error {
	s.signedHeaders = list
	s.headerNames = strings.Split(list, ";")
	host := false
	for _, n := range s.headerNames {
		if n == "" || n != strings.ToLower(n) {
			return incompleteSignature("SignedHeaders %q is malformed; it must list lower-case header names separated by ';'.", list)
		}
		host = host || n == "host"
	}
	if !host {
		// An unsigned Host would let a signature be replayed against another server.
		return incompleteSignature("SignedHeaders %q must include host.", list)
	}
	return nil
}

func parseAmzDate(v string) (time.Time, error) {
	t, err := time.Parse(amzDateLayout, v)
	if err != nil {
		return time.Time{}, incompleteSignature("Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z'). Got '%s'.", v)
	}
	return t, nil
}

// checkTime refuses a signature more than 15 minutes away from now, or a
// presigned URL past its X-Amz-Expires.
func checkTime(sig signature, now time.Time) error {
	now = now.UTC()
	server := now.Format(amzDateLayout)
	switch {
	case sig.time.Sub(now) > maxSkew:
		return requestExpired("The signature date %s is more than 15 minutes after the server time %s; check the client's clock.", sig.amzDate, server)
	case sig.presigned && sig.expires > 0:
		if now.After(sig.time.Add(sig.expires)) {
			return requestExpired("The presigned URL expired at %s; the server time is %s.", sig.time.Add(sig.expires).Format(amzDateLayout), server)
		}
	case now.Sub(sig.time) > maxSkew:
		return requestExpired("The signature date %s is more than 15 minutes before the server time %s; check the client's clock.", sig.amzDate, server)
	}
	return nil
}

// checkScope checks the credential scope against this server. A client
// configured with another region fails here, with a message naming the
// region to use rather than a bare signature mismatch.
func (k *Keyring) checkScope(sig signature, r *http.Request) error {
	if d := sig.time.UTC().Format(scopeLayout); sig.scopeDate != d {
		return signatureDoesNotMatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", sig.scopeDate, d, sig.amzDate)
	}
	if sig.region != k.region {
		return signatureDoesNotMatch("Credential should be scoped to a valid region, not '%s'. This server is region '%s': configure the client with that region.", sig.region, k.region)
	}
	if sig.service != signingService {
		return signatureDoesNotMatch("Credential should be scoped to correct service: '%s', not '%s'.", signingService, sig.service)
	}
	if sig.terminator != terminator {
		return signatureDoesNotMatch("Credential should be scoped with a valid terminator: '%s', not '%s'.", terminator, sig.terminator)
	}
	// teal issues no session tokens; accepting one would mean ignoring part
	// of the credential the client presented.
	if r.Header.Get("X-Amz-Security-Token") != "" || r.URL.Query().Get("X-Amz-Security-Token") != "" {
		f := invalidClientTokenID()
		f.Message += " teal issues no session tokens: unset AWS_SESSION_TOKEN and use a teal access key."
		return f
	}
	return nil
}

// payloadHash is the hex SHA-256 of body. A client may state it in
// X-Amz-Content-Sha256; a stated hash that differs, including
// UNSIGNED-PAYLOAD, is refused, because the Query protocol carries the
// operation's parameters in the body and they must be covered by the
// signature.
func payloadHash(r *http.Request, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	if stated := r.Header.Get("X-Amz-Content-Sha256"); stated != "" && stated != actual {
		return "", signatureDoesNotMatch("The x-amz-content-sha256 header %q is not the SHA-256 of the request body; the body must be signed.", stated)
	}
	return actual, nil
}
