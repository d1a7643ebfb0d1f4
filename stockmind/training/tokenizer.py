"""A CLIP tokenizer built offline: byte-level vocabulary plus BPE merges learnt from our captions.

No pretrained vocabulary can be downloaded here. Every byte is a token (so any text tokenizes),
and merges learnt on the catalogue's words make its captions a handful of tokens each.
"""

from __future__ import annotations

import re
from collections import Counter

from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
END_OF_WORD = "</w>"


def build_tokenizer(texts: list[str], max_length: int = 77) -> CLIPTokenizer:
    """A CLIPTokenizer whose merges turn every word of `texts` into a single token."""
    alphabet = sorted(ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet + [c + END_OF_WORD for c in alphabet])}
    merges = learn_merges(_word_counts(texts))
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab[BOS] = len(vocab)
    vocab[EOS] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)


def learn_merges(word_counts: Counter[str]) -> list[tuple[str, str]]:
    """Classic BPE: repeatedly merge the most frequent adjacent pair (ties broken alphabetically,
    so the result is deterministic) until each word is one symbol."""
    words = {word: [*word[:-1], word[-1] + END_OF_WORD] for word in word_counts}
    merges: list[tuple[str, str]] = []
    while True:
        pairs: Counter[tuple[str, str]] = Counter()
        for word, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += word_counts[word]
        if not pairs:
            return merges
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        words = {word: _merge(symbols, best) for word, symbols in words.items()}


def _merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    merged, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def _word_counts(texts: list[str]) -> Counter[str]:
    # CLIP lower-cases and splits letters from everything else; our captions are plain words.
    return Counter(word for text in texts for word in re.findall(r"[a-z]+", text.lower()))
