package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/taxieta/taxieta/internal/apierr"
)

// uiFS holds the call-centre page's scripts, styles and icon
// (internal/httpapi/assets/ui), so the page works with no internet.
//
//go:embed assets/ui
var uiFS embed.FS

// uiAsset is one embedded file, ready to serve.
type uiAsset struct {
	body  []byte
	ctype string
	etag  string
}

// assetTypes are the content types of the asset kinds the call-centre page
// and the docs use.
var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// loadUIAssets reads every embedded asset once, with its type and a strong
// ETag from its content.
func loadUIAssets() map[string]uiAsset {
	assets := map[string]uiAsset{}
	entries, err := fs.ReadDir(uiFS, "assets/ui")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := uiFS.ReadFile("assets/ui/" + e.Name())
		if err != nil {
			panic(err)
		}
		ext := path.Ext(e.Name())
		ctype, ok := assetTypes[ext]
		if !ok {
			if ctype = mime.TypeByExtension(ext); ctype == "" {
				ctype = "application/octet-stream"
			}
		}
		sum := sha256.Sum256(b)
		assets[e.Name()] = uiAsset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return assets
}

// handleUIAsset serves the call-centre page's scripts and styles from the binary.
//
// The names are fixed (the page links /ui/app.js), so a browser must not keep
// an old copy after an upgrade: "no-cache" makes it revalidate every time, and
// the content's ETag turns that into a 304 with no body while the file is
// unchanged.
func (s *Server) handleUIAsset() apiFunc {
	assets := loadUIAssets()
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		name := r.PathValue("file")
		a, ok := assets[name]
		if !ok {
			return nil, apierr.New(apierr.NotFound, "no such asset")
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
		return nil, nil
	}
}
