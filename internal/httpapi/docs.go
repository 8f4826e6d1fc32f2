package httpapi

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/taxieta/taxieta/internal/apierr"
)

//go:embed assets/swagger-ui/*.gz
var swaggerFS embed.FS

func (s *Server) handleOpenAPI() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		w.Header()["Content-Type"] = jsonContentType
		_, _ = w.Write(s.openapi)
		return nil, nil
	}
}

const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taxieta API docs</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, tryItOutEnabled: true});
</script>
</body>
</html>
`

// handleDocs serves Swagger UI, all from the binary, so the docs work with no internet.
func (s *Server) handleDocs() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, docsPage)
		return nil, nil
	}
}

// handleDocsAsset serves the gzipped Swagger UI files, unzipping for the
// rare client that does not accept gzip.
func (s *Server) handleDocsAsset() apiFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		name := r.PathValue("file")
		b, err := swaggerFS.ReadFile("assets/swagger-ui/" + name + ".gz")
		if err != nil || strings.Contains(name, "/") {
			return nil, apierr.New(apierr.NotFound, "no such asset")
		}
		h := w.Header()
		h.Set("Content-Type", assetTypes[path.Ext(name)])
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			_, _ = w.Write(b)
			return nil, nil
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, apierr.Wrap(apierr.Internal, err, "corrupt embedded asset")
		}
		_, _ = io.Copy(w, zr)
		return nil, nil
	}
}
