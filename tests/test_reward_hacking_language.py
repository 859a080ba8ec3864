"""Reward hacking, language verifier: chains of thought that hide a language other than the
target from the word count, or that pass an unknown language off as the target, each beside
an honest twin (the same frame, in the target language) that keeps full reward."""

import pytest

from verifiers import Sample
from verifiers.language import LanguageVerifier, language_counts, language_ratio

FR = [
    "Réfléchissons d'abord à la manière d'aborder ce problème avant d'écrire quoi que ce soit",
    "La dérivée de la fonction est positive sur tout l'intervalle, donc elle est croissante",
    "Ensuite nous calculons la valeur au point donné et nous vérifions le résultat obtenu",
]
EN = [
    "First let me think about how to approach this problem before writing anything down",
    "The derivative of the function is positive on the whole interval, so it is increasing",
    "Then we compute the value at the given point and we check the result we obtained",
]
FRAME = "Let me compute this."
END = "So the answer is 12."


def hide(sentences, wrap):
    return " ".join([FRAME, *(wrap(s) for s in sentences), END])


# ---------------------------------------------------------------- invisible marks


@pytest.mark.parametrize(
    "mark",
    [
        "\u200e",
        "\u200f",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
    ]
    + ["\u061c", "\u3164", "\u034f", "\u115f", "\ufff9", "\U000e0100"],
)
def test_invisible_marks_after_every_letter_do_not_hide_a_language(mark):
    hidden = mark.join(". ".join(FR))
    assert language_ratio(hidden, "en") == 0.0
    assert language_ratio(hidden, "fr") == 1.0
    assert language_ratio(mark.join(". ".join(EN)), "en") == 1.0  # honest twin


# ---------------------------------------------------------------- prose hidden in not-prose spans

HIDING_PLACES = {
    "math text": lambda s: f"$\\text{{{s}}}$",
    "display text": lambda s: f"\\[\\text{{{s}}}\\]",
    "math bold text": lambda s: f"$x = 1 \\textbf{{{s}}}$",
    "code fence": lambda s: f"\n```\n{s}\n```\n",
    "code comment": lambda s: f"\n```python\nx = 1  # {s}\n```\n",
    "string literal": lambda s: f'\n```python\nprint("{s}")\n```\n',
    "inline code": lambda s: f"`{s}`",
    "fake tag": lambda s: f"<x {s}>",
    "tag attribute": lambda s: f'<span title="{s}"></span>',
    "underscores": lambda s: s.replace(" ", "_").replace(",", ""),
    "math italic": lambda s: f"${s}$",  # ours: letters in math mode, no \text
    "url path": lambda s: "https://example.org/" + s.replace(" ", "-").replace(",", ""),  # ours
    "environment": lambda s: f"\\begin{{comment}}{s}\\end{{comment}}",  # ours
}


@pytest.mark.parametrize("place", HIDING_PLACES)
def test_prose_hidden_in_spans_that_are_not_language_still_counts(place):
    wrap = HIDING_PLACES[place]
    assert language_ratio(hide(FR, wrap), "en") < 0.3
    assert language_ratio(hide(EN, wrap), "en") == 1.0  # honest twin: the same frame in English


def test_unknown_latex_commands_are_not_a_hiding_place():  # ours: \bonjour \je \pense
    words = "Bonjour je pense que la dérivée de la fonction est positive sur tout intervalle donc croissante"
    hidden = FRAME + " " + " ".join("\\" + w for w in words.split()) + " " + END
    assert language_ratio(hidden, "en") < 0.4
    honest = FRAME + r" \frac{1}{2} \cdot \sqrt{3} \leq \pi \therefore " + END  # known commands: nothing
    assert language_counts(honest, "en") == {"en": 8}


def test_words_glued_together_or_written_letter_by_letter_keep_their_weight():  # ours
    glued = hide(FR, lambda s: "".join(s.split()))
    camel = hide(FR, lambda s: "".join(w[:1].upper() + w[1:] for w in s.split()))
    spaced = hide(FR, lambda s: " ".join(s.replace(" ", "")))
    for text in (glued, camel, spaced):
        assert language_ratio(text, "en") < 0.3
    assert language_ratio(hide(EN, lambda s: s + "."), "en") == 1.0


