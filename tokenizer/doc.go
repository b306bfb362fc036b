// Package tokenizer turns text into the token ids of the text towers of
// CLIP and SigLIP, exactly as their reference implementations do.
//
//   - CLIP: byte-level BPE from vocab.json and merges.txt, with the
//     pre-processing of OpenAI's simple_tokenizer.py (see CLIP), the
//     <|startoftext|> and <|endoftext|> tokens around the text and a
//     context of 77 ids.
//   - SigLIP: a SentencePiece unigram model (spiece.model, read by a small
//     protobuf decoder of our own), wrapped as transformers'
//     SiglipTokenizer wraps it (see SigLIP): lower-cased, punctuation
//     removed, </s> appended, padded to 64 ids.
//
// Both read untrusted files: every reader bounds what it allocates by the
// size of its input, and Encode bounds its work by the length of the text.
package tokenizer
