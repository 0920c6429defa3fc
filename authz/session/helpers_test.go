package session

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"net/netip"
)

// testClient is the address the tests' requests come from.
var testClient = netip.MustParseAddr("192.0.2.1")

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64zlib(b []byte) string {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return b64(buf.Bytes())
}
