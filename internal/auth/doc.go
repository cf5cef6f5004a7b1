// Package auth verifies AWS Signature Version 4 on every request and decides
// what each access key may do (IAM-style policies). It owns the access keys:
// the root key given at start-up and the keys created through the API, which
// it persists in the store.
package auth
