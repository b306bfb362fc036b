// Package serve classifies and embeds images over HTTP with a ViT: a
// dynamic batcher per model ([Batcher], usable without HTTP) and the
// handlers of a [Server] that a program mounts in its own http.ServeMux
// ([Server.Register]) or serves whole ([Server.Handler]).
//
// The API, answered in JSON (errors as {"error": "..."}):
//
//	POST /v1/models/{name}:predict   body: one image, or multipart/form-data
//	                                 with "image" parts; ?top=5, ?logits=true
//	POST /v1/models/{name}:embed     the same inputs; pre-head features
//	GET  /v2/health/live             the Open Inference Protocol (KServe v2)
//	GET  /v2/health/ready
//	GET  /v2/models/{name}           inputs, outputs, shapes, datatypes
//	GET  /v2/models/{name}/ready
//	POST /v2/models/{name}/infer     FP32 [N, C, H, W] or BYTES [N] images
//	GET  /metrics                    Prometheus
//
// Overload is refused early: a full queue is answered 429 with
// Retry-After before the request's body is read (a request admitted holds
// room in the queue while its images are read and decoded, so none is
// refused after that work), a request past its deadline 504, a body over MaxBody or an
// image over MaxPixels (from its header, before decoding) 413, an
// undecodable image 400, an unknown model 404, a wrong method 405, a
// panic 500 (logged and counted). No request names a file.
package serve
