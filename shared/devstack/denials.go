package devstack

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// motoDenials makes moto's IAM refusals legible. moto answers them in the
// IAM query protocol's XML even for JSON services, which the SDK cannot
// decode ("deserialization failed"); this turns such a 403 into the API
// error it means (AccessDenied, InvalidClientTokenId, ...), with its message.
// It sits next to the transport, under the operation's deserializer.
func motoDenials(st *middleware.Stack) error {
	return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("MotoDenials",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			if err != nil || !ok || resp.StatusCode != http.StatusForbidden {
				return out, md, err
			}
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if rerr != nil {
				return out, md, err
			}
			var e struct {
				Code    string `xml:"Errors>Error>Code"`
				Message string `xml:"Errors>Error>Message"`
			}
			if xml.Unmarshal(body, &e) != nil || e.Code == "" {
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return out, md, err
			}
			return out, md, &smithy.GenericAPIError{Code: e.Code, Message: e.Message + " (moto's IAM check)", Fault: smithy.FaultClient}
		}), middleware.After)
}
