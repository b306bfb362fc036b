#!/usr/bin/python3
"""Builds the tokenizer test files and their goldens (run from this folder
with Debian's /usr/bin/python3; needs python3-regex and
python3-sentencepiece). Tests never run it.

clip/       vocab.json + merges.txt: a byte-level BPE learned here from
            corpus.txt, laid out as OpenAI's CLIP vocabulary is (the 256
            byte characters, the same with </w>, one token per merge, then
            <|startoftext|> and <|endoftext|>).
siglip/     spiece.model: a SentencePiece unigram model trained by the real
            SentencePiece library on corpus.txt with T5/SigLIP's settings
            (nmt_nfkc, <pad>=0, </s>=1, <unk>=2, dummy prefix on).
bytefallback.model: the same with byte fallback and a user-defined piece.
goldens.json: for each text of TEXTS, the CLIP ids (reference below,
            written from OpenAI's simple_tokenizer.py), the SigLIP ids
            (reference below, written from transformers'
            SiglipTokenizer over the real SentencePiece), and the raw
            SentencePiece pieces of both models.
"""
import collections
import html
import json
import os
import string
import unicodedata

import re as stdre  # transformers' SiglipTokenizer uses the standard re

import regex as re  # simple_tokenizer.py uses regex
import sentencepiece as spm

TEXTS = [
    "a photo of a cat.",
    "",
    "   ",
    "A Photo Of A DOG",
    "HeLLo WoRLD",
    "  a\t\tphoto\n\nof   a  cat  ",
    "Café déjà vu — naïve façade, São Paulo, Ærøskøbing",
    "cafe\u0301 (decomposed) and caf\u00e9 (composed)",
    "I ❤️ my 🐱 and 🐶!! 👍🏽",
    "猫と犬、一只猫在睡觉。고양이",
    "ΟΔΟΣ ΣΑΣ Σ ΌΣΟΣ. σοφός",
    "İstanbul ǅemal ß straße ﬁne",
    "Hello, world!!! (yes) -- 'quoted' \"double\" [brackets] {braces} @user #tag $5 50% a&b",
    "12345 3.14 1,000,000 2nd 1st 0x1F 007",
    "it's they'll we've I'M she'd you're don't ſ's",
    "&amp; &lt;b&gt;bold&lt;/b&gt; &amp;amp; &#39;x&#39; &eacute;",
    "<|startoftext|>a photo<|endoftext|> of </s> a <unk> cat",
    "ＡＢＣ１２３ full width ｶﾀｶﾅ",
    "tab\there\u00a0nbsp\u2003em\u3000ideographic\u200bzwsp end",
    "control\x1cchars\x1f and\x0bvt",
    "a ▁ b▁c ▁▁",
    "The quick brown fox jumps over the lazy dog. " * 12,
    "supercalifragilisticexpialidocious" * 6,
    "a photo of a {}.",
    "an image of the number 7",
    "x",
    "!!!",
    "...",
    "über Ärger Öl",
    "l'été à Paris",
]


def read_corpus():
    with open("corpus.txt", encoding="utf-8") as f:
        return f.read()


# ---- CLIP: written from OpenAI's simple_tokenizer.py ----

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def basic_clean(text):
    # ftfy.fix_text is replaced by its NFC step (ftfy is not installed and
    # the Go tokenizer does the same).
    text = unicodedata.normalize("NFC", text)
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r"\s+", " ", text)
    return text.strip()


PAT = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)


def get_pairs(word):
    return set(zip(word[:-1], word[1:]))


