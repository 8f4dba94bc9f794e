"""A small English stemmer (the Porter 1980 algorithm) and the tokenizer the router uses.

Written here rather than pulled from PyPI: the algorithm is short, and the router calls it on
every word of every document, so it sits behind a cache.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter

_TOKEN = re.compile(r"[a-z0-9]+")

# Function words and the words every skill text uses ("use when", "skill", "this"): they carry no
# routing signal and only lengthen postings.
STOP_WORDS: frozenset[str] = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing don down during each either else
    etc even ever every few for from further get gets got had has have having he her here hers him
    his how however i if in into is it its itself just let me more most much must my need needs no
    nor not now of off on once one only or other our ours out over own per please rather really same
    shall she should so some such than that the their theirs them then there these they this those
    through thus to too under until up upon us use used uses using very via was we were what when
    whenever where whether which while who whom whose why will with within without would yet you
    your yours yourself e g ie eg vs skill skills""".split()  # noqa: SIM905 - a word list reads better
)

_VOWELS = frozenset("aeiou")


def _cons(w: str, i: int) -> bool:
    c = w[i]
    if c in _VOWELS:
        return False
    if c == "y":
        return i == 0 or not _cons(w, i - 1)
    return True


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in the stem."""
    m = 0
    prev_vowel = False
    for i in range(len(stem)):
        vowel = not _cons(stem, i)
        if prev_vowel and not vowel:
            m += 1
        prev_vowel = vowel
    return m


def _has_vowel(stem: str) -> bool:
    return any(not _cons(stem, i) for i in range(len(stem)))


def _double_cons(w: str) -> bool:
    return len(w) >= 2 and w[-1] == w[-2] and _cons(w, len(w) - 1)


def _cvc(w: str) -> bool:
    if len(w) < 3:
        return False
    return (_cons(w, len(w) - 3) and not _cons(w, len(w) - 2) and _cons(w, len(w) - 1)
            and w[-1] not in "wxy")


_STEP2 = (
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
    ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
    ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ("logi", "log"),
)
_STEP3 = (
    ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""),
    ("ness", ""),
)
_STEP4 = (
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
    "ism", "ate", "iti", "ous", "ive", "ize",
)


def _porter(w: str) -> str:
    if len(w) <= 2:
        return w
    # British spellings meet American ones before stemming (serialise/serialize).
    if w.endswith(("ise", "ised", "ises", "ising", "isation", "isations")) and len(w) > 5:
        i = w.rfind("is")
        w = w[:i] + "iz" + w[i + 2:]
    # step 1a
    if w.endswith(("sses", "ies")):
        w = w[:-2]
    elif w.endswith("ss"):
        pass
    elif w.endswith("s"):
        w = w[:-1]
    # step 1b
    extra = False
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
    elif w.endswith("ed") and _has_vowel(w[:-2]):
        w, extra = w[:-2], True
    elif w.endswith("ing") and _has_vowel(w[:-3]):
        w, extra = w[:-3], True
    if extra:
        if w.endswith(("at", "bl", "iz")):
            w += "e"
        elif _double_cons(w) and w[-1] not in "lsz":
            w = w[:-1]
        elif _measure(w) == 1 and _cvc(w):
            w += "e"
    # step 1c
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    # step 2
    for suf, rep in _STEP2:
        if w.endswith(suf):
            if _measure(w[: -len(suf)]) > 0:
                w = w[: -len(suf)] + rep
            break
    # step 3
    for suf, rep in _STEP3:
        if w.endswith(suf):
            if _measure(w[: -len(suf)]) > 0:
                w = w[: -len(suf)] + rep
            break
    # step 4
    for suf in _STEP4:
        if w.endswith(suf):
            stem = w[: -len(suf)]
            if _measure(stem) > 1 and (suf != "ion" or stem.endswith(("s", "t"))):
                w = stem
            break
    # step 5
    if w.endswith("e"):
        stem = w[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            w = stem
    if _measure(w) > 1 and _double_cons(w) and w.endswith("l"):
        w = w[:-1]
    return w


_CACHE: dict[str, str] = {}  # word -> stem, or "" for a word that is dropped
_CACHE_MAX = 500_000  # bounded: decoy corpora and random queries must not grow it forever


def _term(word: str) -> str:
    if len(word) < 2 or word in STOP_WORDS:
        return ""
    return word if len(word) <= 3 or not word.isalpha() else _porter(word)


def stem(word: str) -> str:
    """Porter stem of one lowercase word (stop words too); digits and short words pass through."""
    s = _CACHE.get(word)
    if s:
        return s
    return _porter(word) if len(word) > 3 and word.isalpha() else word


# Every byte but [a-z0-9] -> a space: splitting on it gives what `_TOKEN.findall` gives, in C
# without the regex engine (2.5 times as fast on document bodies).
_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789"
_TO_SPACE = bytes(c if c in _KEEP else 0x20 for c in range(256))


def words(text: str) -> list[str]:
    """The lowercase ASCII words of a text: `_TOKEN.findall(text.lower())`, faster.

    Lowercased first, so a character whose lowercase is ASCII (the Kelvin sign) counts as the
    regex counts it; any other non-ASCII character (a lone surrogate too) becomes "?", then a
    space, so it splits words as the regex does.
    """
    return text.lower().encode("ascii", "replace").translate(_TO_SPACE).decode("ascii").split()


def _terms(ws: list[str]) -> Sequence[str]:
    """Each word's term ("" for a dropped word), in order.

    The words are looked up all at once in C (`itemgetter`); only a text with words the cache
    has not seen yet stems those first. A per-word Python loop costs a quarter more on bodies of
    thousands of words.
    """
    cache = _CACHE
    if not ws:
        return ()
    try:
        found = itemgetter(*ws)(cache)
    except KeyError:
        new = set(ws).difference(cache)
        if len(cache) + len(new) > _CACHE_MAX:
            # a flood of unseen words (decoy corpora, random queries): stemmed, not kept
            return [cache[w] if w in cache else _term(w) for w in ws]
        for w in new:
            cache[w] = _term(w)
        found = itemgetter(*ws)(cache)
    return (found,) if len(ws) == 1 else found  # (itemgetter of one key gives the value itself)


def tokens(text: str) -> list[str]:
    """Stemmed content words of a text, in order (stop words and one-letter words dropped)."""
    return list(filter(None, _terms(words(text))))


def term_counts(text: str) -> Counter[str]:
    """`Counter(tokens(text))`, without the list in between."""
    return Counter(filter(None, _terms(words(text))))
