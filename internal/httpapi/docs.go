package httpapi

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"net/http"
	"path"
	"strings"
)

//go:embed assets/swagger-ui/*.gz
var swaggerFS embed.FS

func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = jsonContentType
		_, _ = w.Write(s.openapi)
	})
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
func (s *Server) handleDocs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, docsPage)
	})
}

// handleDocsAsset serves the gzipped Swagger UI files, unzipping for the
// rare client that does not accept gzip.
func (s *Server) handleDocsAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		b, err := swaggerFS.ReadFile("assets/swagger-ui/" + name + ".gz")
		if err != nil || strings.Contains(name, "/") {
			s.problem(w, r, http.StatusNotFound, "no such asset", nil)
			return
		}
		h := w.Header()
		h.Set("Content-Type", assetTypes[path.Ext(name)])
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			_, _ = w.Write(b)
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			s.problem(w, r, http.StatusInternalServerError, "corrupt embedded asset", nil)
			return
		}
		_, _ = io.Copy(w, zr)
	})
}