class SimpleTokenizer:
    def __init__(self, vocab, merges):
        self.byte_encoder = bytes_to_unicode()
        self.encoder = vocab
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(basic_clean(text)).lower()
        for token in re.findall(PAT, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            # transformers' CLIPTokenizer maps a missing token to <|endoftext|>
            bpe_tokens.extend(self.encoder.get(t, self.encoder["<|endoftext|>"]) for t in self.bpe(token).split(" "))
        return bpe_tokens

    def tokenize(self, text, context_length=77):
        sot, eot = self.encoder["<|startoftext|>"], self.encoder["<|endoftext|>"]
        ids = [sot] + self.encode(text)[: context_length - 2] + [eot]
        return ids + [eot] * (context_length - len(ids))  # transformers pads with <|endoftext|>


def learn_bpe(corpus, n_merges):
    """Learns byte-level BPE merges from the words of corpus, as CLIP's
    vocabulary was learned (words split by PAT, </w> on the last symbol)."""
    be = bytes_to_unicode()
    counts = collections.Counter()
    for w in re.findall(PAT, whitespace_clean(basic_clean(corpus)).lower()):
        chars = [be[b] for b in w.encode("utf-8")]
        chars[-1] += "</w>"
        counts[tuple(chars)] += 1
    merges = []
    words = dict(counts)
    for _ in range(n_merges):
        pc = collections.Counter()
        for w, c in words.items():
            for p in zip(w[:-1], w[1:]):
                pc[p] += c
        if not pc:
            break
        best = max(sorted(pc), key=lambda p: pc[p])
        merges.append(best)
        nw = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            nw[tuple(out)] = nw.get(tuple(out), 0) + c
        words = nw
    return merges


def write_clip(corpus):
    os.makedirs("clip", exist_ok=True)
    merges = learn_bpe(corpus, 400)
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for m in merges:
        if "".join(m) not in vocab:
            vocab.append("".join(m))
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    enc = {v: i for i, v in enumerate(vocab)}
    with open("clip/vocab.json", "w", encoding="utf-8") as f:
        json.dump(enc, f, ensure_ascii=False)
    with open("clip/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    return SimpleTokenizer(enc, merges)


# ---- SigLIP: written from transformers' SiglipTokenizer ----

SPIECE_UNDERLINE = "▁"


class SiglipTokenizer:
    def __init__(self, model_file):
        with open(model_file, "rb") as f:
            proto = f.read()
        # SiglipTokenizer.get_spm_processor sets normalizer_spec.add_dummy_prefix
        # = False with MergeFrom: appending a NormalizerSpec (field 3) holding
        # add_dummy_prefix (its field 3) = 0 to the serialised ModelProto is
        # the same merge.
        proto += b"\x1a\x02\x18\x00"
        self.sp = spm.SentencePieceProcessor()
        self.sp.LoadFromSerializedProto(proto)
        self.eos, self.unk, self.pad = "</s>", "<unk>", "</s>"
        self.special = [self.eos, self.unk]  # all_special_tokens (pad is eos)
        self.unk_len = len(self.sp.encode(self.unk))

    def canonicalize_text(self, text):
        text = text.translate(str.maketrans("", "", string.punctuation))
        text = stdre.sub(r"\s+", " ", text)
        return text.strip()

    def _tokenize(self, text):
        text = self.canonicalize_text(text)
        tokens = self.sp.encode(self.unk + text, out_type=str)
        return tokens[self.unk_len:] if len(tokens) >= self.unk_len else tokens

    def base_tokenize(self, text):
        # PreTrainedTokenizer.tokenize: do_lower_case (one character at a time,
        # special tokens spared), split on the special tokens (lstrip/rstrip).
        pattern = r"(" + r"|".join(stdre.escape(s) for s in self.special) + r")|" + r"(.+?)"
        text = stdre.sub(pattern, lambda m: m.groups()[0] or m.groups()[1].lower(), text, flags=stdre.DOTALL)
        split = stdre.split("(" + "|".join(stdre.escape(s) for s in self.special) + ")", text)
        for i, tok in enumerate(split):
            if tok in self.special:
                if i + 1 < len(split) and split[i + 1]:
                    split[i + 1] = split[i + 1].lstrip()
                if i > 0 and split[i - 1]:
                    split[i - 1] = split[i - 1].rstrip()
        out = []
        for tok in split:
            if not tok:
                continue
            if tok in self.special:
                out.append(tok)
            else:
                out.extend(self._tokenize(tok))
        return out

    def tokenize(self, text):
        tokens = self.base_tokenize(SPIECE_UNDERLINE + text.replace(SPIECE_UNDERLINE, " "))
        if len(tokens) > 1 and tokens[0] == SPIECE_UNDERLINE and tokens[1] in self.special:
            tokens = tokens[1:]
        return tokens

    def __call__(self, text, max_length=64):
        ids = [self.sp.piece_to_id(t) for t in self.tokenize(text)]
        ids = ids[: max_length - 1]
        eos = self.sp.piece_to_id(self.eos)
        if not ids or ids[-1] != eos:
            ids.append(eos)
        return ids + [self.sp.piece_to_id(self.pad)] * (max_length - len(ids))


def train_spm(prefix, vocab_size=320, **kw):
    spm.SentencePieceTrainer.train(
        input="corpus.txt", model_prefix=prefix, model_type="unigram", vocab_size=vocab_size,
        hard_vocab_limit=False, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=0.98, num_threads=1, minloglevel=2, **kw)
    os.remove(prefix + ".vocab")


def raw(sp, text):
    return [[i, p] for i, p in zip(sp.encode(text), sp.encode(text, out_type=str))]


def main():
    corpus = read_corpus()
    clip = write_clip(corpus)
    os.makedirs("siglip", exist_ok=True)
    train_spm("siglip/spiece")
    train_spm("bytefallback", vocab_size=600, byte_fallback=True, user_defined_symbols=["<cat>"], normalization_rule_name="identity")
    sig = SiglipTokenizer("siglip/spiece.model")
    plain = spm.SentencePieceProcessor(model_file="siglip/spiece.model")
    bf = spm.SentencePieceProcessor(model_file="bytefallback.model")
    texts = TEXTS + ["my <cat> likes <0x41> bytes"]
    gold = {
        "texts": texts,
        "clip": [clip.tokenize(t) for t in texts],
        "siglip": [sig(t) for t in texts],
        "spm": [raw(plain, t) for t in texts],
        "spm_bytefallback": [raw(bf, t) for t in texts],
    }
    with open("goldens.json", "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
