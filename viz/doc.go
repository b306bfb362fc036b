// Package viz draws the figures of the Vision Transformer paper (Dosovitskiy
// et al. 2020, Section 4.5 and Appendix D.8) for any vit.Model, and writes
// them into a self-contained report.
//
// # Attention rollout (Figure 6)
//
// Rollout (Abnar & Zuidema 2020) follows the attention from the output
// tokens back to the input patches through every layer. For layer l with
// attention probabilities A_l,h (one row-stochastic tokens×tokens matrix per
// head h; row = query, column = key):
//
//	F_l     = fuse_h A_l,h                      (mean, max or min over heads)
//	F'_l    = F_l with, in every row, the ⌊discard·n⌋ smallest of its n
//	          patch columns set to 0 (the class-token column is never
//	          discarded)
//	Â_l     = rownorm(F'_l + I)                 (rownorm divides each row by its sum)
//	J_1     = Â_1,   J_l = Â_l · J_(l−1)
//
// Every Â_l and J_l is row-stochastic. The map of an image is the
// class-token row of J_L over the patch columns, m_j = J_L[0, 1+j]; a model
// without a class token (pool "gap") averages the rows instead,
// m_j = (1/N) Σ_i J_L[i, j]. The map, GridH×GridW, is upsampled bilinearly to
// the image and drawn as a heat map scaled by its maximum.
//
// Discarding per row keeps, for every query, its own strongest keys; the
// often-copied implementation that discards over the flattened matrix can
// instead empty whole rows of weakly attending queries. With discard = 0 the
// two agree.
//
// # Gradient-weighted rollout
//
// For a chosen class k (Chefer, Gur & Wolf 2021), with G_l,h = ∂logit_k/∂A_l,h:
//
//	Ā_l = mean_h max(G_l,h ⊙ A_l,h, 0)
//	Â_l = rownorm(Ā_l + I),   J_l = Â_l · J_(l−1)
//
// and the map is read from J_L as above. Chefer et al. accumulate R ← R + Ā_l R
// without normalising; the row normalisation here only rescales each row and
// keeps the map comparable with plain rollout.
//
// # Mean attention distance (Figure 7, right)
//
// With c_i the centre of patch i in pixels (patch · (column + ½, row + ½)),
// for one image, layer and head, and a query patch i:
//
//	d_i = Σ_j a_ij ‖c_i − c_j‖ / Σ_j a_ij
//
// where j runs over the patch keys only: the class-token column is dropped
// and the row re-normalised over the patches. The class token is not a
// query either. The distance of the head is the mean of d_i over the query
// patches and over the images. It is the "attention distance" of the paper,
// analogous to a receptive-field size in CNNs.
//
// # Embedding filters and position embeddings (Figure 7, left and centre)
//
// EmbeddingPCA takes the rows of the patch-embedding matrix (one filter of
// channels·patch·patch values per row), subtracts their mean, and returns
// the leading eigenvectors of their covariance with the fraction of the total
// variance each explains. PositionSimilarity returns the cosine similarity
// between the position embeddings of every pair of patches (class token
// excluded).
//
// Heat maps and image grids are drawn straight into an image.RGBA with the
// viridis colour map; line and scatter plots use gonum.org/v1/plot.
package viz
