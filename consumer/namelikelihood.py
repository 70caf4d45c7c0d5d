"""Screen-name likelihood: how much a screen name looks like a person's name.

BotometerLite (Yang et al., AAAI 2020) scores a screen name by the likelihood of
its character bigrams under a model of genuine screen names. We have no such
corpus to ship, so the bigram model is trained, once at import, on a built-in
list of common English given names, surnames and words (the parts people build
screen names from). Random strings such as ``xk7q2zv9`` score low; ``annasmith``
scores high.

>>> screen_name_likelihood("annasmith") > screen_name_likelihood("xq7zk2vw9")
True
"""

from __future__ import annotations

import math

_CORPUS = """
james john robert michael william david richard joseph thomas charles christopher daniel matthew
anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward
jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin
samuel gregory alexander frank patrick raymond jack dennis jerry tyler aaron jose adam nathan henry
douglas zachary peter kyle noah ethan jeremy walter christian keith roger terry austin sean gerald
carl harold dylan arthur lawrence jordan jesse bryan billy bruce gabriel joe logan alan juan albert
willie elijah wayne randy vincent mason roy ralph bobby russell bradley philip eugene louis harry
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty sandra
margaret ashley kimberly emily donna michelle carol amanda melissa deborah stephanie dorothy
rebecca sharon laura cynthia amy kathleen angela shirley brenda emma anna pamela nicole samantha
katherine christine helen debra rachel carolyn janet maria catherine heather diane olivia julie
joyce victoria ruth virginia lauren kelly christina joan evelyn judith andrea hannah megan cheryl
jacqueline martha madison teresa gloria sara janice ann kathryn abigail sophia frances jean alice
judy isabella julia grace amber denise danielle marilyn beverly charlotte natalie theresa diana
brittany doris kayla alexis lori marie sophie lucy chloe zoe mia ella lily ava luca leo max sam
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez
wilson anderson taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez
lewis robinson walker young allen king wright scott torres nguyen hill flores green adams nelson
baker hall rivera campbell mitchell carter roberts gomez phillips evans turner diaz parker cruz
edwards collins reyes stewart morris morales murphy cook rogers gutierrez ortiz morgan cooper
peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks chavez wood james
bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster
the official real news daily life love music sports world city girl boy man woman mom dad
photo travel food coffee book writer artist design dev tech game gamer fan club team blog
official tweets world news times post media radio film studio shop store home garden dog cat
"""

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
_START, _END = "^", "$"


def _train() -> dict[str, float]:
    symbols = _ALPHABET + _START + _END
    counts: dict[str, int] = {}
    for word in _CORPUS.split():
        padded = _START + word + _END
        for a, b in zip(padded, padded[1:]):
            counts[a + b] = counts.get(a + b, 0) + 1
    totals: dict[str, int] = {}
    for pair, c in counts.items():
        totals[pair[0]] = totals.get(pair[0], 0) + c
    vocab = len(symbols)
    # add-one smoothing, so unseen bigrams (digits, rare pairs) get a small, finite probability
    logp = {a + b: math.log((counts.get(a + b, 0) + 1) / (totals.get(a, 0) + vocab)) for a in symbols for b in symbols}
    return logp


_LOGP = _train()
_FLOOR = min(_LOGP.values())
# _LOGP by first, then second character: a name's characters are looked up as they are (one-character
# strings are shared, their hashes kept), where a bigram key would be a new string, hashed anew, per bigram
_ROWS = {a: {b: _LOGP[a + b] for b in _ALPHABET + _START + _END} for a in _ALPHABET + _START + _END}
_NO_ROW: dict[str, float] = {}


def screen_name_likelihood(screen_name: str) -> float:
    """Mean log-probability per character bigram of ``screen_name`` (higher: more name-like).

    ``consumer/_features.c`` scores ASCII names with the same :data:`_ROWS` and sums in the same order; the
    tests hold its features byte for byte to this function's."""
    padded = _START + screen_name.lower() + _END
    total = 0.0
    rows, floor = _ROWS, _FLOOR
    for a, b in zip(padded, padded[1:]):
        total += rows.get(a, _NO_ROW).get(b, floor)  # _LOGP.get(a + b, _FLOOR)
    return total / (len(padded) - 1)