# ---------------------------------------------------------------- fastText must read the whole chunk


def test_a_long_chunk_is_read_whole_not_sampled():
    en = "we add the two numbers and then check the result against the formula again".split()
    fr = "nous ajoutons les deux nombres puis vérifions le résultat avec la formule encore une fois".split()
    # every fifth word English: the even spread of 8 words fastText read was all English (1.0 before)
    words, f = [], 0
    for i in range(40):
        if i % 5 == 0:
            words.append(en[i // 5])
        else:
            words.append(fr[f % len(fr)])
            f += 1
    assert language_ratio(" ".join(words) + ".", "en") == 0.0


# ---------------------------------------------------------------- unsure is not the target

UNKNOWN = {
    "hausa": "Da farko muna bukatar mu lissafa adadin hanyoyin zabar kwamitin. Bari in yi tunani game da "
    "yadda za a tunkari wannan matsala kafin in rubuta komai. Jira, na yi kuskure a mataki na biyu, alamar "
    "ya kamata ta zama mara kyau. Saboda haka amsar ita ce goma sha biyu.",
    "swahili, short sentences": "Kwanza tunahesabu. Kisha tunaongeza. Ngoja kidogo. Hiyo ni sahihi. Jibu ni "
    "kumi na mbili. Tuangalie tena. Tunagawanya kwa tatu. Tunapata nne. Sasa tunazidisha. Matokeo ni kumi na "
    "mbili. Nadhani ni sawa. Tumemaliza.",
    "pinyin": "Shou xian wo men kan zhe ge wen ti. Ran hou ji suan dao shu. Deng yi xia, zhe li you cuo wu. "
    "Wo men zai shi yi ci. Suo yi da an shi shi er. Rang wo jian cha yi xia. Mei you wen ti le. Hao de.",
    "zulu": "Okokuqala sidinga ukubala inani lezindlela. Ake ngicabange ngokuthi ngingayixazulula kanjani le "
    "nkinga. Linda, ngenze iphutha esinyathelweni sesibili. Ngakho impendulo ingamashumi amabili.",  # ours
    "romaji": "Mazu kono mondai wo kangaemasu. Kansuu no doukansuu wo keisan shite atai wo dainyuu shimasu. "
    "Chotto matte, ni banme no suteppu ni machigai ga arimasu. Dakara kotae wa juuni desu.",  # ours
}


@pytest.mark.parametrize("name", UNKNOWN)
def test_a_language_fasttext_is_unsure_of_does_not_count_as_the_target(name):
    assert language_ratio(UNKNOWN[name], "en") < 0.35


R1_EN = (
    "Okay, let's see. Hmm. Factor it? Yes. Wait. Maybe not. Let me try. Right. So x is 2 or 3. Done? "
    "Let me double check with the formula. OK. Therefore the answer is 2 and 3. Alright."
)
SW = (
    "Kwanza tunahitaji kuhesabu idadi ya njia za kuchagua kamati. Hebu nifikirie jinsi ya kushughulikia "
    "tatizo hili kabla ya kuandika chochote. Subiri, nilifanya kosa katika hatua ya pili, ishara inapaswa "
    "kuwa hasi badala yake."
)


def test_honest_fragments_fasttext_is_unsure_of_keep_the_benefit_of_the_doubt():
    assert language_ratio(R1_EN, "en") == 1.0
    assert language_ratio("Hmm. Wait. Yes. Good. Done.", "en") == 1.0
    # fastText is weak on Swahili, but ranks it first, far above what it gives unreadable text
    assert language_ratio(SW, "sw") == 1.0


def test_the_benefit_of_the_doubt_is_bounded_when_mixed_with_the_target():
    # sure English sentences interleaved with as many unknown words: before, nearly all of the
    # unknown words counted as English; now at most DOUBT_WORDS plus DOUBT_SHARE of the sure English
    en = ". ".join(EN) + ". "
    for name in ("hausa", "swahili, short sentences", "pinyin", "romaji"):  # zulu: fastText reads it en
        text = en + UNKNOWN[name] + " " + en + UNKNOWN[name]
        counts = language_counts(text, "en")
        unknown = sum(counts.values()) - 2 * language_counts(en, "en")["en"]
        assert unknown > 40
        assert counts["en"] / sum(counts.values()) < 0.8


def test_words_glued_to_digits_are_words_when_they_are_more_than_a_unit():  # ours
    # pinyin with tone numbers: every syllable was glued to a digit, so nothing counted (1.0 for en)
    tones = (
        "Shou3 xian1 wo3 men5 kan4 zhe4 ge4 wen4 ti2. Ran2 hou4 ji4 suan4 dao3 shu4. Deng3 yi2 xia4, "
        "zhe4 li3 you3 cuo4 wu4. Suo3 yi3 da2 an4 shi4 shi2 er4. Rang4 wo3 zai4 jian3 cha2 yi2 xia4."
    )
    assert language_ratio(tones, "en") < 0.5
    # a variable, a unit glued to its number and x_1 stay out of the count
    assert language_counts("So x1 is 10cm and 5kg, and x2 = 2x.", "en") == {"en": 4}


# ---------------------------------------------------------------- capitals


def test_capitals_do_not_hide_half_the_words():
    half = ". ".join(" ".join(w.upper() if i % 2 else w for i, w in enumerate(s.split())) for s in FR)
    assert language_ratio(half, "en") == 0.0
    # capital French words between English ones: read with their sentence, not dropped
    mixed = "Let LA me DE see EST the UNE next QUE step DANS and POUR check SUR it AVEC now."
    assert language_ratio(mixed, "en") < 0.5
    assert language_counts("By AM-GM and the GCD we are done, WLOG.", "en") == {"en": 6}  # acronyms
    assert language_ratio(". ".join(s.upper() for s in EN), "en") == 1.0


# ---------------------------------------------------------------- through the verifier


def test_the_verifier_gives_no_reward_for_a_hidden_french_chain_of_thought():
    thinking = "\u200e".join(". ".join(FR))
    completion = f"<think>{thinking}</think><answer>12</answer>"
    score = LanguageVerifier(target="en").score(Sample(completion))
    assert score.value == 0.0
    honest = f"<think>{'. '.join(EN)}</think><answer>12</answer>"
    assert LanguageVerifier(target="en").score(Sample(honest)).value == 1.0


# ---------------------------------------------------------------- honest math is not a language


PROOF = (
    "Since $AK$ is an altitude to $\\triangle ABC$, the angles $\\angle ABK$ and $\\angle ACK$ are right angles. "
    "We use the Pythagorean theorem to find the lengths of $AB$ and $AC$:\n"
    "\\begin{align*}\nAB^2&=BK^2+AK^2=64+36=100,\\\\\nAC^2&=CK^2+AK^2=72.\n\\end{align*}\n"
    "Then \\begin{cases} x = 1 \\\\ y = 2 \\end{cases} and \\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix} follow. "
    "Therefore the perimeter of the triangle is $18+6\\sqrt{2}$."
)


def test_environment_names_and_point_names_in_math_are_not_words():
    # an honest English proof read "align align" and "AB BK AK AC" as Polish: 0.8 before (round 2)
    assert language_ratio(PROOF, "en") == 1.0
    # hack twin: prose in \text inside an environment still counts, and a long environment name is text
    hidden = PROOF.replace("AC^2&=", "AC^2&=\\text{" + FR[1] + "}")
    assert language_ratio(hidden, "en") < 0.75
    long_name = "\\begin{" + FR[0][:38] + "} x \\end{" + FR[0][:38] + "}"
    assert language_ratio(FRAME + " " + long_name + " " + END, "en") <= 0.5
