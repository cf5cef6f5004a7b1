package auth

import (
	"fmt"
	"net/http"

	"github.com/tealdb/teal/internal/fault"
)

// The refusals below use the codes and statuses AWS returns for the Query
// protocol services (the "Common Errors" of their API references), because the
// official clients branch on them: botocore, for instance, corrects its clock
// and retries on RequestExpired and SignatureDoesNotMatch.

func missingAuthenticationToken() *fault.Fault {
	return &fault.Fault{Code: "MissingAuthenticationToken", Status: http.StatusForbidden,
		Message: "Request is missing Authentication Token"}
}

func incompleteSignature(format string, args ...any) *fault.Fault {
	return &fault.Fault{Code: "IncompleteSignature", Status: http.StatusForbidden,
		Message: fmt.Sprintf(format, args...)}
}

func invalidClientTokenID() *fault.Fault {
	return &fault.Fault{Code: "InvalidClientTokenId", Status: http.StatusForbidden,
		Message: "The security token included in the request is invalid."}
}

const signatureMismatchMessage = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."

func signatureDoesNotMatch(format string, args ...any) *fault.Fault {
	return &fault.Fault{Code: "SignatureDoesNotMatch", Status: http.StatusForbidden,
		Message: fmt.Sprintf(format, args...)}
}

func requestExpired(format string, args ...any) *fault.Fault {
	return &fault.Fault{Code: "RequestExpired", Status: http.StatusBadRequest,
		Message: "Request has expired. " + fmt.Sprintf(format, args...)}
}

func accessDenied(format string, args ...any) *fault.Fault {
	return &fault.Fault{Code: "AccessDenied", Status: http.StatusForbidden,
		Message: fmt.Sprintf(format, args...)}
}

// malformedPolicy is InvalidParameterValue, the code RDS clients already
// handle, with IAM's MalformedPolicyDocument wording so the cause is familiar.
func malformedPolicy(format string, args ...any) *fault.Fault {
	return &fault.Fault{Code: "InvalidParameterValue", Status: http.StatusBadRequest,
		Message: "MalformedPolicyDocument: " + fmt.Sprintf(format, args...)}
}

func invalidValue(format string, args ...any) *fault.Fault {
	return &fault.Fault{Code: "InvalidParameterValue", Status: http.StatusBadRequest,
		Message: fmt.Sprintf(format, args...)}
}

// noSuchEntity is IAM's answer to DeleteAccessKey for an unknown key.
func noSuchEntity(id string) *fault.Fault {
	return &fault.Fault{Code: "NoSuchEntity", Status: http.StatusNotFound,
		Message: fmt.Sprintf("The Access Key with id %s cannot be found.", id)}
}

func signInRefused() *fault.Fault {
	return &fault.Fault{Code: "InvalidClientTokenId", Status: http.StatusForbidden,
		Message: "The access key id or the secret access key is not right."}
}
