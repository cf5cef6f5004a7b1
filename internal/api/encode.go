package api

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// Namespace is the XML namespace of every RDS answer.
const Namespace = "http://rds.amazonaws.com/doc/2014-10-31/"

// noResult is the output of operations whose answer has no Result element
// (DeleteDBParameterGroup, AddTagsToResource, …): only ResponseMetadata.
type noResult struct{}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// writeResult answers <ActionResponse><ActionResult>…</ActionResult>
// <ResponseMetadata/></ActionResponse>. The document is built in memory
// first, so an encoding failure can still become a proper fault.
func writeResult(w http.ResponseWriter, action, requestID string, result any) error {
	body, err := encodeResult(action, requestID, result)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

func encodeResult(action, requestID string, result any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	root := xml.StartElement{Name: xml.Name{Local: action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	if err := enc.EncodeToken(root); err != nil {
		return nil, fmt.Errorf("encode %s: %w", action, err)
	}
	if _, empty := result.(noResult); !empty && result != nil {
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			return nil, fmt.Errorf("encode %s: %w", action, err)
		}
	}
	if err := enc.EncodeElement(responseMetadata{RequestID: requestID},
		xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return nil, fmt.Errorf("encode %s: %w", action, err)
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return nil, fmt.Errorf("encode %s: %w", action, err)
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", action, err)
	}
	return buf.Bytes(), nil
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errorBody
	RequestID string `xml:"RequestId"`
}

type errorBody struct {
	Type    string
	Code    string
	Message string
}

// writeFault answers <ErrorResponse><Error><Type/><Code/><Message/></Error>
// <RequestId/></ErrorResponse> with the fault's HTTP status.
func writeFault(w http.ResponseWriter, f *rds.Fault, requestID string) {
	body := encodeFault(f, requestID)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.Status)
	w.Write(body)
}

func encodeFault(f *rds.Fault, requestID string) []byte {
	typ := "Sender"
	if f.Status >= 500 {
		typ = "Receiver"
	}
	out, err := xml.Marshal(errorResponse{Xmlns: Namespace, RequestID: requestID,
		Error: errorBody{Type: typ, Code: f.Code, Message: f.Message}})
	if err != nil {
		// Strings always marshal; this only guards against a future field
		// that does not.
		out = []byte("<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code></Error></ErrorResponse>")
	}
	return append([]byte(xml.Header), out...)
}

// newRequestID makes a random (version 4) UUID, as RDS request ids are.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand aborts the process instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// isoTime formats a timestamp as the Query protocol does (ISO 8601, UTC,
// milliseconds); the zero time is left out.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// list is a list member of an answer. encoding/xml's "Outer>Inner" tags
// leave out an empty list altogether, but RDS sends the empty element
// (<TagList/>), and scripts index into it (inst["TagList"]), so lists carry
// their member's element name and always encode their own element.
type list[T any] struct {
	member string // the model's locationName of the list member
	items  []T
}

func listOf[T any](member string, items []T) list[T] { return list[T]{member: member, items: items} }

func (l list[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, it := range l.items {
		if err := e.EncodeElement(it, xml.StartElement{Name: xml.Name{Local: l.member}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
