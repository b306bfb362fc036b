// Package web is the web page of vit serve: GET / serves a page, embedded
// in the binary (nothing from a CDN), on which a person drops or picks an
// image and sees its five most probable labels with bars and its
// attention-rollout overlay. The page calls the serve API
// (/v1/models/{name}:predict) and the rollout route this package adds:
//
//	POST /ui/models/{name}/rollout   body: one image; answer: a PNG of the
//	                                 image, the image weighted by its
//	                                 attention rollout, and the heat map
//
// It is a package of its own so that package serve does not depend on the
// plotting stack of package viz.
package web

import (
	"bytes"
	"embed"
	"image/png"
	"mime"
	"net/http"
	"path/filepath"
	"sync/atomic"

	"github.com/vitgo/vit/serve"
	"github.com/vitgo/vit/viz"
)

//go:embed static
var static embed.FS

// csp keeps the page to its own files: no script, style or image from
// elsewhere.
const csp = "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// maxWaiting is how many rollouts may wait for the one running.
const maxWaiting = 8

// Register adds the page (GET /, GET /ui/..., GET /favicon.ico) and the rollout route to
// mux, for the models of s.
func Register(mux *http.ServeMux, s *serve.Server) {
	for path, file := range map[string]string{"/{$}": "index.html", "/ui/app.js": "app.js", "/ui/app.css": "app.css"} {
		body, err := static.ReadFile("static/" + file)
		if err != nil {
			panic(err) // embedded at build time
		}
		ctype := mime.TypeByExtension(filepath.Ext(file))
		s.HandleFunc(mux, "GET", path, "page", func(w http.ResponseWriter, r *http.Request) error {
			h := w.Header()
			h.Set("Content-Type", ctype)
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			w.Write(body)
			return nil
		})
	}
	// No icon: an empty answer, so that browsers do not log a 404.
	s.HandleFunc(mux, "GET", "/favicon.ico", "page", func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	// viz.Explain is not safe for concurrent use: one rollout runs at a
	// time, a few more wait (each until its deadline), the rest get 429.
	running := make(chan struct{}, 1)
	var waiting atomic.Int32
	s.HandleFunc(mux, "POST", "/ui/models/{name}/rollout", "rollout", func(w http.ResponseWriter, r *http.Request) error {
		b, err := s.Lookup(r, r.PathValue("name"))
		if err != nil {
			return err
		}
		img, err := s.ReadImage(w, r)
		if err != nil {
			return err
		}
		m := b.Model()
		c := m.Config
		in := c.Input()
		px, err := in.Planar(img)
		if err != nil {
			return serve.Errorf(http.StatusBadRequest, "preparing the image: %v", err)
		}
		if waiting.Add(1) > maxWaiting {
			waiting.Add(-1)
			return serve.ErrQueueFull
		}
		select {
		case running <- struct{}{}:
			waiting.Add(-1)
		case <-r.Context().Done():
			waiting.Add(-1)
			return r.Context().Err()
		}
		ex, err := viz.Explain(m, in.Normalize(px), 1, nil, viz.RolloutOptions{})
		<-running
		if err != nil {
			return serve.Errorf(http.StatusUnprocessableEntity, "no rollout for model %q: %v", r.PathValue("name"), err)
		}
		g := viz.GridOf(c)
		var buf bytes.Buffer
		if err := png.Encode(&buf, viz.Overlay(viz.ToImage(px, c.Channels, c.ImageHeight, c.ImageWidth), ex[0].Rollout, g.H, g.W)); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(buf.Bytes())
		return nil
	})
}
