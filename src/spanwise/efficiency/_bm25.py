"""BM25 lexical relevance of files to a query, in pure Python.

Built for speed on large corpora (5,000 files / 50 MB in well under a second): only the
*query's* terms are looked for in each file (``str.find`` on the lowercased text, then a
boundary check), instead of tokenizing every file.

- Terms: letters and digits, split at ``snake_case``, ``camelCase``, ``kebab-case``,
  dots and slashes; lowercased; at least 3 characters; common English words dropped;
  plurals folded lightly (``files`` → ``file``, ``classes`` → ``class``, ``queries`` →
  ``query``). A term matches in a file where it stands as a whole word or identifier
  part, with an optional ``s``/``es`` ending.
- Scoring: Okapi BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N − df + 0.5)/(df + 0.5))).
  A term in the file's *path* counts ``PATH_WEIGHT`` (3) times. Document length is
  measured in characters (the ratio to the average is what BM25 uses).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

K1 = 1.2
B = 0.75
PATH_WEIGHT = 3
MIN_TERM_CHARS = 3

STOPWORDS = frozenset(
    """
    the and for with that this from into are was were been being have has had not but all
    any can could should would will shall must may might its our your their them they you
    she his her him who whom which what when where why how then than there here also only
    just very more most some such each every other about over under after before again once
    use using used add make made get set new one two via per onto upon out off does did
    doing done these those both either neither nor too own same few yet
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def fold(term: str) -> str:
    """Light plural folding: queries → query, classes → class, files → file."""
    if len(term) > 4 and term.endswith("ies"):
        return term[:-3] + "y"
    if len(term) > 4 and term.endswith(("sses", "xes", "shes")):
        return term[:-2]
    if len(term) > 5 and term.endswith("ches") and term[-5] not in "aeiou":
        return term[:-2]  # matches → match, but caches → cache
    if len(term) > 3 and term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def split_terms(text: str) -> list[str]:
    """Identifier-aware words of ``text``, lowercased and folded, short/common ones dropped."""
    out = []
    for word in _WORDS.findall(text):
        low = word.lower()
        if len(low) >= MIN_TERM_CHARS and low not in STOPWORDS:
            out.append(fold(low))
    return out


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query, in first-seen order."""
    return list(dict.fromkeys(split_terms(query)))


def _starts_word(text: str, i: int) -> bool:
    if i == 0:
        return True
    prev, cur = text[i - 1], text[i]
    if not prev.isalnum():
        return True
    if cur.isupper():
        # camelCase hump, digit→Upper, or the last capital of an acronym (HTTPServer).
        return not prev.isupper() or (i + 1 < len(text) and text[i + 1].islower())
    return False


def _ends_word(text: str, j: int) -> bool:
    if j >= len(text):
        return True
    nxt = text[j]
    if not nxt.isalnum():
        return True
    if nxt.isupper():
        return text[j - 1].islower() or (j + 1 < len(text) and text[j + 1].islower())
    return False


def _stem_variants(term: str) -> tuple[str, tuple[str, ...]]:
    """What to search for and the endings allowed after it (query → quer + y|ies)."""
    if term.endswith("y") and len(term) > 3:
        return term[:-1], ("y", "ies")
    return term, ("", "s", "es")


def count_term(text: str, low: str, term: str) -> int:
    """Occurrences of ``term`` in ``text`` as a word or identifier part."""
    stem, endings = _stem_variants(term)
    n = 0
    size = len(stem)
    i = low.find(stem)
    while i >= 0:
        if _starts_word(text, i):
            j = i + size
            for ending in endings:
                if low.startswith(ending, j) and _ends_word(text, j + len(ending)):
                    n += 1
                    break
        i = low.find(stem, i + 1)
    return n


def bm25_scores(docs: Mapping[str, str], query: str) -> dict[str, float]:
    """BM25 score of every document (keyed by path) for ``query``; 0.0 when no term matches."""
    terms = query_terms(query)
    scores = dict.fromkeys(docs, 0.0)
    if not terms or not docs:
        return scores
    term_index = {t: k for k, t in enumerate(terms)}
    tfs: dict[str, list[int]] = {}
    lengths: dict[str, int] = {}
    df = [0] * len(terms)
    for path, text in docs.items():
        lengths[path] = len(text)
        low = text.lower()
        counts = [0] * len(terms)
        hit = False
        for k, term in enumerate(terms):
            c = count_term(text, low, term)
            if c:
                counts[k] = c
                hit = True
        for part in split_terms(path):
            k2 = term_index.get(part)
            if k2 is not None:
                counts[k2] += PATH_WEIGHT
                hit = True
        if hit:
            tfs[path] = counts
            for k, c in enumerate(counts):
                if c:
                    df[k] += 1
    n_docs = len(docs)
    avg_len = (sum(lengths.values()) / n_docs) or 1.0
    idf = [math.log(1.0 + (n_docs - d + 0.5) / (d + 0.5)) for d in df]
    for path, counts in tfs.items():
        norm = K1 * (1.0 - B + B * lengths[path] / avg_len)
        scores[path] = sum(idf[k] * c * (K1 + 1.0) / (c + norm) for k, c in enumerate(counts) if c)
    return scores
