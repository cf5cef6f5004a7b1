package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// The access-key commands call teal's own admin actions, which the RDS
// SDK does not know, so they sign and send the Query request themselves.

// accessKey is an access key as the Teal*AccessKey actions return it.
type accessKey struct {
	AccessKeyId     *string    `xml:"AccessKeyId"`
	SecretAccessKey *string    `xml:"SecretAccessKey"`
	Description     *string    `xml:"Description"`
	PolicyDocument  *string    `xml:"PolicyDocument"`
	CreateDate      *time.Time `xml:"CreateDate"`
}

type createAccessKeyOutput struct {
	AccessKey *accessKey `xml:"TealCreateAccessKeyResult>AccessKey"`
}

type listAccessKeysOutput struct {
	AccessKeys []accessKey `xml:"TealListAccessKeysResult>AccessKeys>AccessKey"`
}

type deleteAccessKeyOutput struct{}

type iamCommand struct {
	name    string
	summary string
	flags   func(form url.Values) []*flagDef
	output  func() any
}

var iamCommands = []iamCommand{
	{"create-access-key", "Create an access key with an IAM-style policy; its secret is shown only now.",
		func(form url.Values) []*flagDef {
			return []*flagDef{
				{name: "policy-file", arg: "FILE", required: true, usage: "the policy document (JSON)", set: func(w []string) error {
					data, err := os.ReadFile(w[0])
					if err != nil {
						return err
					}
					if !json.Valid(data) {
						return fmt.Errorf("%s is not valid JSON", w[0])
					}
					form.Set("PolicyDocument", string(data))
					return nil
				}},
				{name: "description", arg: "TEXT", usage: "what the key is for", set: func(w []string) error { form.Set("Description", w[0]); return nil }},
			}
		}, func() any { return &createAccessKeyOutput{} }},
	{"list-access-keys", "List access keys.", func(url.Values) []*flagDef { return nil },
		func() any { return &listAccessKeysOutput{AccessKeys: []accessKey{}} }},
	{"delete-access-key", "Delete an access key.",
		func(form url.Values) []*flagDef {
			return []*flagDef{{name: "access-key-id", arg: "ID", required: true, usage: "the key to delete",
				set: func(w []string) error { form.Set("AccessKeyId", w[0]); return nil }}}
		}, func() any { return &deleteAccessKeyOutput{} }},
}

// action is the Query action of an iam command, e.g. TealCreateAccessKey.
func (c iamCommand) action() string {
	var b strings.Builder
	b.WriteString("Teal")
	for _, w := range strings.Split(c.name, "-") {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

func runIAM(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		iamHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *iamCommand
	for i := range iamCommands {
		if iamCommands[i].name == args[0] {
			cmd = &iamCommands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "teal: unknown command \"iam %s\" (see teal iam help)\n", args[0])
		return 2
	}
	name := "iam " + cmd.name
	form := url.Values{}
	cn := newConn()
	out := &outputFormat{name: "table"}
	defs := cmd.flags(form)
	globals := append(cn.flags(), out.flag())
	if err := parseFlags(args[1:], append(defs, globals...)); err != nil {
		if errors.Is(err, errHelp) {
			fmt.Fprintf(stdout, "Usage: teal %s [options]\n\n%s\n\nOptions:\n", name, cmd.summary)
			writeFlags(stdout, defs)
			fmt.Fprintln(stdout, "\nGlobal options:")
			writeFlags(stdout, globals)
			return 0
		}
		return failUsage(stderr, name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	res := cmd.output()
	if err := cn.adminCall(ctx, cmd.action(), form, res); err != nil {
		return fail(stderr, cn, name, err)
	}
	var err error
	if _, isList := res.(*listAccessKeysOutput); out.name == "table" && !isList {
		// A new key is shown field by field: its secret must be seen.
		var b bytes.Buffer
		writeFields(&b, res)
		_, err = stdout.Write(b.Bytes())
	} else {
		err = out.render(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "teal:", err)
		return 1
	}
	return 0
}

func iamHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: teal iam <command> [options]\n\nCommands:")
	for _, c := range iamCommands {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nteal iam <command> --help lists a command's options.")
}

// adminCall sends a SigV4-signed Query request for a teal action and
// decodes its result into out.
func (c *conn) adminCall(ctx context.Context, action string, form url.Values, out any) error {
	creds, err := c.credentials(ctx)
	if err != nil {
		return err
	}
	form.Set("Action", action)
	form.Set("Version", "2014-10-31")
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.endpoint, "/")+"/", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "rds", c.region, time.Now()); err != nil {
		return fmt.Errorf("sign %s: %w", action, err)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s: read response: %w", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		return decodeErrorResponse(resp.StatusCode, data)
	}
	if err := xml.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decode response: %w", action, err)
	}
	return nil
}

// decodeErrorResponse reads an AWS Query error,
// <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>.
func decodeErrorResponse(status int, data []byte) error {
	var e struct {
		Code    string `xml:"Error>Code"`
		Message string `xml:"Error>Message"`
	}
	if err := xml.Unmarshal(data, &e); err != nil || e.Code == "" {
		excerpt := strings.TrimSpace(string(data))
		if len(excerpt) > 200 {
			excerpt = excerpt[:200] + "…"
		}
		return fmt.Errorf("HTTP %d from the server: %s", status, excerpt)
	}
	return &smithy.GenericAPIError{Code: e.Code, Message: e.Message}
}
