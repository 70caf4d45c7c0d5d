"""Per-account features, updated incrementally in event time.

An account's whole state is one flat ``array('d')`` of :data:`SLOTS` numbers
(under 700 bytes): no per-event objects, and cheap to copy into the state
changelog as raw bytes. :func:`update` folds one tweet into it in O(1);
:func:`feature_row` derives the model's feature vector from it, also in O(1).
Unknown values are NaN and are left out of the model's input.

This module is the definition of the update: :func:`update_python` is it as
Python. The service runs it compiled, ``consumer/_features.c`` (built by
``pip install -e .``), which leaves every state byte for byte as
:func:`update_python` does and hands it any tweet it cannot compute exactly;
:func:`update` is the compiled one where it is built, else
:func:`update_python`, and :data:`COMPILED` says which.

:data:`FEATURES` is the one table of features (name, unit, definition); the
README's feature table is rendered from it (``python -m consumer.features``).

Duplicates
----------
The same tweet delivered twice (same tweet id, in any input format) changes
nothing the second time. The state keeps the ids and times of the account's
:data:`ID_RING_SIZE` newest tweets and the *horizon*: the newest time among
the tweets that left that window. A tweet is new if its id is not in the
window and it is newer than the horizon. So a duplicate is always caught,
however late, at the price that a genuinely new tweet older than the
account's :data:`ID_RING_SIZE` newest is ignored too (arrivals are in event
time order, up to the aligner's slack, so this is rare; it is also what
bounds the memory).

Example
-------
>>> from consumer.events import Tweet
>>> state = new_state()
>>> update(state, Tweet("1", "42", 1_600_000_000.0, text="buy now http://x.co"))
True
>>> update(state, Tweet("1", "42", 1_600_000_000.0, text="buy now http://x.co"))  # redelivered
False
>>> int(state[N])
1
>>> feature_dict(feature_row(state))["url_ratio"]
0.0
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from array import array
from functools import lru_cache

from consumer.events import Profile, Tweet
from consumer import namelikelihood
from consumer.namelikelihood import screen_name_likelihood

# ---------------------------------------------------------------- the features

#: (name, unit, definition) of every feature the model sees, in model order.
FEATURES: tuple[tuple[str, str, str], ...] = (
    # BotometerLite profile features (Yang et al., AAAI 2020), from the newest user object seen
    ("statuses_count", "tweets", "tweets the account has posted (user.statuses_count; v2 public_metrics.tweet_count)"),
    ("followers_count", "accounts", "followers (user.followers_count)"),
    ("friends_count", "accounts", "accounts followed (user.friends_count; v2 following_count)"),
    ("favourites_count", "likes", "tweets liked (user.favourites_count; v2 like_count)"),
    ("listed_count", "lists", "public lists the account is on (user.listed_count)"),
    ("default_profile", "0/1", "the profile theme was never changed (v1.1 only)"),
    ("profile_use_background_image", "0/1", "the profile shows a background image (v1.1 only)"),
    ("verified", "0/1", "the account is verified"),
    ("tweet_freq", "tweets/day", "statuses_count / account age at the user object's tweet time (age at least 1 day)"),
    ("followers_growth_rate", "accounts/day", "followers_count / account age"),
    ("friends_growth_rate", "accounts/day", "friends_count / account age"),
    ("favourites_growth_rate", "likes/day", "favourites_count / account age"),
    ("listed_growth_rate", "lists/day", "listed_count / account age"),
    ("followers_friends_ratio", "ratio", "followers_count / max(friends_count, 1)"),
    ("screen_name_length", "characters", "length of the screen name"),
    ("num_digits_in_screen_name", "characters", "digits in the screen name"),
    ("name_length", "characters", "length of the display name"),
    ("num_digits_in_name", "characters", "digits in the display name"),
    ("description_length", "characters", "length of the profile description"),
    ("screen_name_likelihood", "log-probability/bigram", "mean log-probability of the screen name's character bigrams under an English name model"),
    # behaviour in the stream
    ("tweet_rate", "tweets/hour", "(tweets - 1) / hours between the account's first and last tweet"),
    ("interarrival_mean", "seconds", "mean time between consecutive tweets (in-order arrivals)"),
    ("interarrival_cv", "ratio", "coefficient of variation of the time between tweets, from 2 gaps on (regular bots: near 0)"),
    ("burstiness", "ratio", "(sd - mean) / (sd + mean) of the time between tweets, in [-1, 1] (Goh & Barabasi 2008)"),
    ("hour_entropy", "bits", "collision (Renyi order-2) entropy of the tweets' UTC hour of day, -log2 of the unbiased estimate sum c(c-1) / (n(n-1)) of the chance that two tweets share an hour, at most log2 24 = 4.58; missing until the tweets span a day"),
    ("url_ratio", "ratio", "share of tweets with at least one URL"),
    ("mention_ratio", "mentions/tweet", "user mentions per tweet"),
    ("hashtag_ratio", "hashtags/tweet", "hashtags per tweet"),
    ("retweet_ratio", "ratio", "share of tweets that are retweets"),
    ("reply_ratio", "ratio", "share of tweets that are replies"),
    ("quote_ratio", "ratio", "share of tweets that quote another"),
    ("distinct_url_domains", "domains", "distinct URL host names, www. stripped (linear counting on a 52-bit bitmap); missing until 8 tweets with a URL"),
    ("duplicate_text_ratio", "ratio", "share of tweets with text whose exact text equals one of the account's previous 4"),
    ("near_duplicate_text_ratio", "ratio", "share of tweets with text whose lowercased purely alphabetic words (links, mentions, hashtags, numbers and words with punctuation drop out) equal those of one of the previous 4; exact duplicates included"),
    ("source_diversity", "clients", "distinct clients (source) used (linear counting on a 52-bit bitmap); missing until a source is seen"),
    ("text_length_mean", "characters", "mean length of the tweet text (tweets with text)"),
    ("text_length_var", "characters^2", "variance of the tweet text length (tweets with text)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in FEATURES)


def feature_table() -> str:
    """:data:`FEATURES` as the README's Markdown table.

    >>> feature_table().splitlines()[2].startswith("| 1 | `statuses_count` | tweets |")
    True
    """
    lines = ["| # | feature | unit | definition |", "|---|---|---|---|"]
    lines += [f"| {i} | `{name}` | {unit} | {definition} |" for i, (name, unit, definition) in enumerate(FEATURES, 1)]
    return "\n".join(lines)


# ------------------------------------------------------------ the state layout

ID_RING_SIZE = 8  # tweet ids kept for duplicate detection
TEXT_RING_SIZE = 4  # text hashes kept for (near-)duplicate text
_names = (
    "N FIRST_TS LAST_TS N_DT DT_MEAN DT_M2 N_TEXT LEN_MEAN LEN_M2 "
    "N_URL N_MENTION N_HASHTAG N_RETWEET N_REPLY N_QUOTE N_DUP N_NEAR_DUP DOMAIN_BITS SOURCE_BITS "
    "RING_POS TEXT_RING _ _ _ NEAR_RING _ _ _ "
    "ID_HORIZON ID_RING _ _ _ _ _ _ _ ID_TS _ _ _ _ _ _ _ "
    "P_TS P_STATUSES P_FOLLOWERS P_FRIENDS P_FAVOURITES P_LISTED P_DEFAULT P_BACKGROUND P_VERIFIED P_CREATED "
    "P_SN_LEN P_SN_DIGITS P_NAME_LEN P_NAME_DIGITS P_DESC_LEN P_SN_LIKELIHOOD "
    "ACTION SCORE SCORE_N HOURS"
).split()
(N, FIRST_TS, LAST_TS, N_DT, DT_MEAN, DT_M2, N_TEXT, LEN_MEAN, LEN_M2,
 N_URL, N_MENTION, N_HASHTAG, N_RETWEET, N_REPLY, N_QUOTE, N_DUP, N_NEAR_DUP, DOMAIN_BITS, SOURCE_BITS,
 RING_POS, TEXT_RING, _, _, _, NEAR_RING, _, _, _,
 ID_HORIZON, ID_RING, _, _, _, _, _, _, _, ID_TS, _, _, _, _, _, _, _,
 P_TS, P_STATUSES, P_FOLLOWERS, P_FRIENDS, P_FAVOURITES, P_LISTED, P_DEFAULT, P_BACKGROUND, P_VERIFIED, P_CREATED,
 P_SN_LEN, P_SN_DIGITS, P_NAME_LEN, P_NAME_DIGITS, P_DESC_LEN, P_SN_LIKELIHOOD,
 ACTION, SCORE, SCORE_N, HOURS) = range(len(_names))
assert ID_TS - ID_RING == ID_RING_SIZE and NEAR_RING - TEXT_RING == TEXT_RING_SIZE
# ACTION, SCORE and SCORE_N belong to the detector, not to the features: the policy's action for the account,
# and its score at its last scoring (NaN before the first) with the tweets it had then, since a block needs
# two successive scores that reach the threshold, the later one after new tweets.
# The 24 hour-of-day counters, two per slot: 26 bits each stays exact in a double's 53.
_HOUR_SHIFT = float(1 << 26)
_HOUR_ADD = (1.0, _HOUR_SHIFT)
_HOUR_CAP = float((1 << 26) - 1)  # tweets after which the histogram stops counting (never, in practice)
SLOTS = HOURS + 12

NAN = float("nan")
INF = float("inf")
_TEMPLATE = array("d", [0.0] * SLOTS)
for _slot in (FIRST_TS, LAST_TS, *range(TEXT_RING, TEXT_RING + 2 * TEXT_RING_SIZE),
              *range(ID_RING, ID_RING + ID_RING_SIZE), *range(P_TS, P_SN_LIKELIHOOD + 1), SCORE):
    _TEMPLATE[_slot] = NAN
for _slot in (ID_HORIZON, *range(ID_TS, ID_TS + ID_RING_SIZE)):
    _TEMPLATE[_slot] = -INF  # an empty window slot is older than any tweet


def new_state() -> array:
    """A fresh account state: nothing seen, profile unknown."""
    return array("d", _TEMPLATE)


# ----------------------------------------------------------------- the update

# host of a URL, with or without a scheme; userinfo, port and "www." left out
_HOST = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?(?:[^/?#@]*@)?(?:www\.)?([^/?#:]*)")
_PRIME_53 = (1 << 53) - 111  # the largest prime below 2**53: ids modulo it stay exact in a double


def _stable_hash(text: str) -> float:
    # crc32, not hash(): state outlives the process and Python salts str hashes per process
    return float(zlib.crc32(text.encode("utf-8", "surrogatepass")))


def _id_hash(tweet_id: str) -> float:
    """A tweet id as a double that identifies it among one account's tweets."""
    if len(tweet_id) <= 20 and tweet_id.isascii() and tweet_id.isdigit() and (tweet_id[0] != "0" or tweet_id == "0"):
        return float(int(tweet_id) % _PRIME_53)  # Twitter's snowflake ids ("0123" is not "123": checksummed)
    data = tweet_id.encode("utf-8", "surrogatepass")  # other ids: 52 bits of two checksums
    return float(((zlib.crc32(data) << 20) ^ zlib.adler32(data)) & ((1 << 52) - 1))


def _count_digits(text: str) -> int:
    """``sum(map(str.isdigit, text))``, counted in C when ``text`` is ASCII (its only digits are then 0-9)."""
    if text.isascii():
        return len(text) - len(text.encode("ascii").translate(None, b"0123456789"))
    return sum(map(str.isdigit, text))


BITMAP_BITS = 52  # a distinct-count bitmap is held in a double: 52 bits stay exact


def _bit(text: str) -> int:
    # crc32 is linear, so similar names differ in few bits: a multiplicative mix spreads them first
    mixed = (zlib.crc32(text.encode("utf-8", "surrogatepass")) * 2654435761) & 0xFFFFFFFF
    return 1 << ((mixed * BITMAP_BITS) >> 32)


def _domain(url: str) -> str:
    """``https://user@www.Example.com:8080/x?y`` -> ``example.com``."""
    return _HOST.match(url).group(1).lower()


@lru_cache(maxsize=1 << 16)  # a screen name is seen again with each of the account's tweets
def _screen_name_stats(screen_name: str) -> tuple[float, float, float]:
    return float(len(screen_name)), float(_count_digits(screen_name)), screen_name_likelihood(screen_name)


# Bitmap bits are cached as floats: a state holds its bitmap as a double, and an account's tweets mostly add
# a bit it has already, which a comparison of doubles tells without converting the bitmap to an int and back.
_source_bits: dict[str, float] = {}  # client name -> its bit: a few hundred clients post nearly all tweets
_site_bits: dict[str, float] = {}  # a URL's "scheme://authority" (or the whole URL, if not http) -> its host's bit
_CACHE_MAX = 4096  # entries a cache holds before it is emptied (a hostile stream of new names stays bounded)


def _cached_bit(cache: dict[str, float], text: str) -> float:
    bit = cache.get(text)
    if bit is None:
        bit = float(_bit(text))
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[text] = bit
    return bit


def _url_bit(url: str) -> float:
    """The bit of the URL's host, ``_bit(_domain(url))``, cached by the URL's part up to its path.

    Hosts repeat but URLs rarely do; the regex costs more than the cache lookup. For an ``http://`` or
    ``https://`` URL the host lies before the first "/" after the scheme's "//", and :data:`_HOST` finds the
    same host in that part as in the whole URL (each of its parts stops at a "/" or at the end alike)."""
    if url.startswith(("https://", "http://")):
        end = url.find("/", 8)
        if end >= 0:
            url = url[:end]
    bit = _site_bits.get(url)
    if bit is None:
        bit = float(_bit(_HOST.match(url).group(1).lower()))
        if len(_site_bits) >= _CACHE_MAX:
            _site_bits.clear()
        _site_bits[url] = bit
    return bit


# Rings read as tuples (struct.unpack_from reads the array's buffer): an array slice costs an allocation
# and boxes a float per item compared, a tuple is allocated from a free list and compared without boxing.
_ids_of = struct.Struct(f"{ID_RING_SIZE}d").unpack_from
_texts_of = struct.Struct(f"{TEXT_RING_SIZE}d").unpack_from
_ID_RING_AT, _ID_TS_AT, _TEXT_RING_AT, _NEAR_RING_AT = (8 * slot for slot in (ID_RING, ID_TS, TEXT_RING, NEAR_RING))
# the profile's 16 slots P_TS .. P_SN_LIKELIHOOD in the layout's order, written at once from a whole user object
assert P_SN_LIKELIHOOD - P_TS == 15
_write_profile = struct.Struct(f"{P_SN_LIKELIHOOD + 1 - P_TS}d").pack_into
_P_TS_AT = 8 * P_TS


def update_python(state: array, tweet: Tweet) -> bool:
    """Fold ``tweet`` into ``state``; False (and no change) if the tweet was seen already.

    Parameters
    ----------
    state
        The account's state, from :func:`new_state`.
    tweet
        A decoded tweet of that account.

    This is the update's definition. :func:`update` is the same update compiled (``consumer/_features.c``),
    when it is built; it hands this function every tweet it cannot compute exactly, and the tests hold the
    two byte for byte alike. Written for the interpreter all the same (it is the update where the extension
    is not built): each array access boxes a float, so slots are read once into locals, rings are read as
    tuples, and helpers are inlined where a call would cost as much as the work.
    """
    ts = tweet.ts
    # admit the tweet to the account's window of newest tweets; a duplicate, or one too old to tell, changes nothing
    tweet_id = tweet.tweet_id
    if len(tweet_id) <= 20 and tweet_id.isascii() and tweet_id.isdigit() and (tweet_id[0] != "0" or tweet_id == "0"):
        tid = float(int(tweet_id) % _PRIME_53)
    else:
        tid = _id_hash(tweet_id)
    if ts <= state[ID_HORIZON] or tid in _ids_of(state, _ID_RING_AT):
        return False
    times = _ids_of(state, _ID_TS_AT)
    oldest = min(times)
    if ts < oldest:  # older than the whole window: it leaves it at once
        state[ID_HORIZON] = ts
    else:
        i = times.index(oldest)
        state[ID_RING + i] = tid
        state[ID_TS + i] = ts
        if oldest > state[ID_HORIZON]:
            state[ID_HORIZON] = oldest

    n = state[N] + 1.0
    state[N] = n
    if n == 1.0:
        state[FIRST_TS] = state[LAST_TS] = ts
    elif ts >= (last := state[LAST_TS]):
        dt = ts - last
        state[LAST_TS] = ts
        k = state[N_DT] + 1.0  # Welford over the gaps between in-order tweets
        state[N_DT] = k
        mean = state[DT_MEAN]
        delta = dt - mean
        mean = state[DT_MEAN] = mean + delta / k
        state[DT_M2] += delta * (dt - mean)
    elif ts < state[FIRST_TS]:  # a late tweet widens the span, but splits no gap we still know
        state[FIRST_TS] = ts
    if n <= _HOUR_CAP:
        hour = int(ts // 3600.0) % 24
        state[HOURS + (hour >> 1)] += _HOUR_ADD[hour & 1]

    text = tweet.text
    if text:
        k = state[N_TEXT] + 1.0
        state[N_TEXT] = k
        length = float(len(text))
        mean = state[LEN_MEAN]
        delta = length - mean
        mean = state[LEN_MEAN] = mean + delta / k
        state[LEN_M2] += delta * (length - mean)
        exact = float(_crc32(text.encode("utf-8", "surrogatepass")))  # _stable_hash
        # near-duplicate key: the purely alphabetic words, so the parts a template varies (links,
        # mentions, numbers, punctuation) drop out; a text without such words compares exactly
        words = " ".join(filter(_isalpha, text.lower().split()))
        near = float(_crc32(words.encode("utf-8", "surrogatepass"))) if words else exact
        if exact in _texts_of(state, _TEXT_RING_AT):
            state[N_DUP] += 1.0
            state[N_NEAR_DUP] += 1.0
        elif near in _texts_of(state, _NEAR_RING_AT):
            state[N_NEAR_DUP] += 1.0
        ring = int(state[RING_POS])
        state[TEXT_RING + ring] = exact
        state[NEAR_RING + ring] = near
        state[RING_POS] = (ring + 1) % TEXT_RING_SIZE

    urls = tweet.urls
    if urls:
        state[N_URL] += 1.0
        old = state[DOMAIN_BITS]
        if len(urls) == 1:
            bit = _url_bit(urls[0])
            if bit != old:  # else the account's only domain so far is this one
                state[DOMAIN_BITS] = float(int(old) | int(bit))
        else:
            bits = int(old)
            for url in urls:
                bits |= int(_url_bit(url))
            state[DOMAIN_BITS] = float(bits)
    # most of these are 0 or False: test before touching the array (each access boxes a float)
    if tweet.mentions:
        state[N_MENTION] += tweet.mentions
    if tweet.hashtags:
        state[N_HASHTAG] += tweet.hashtags
    if tweet.is_retweet:
        state[N_RETWEET] += 1.0
    if tweet.is_reply:
        state[N_REPLY] += 1.0
    if tweet.is_quote:
        state[N_QUOTE] += 1.0
    source = tweet.source
    if source:
        bit = _source_bits.get(source)
        if bit is None:
            bit = _cached_bit(_source_bits, source)
        if bit != (old := state[SOURCE_BITS]):  # else the account's only client so far is this one
            state[SOURCE_BITS] = float(int(old) | int(bit))

    p = tweet.profile
    if p is not None and not ts < state[P_TS]:  # keep the newest user object (NaN compares False)
        _update_profile(state, p, ts)
    return True


_crc32 = zlib.crc32
_isalpha = str.isalpha


def _update_profile(state: array, p, ts: float) -> None:
    # a field the payload lacks keeps its last known value rather than turning unknown
    statuses, followers, friends, favourites, listed = p.statuses, p.followers, p.friends, p.favourites, p.listed
    default, background, verified, created = p.default_profile, p.background_image, p.verified, p.created_at
    sn, name, description = p.screen_name, p.name, p.description
    if (statuses is not None and followers is not None and friends is not None and favourites is not None
            and listed is not None and verified is not None and created is not None and sn is not None
            and len(sn) <= 64 and name is not None and description is not None):
        # a whole user object (v2's lacks the theme flags): every slot in one write, a lacking flag rewritten
        # as it was (a double read out and written back keeps its bits, NaN's included)
        if default is None:
            default = state[P_DEFAULT]
        if background is None:
            background = state[P_BACKGROUND]
        sn_len, sn_digits, sn_likelihood = _screen_name_stats(sn)
        _write_profile(state, _P_TS_AT, ts, statuses, followers, friends, favourites, listed, default, background,
                       verified, created, sn_len, sn_digits, len(name),
                       _count_digits(name) if name and not name.isalpha() else 0, len(description), sn_likelihood)
        return
    state[P_TS] = ts
    for slot, v in zip(range(P_STATUSES, P_CREATED + 1),
                       (statuses, followers, friends, favourites, listed, default, background, verified, created)):
        if v is not None:
            state[slot] = v
    if sn is not None:
        if len(sn) <= 64:  # cache only what a screen name can be (15 characters on Twitter)
            state[P_SN_LEN], state[P_SN_DIGITS], state[P_SN_LIKELIHOOD] = _screen_name_stats(sn)
        else:
            state[P_SN_LEN], state[P_SN_DIGITS], state[P_SN_LIKELIHOOD] = _screen_name_stats.__wrapped__(sn)
    if name is not None:
        state[P_NAME_LEN] = len(name)
        state[P_NAME_DIGITS] = _count_digits(name) if name and not name.isalpha() else 0
    if description is not None:
        state[P_DESC_LEN] = len(description)


def _bind_compiled(python_update=update_python):
    """``consumer._features.update`` bound to this module's helpers, or None where it is not built or was
    built for another state layout (then :func:`update_python` is the update, and ``COMPILED`` says so).
    ``python_update`` is what it hands the tweets it declines (the tests bind a spy for a while)."""
    try:
        from consumer import _features
    except ImportError:
        return None
    layout = {name: globals().get(name) for name in _features.LAYOUT}
    if layout != _features.LAYOUT:
        return None
    name_model = (namelikelihood._ROWS, namelikelihood._FLOOR, namelikelihood._START, namelikelihood._END)
    _features.bind(python_update, _screen_name_stats, name_model, _url_bit, Tweet, Profile, array)
    return _features.update


_compiled_update = _bind_compiled()
#: Whether :func:`update` is the compiled one (the service logs it at start).
COMPILED: bool = _compiled_update is not None
#: Fold a tweet into an account's state: :func:`update_python`, compiled where ``consumer._features`` is built.
update = _compiled_update or update_python


# ------------------------------------------------------------ the feature row

def _linear_count(bits: float) -> float:
    """Distinct items behind a bitmap (Whang et al. 1990); saturates at m ln m = 205 for m = 52."""
    m = BITMAP_BITS
    zeros = m - int(bits).bit_count()
    return m * math.log(m) if zeros == 0 else -m * math.log(zeros / m)


#: Seconds the account's tweets must span before the hour-of-day entropy is known. Over a shorter span
#: every account's tweets fall into the few hours it covers, so the entropy measures the span and the tweet
#: count, not a daily rhythm; a model that learned it from young labelled accounts would read the longer
#: histories of the accounts it scores later as a different kind of account.
HOUR_ENTROPY_MIN_SPAN = 86400.0
#: URL tweets an account needs before its distinct domains are known. The count of distinct domains grows
#: with the links seen; below this, it says more about how many links an account has posted (an
#: account labelled young has few) than about how many domains it links to.
DOMAINS_MIN_URLS = 8.0
_MAX_HOUR_ENTROPY = math.log2(24)


def _hour_entropy(state: array, n: float) -> float:
    """Collision entropy of the hour-of-day histogram in bits, ``-log2 D`` with ``D = sum c (c - 1) / (T (T - 1))``
    over the hour counts ``c`` of the ``T`` tweets counted. ``D`` estimates the chance that two tweets share an
    hour without bias whatever ``T``; Shannon's plug-in entropy of ``T`` tweets falls short of the account's
    true one by about ``23 / (2 T ln 2)`` bits, so it would grow with the tweets seen whatever the account's
    rhythm. Capped at ``log2 24`` (hours spread evenly, or no two tweets in the same hour yet)."""
    if not state[LAST_TS] - state[FIRST_TS] >= HOUR_ENTROPY_MIN_SPAN:
        return NAN
    total = n if n <= _HOUR_CAP else _HOUR_CAP
    pairs = 0.0
    for v in state[HOURS:HOURS + 12]:
        if v:
            hi = v // _HOUR_SHIFT
            lo = v - hi * _HOUR_SHIFT
            pairs += lo * (lo - 1.0) + hi * (hi - 1.0)
    collision = pairs / (total * (total - 1.0))
    return _MAX_HOUR_ENTROPY if collision <= 1.0 / 24.0 else -math.log2(collision)


def hour_counts(state: array) -> list[float]:
    """The 24 UTC hour-of-day tweet counts held in ``state``."""
    out = []
    for v in state[HOURS:HOURS + 12]:
        hi = v // _HOUR_SHIFT
        out += (v - hi * _HOUR_SHIFT, hi)
    return out


def feature_row(state: array) -> list[float]:
    """The account's features in :data:`FEATURE_NAMES` order; NaN where unknown."""
    n = state[N]
    if n == 0.0:
        return [NAN] * len(FEATURES)
    age_days = (state[P_TS] - state[P_CREATED]) / 86400.0
    age_days = age_days if age_days >= 1.0 else (1.0 if age_days == age_days else NAN)
    friends = state[P_FRIENDS]
    k = state[N_DT]
    dt_mean = state[DT_MEAN] if k >= 1.0 else NAN
    if k >= 2.0:
        dt_sd = math.sqrt(state[DT_M2] / k)
        cv = dt_sd / dt_mean if dt_mean > 0 else 0.0
        burst = (dt_sd - dt_mean) / (dt_sd + dt_mean) if dt_sd + dt_mean > 0 else 0.0
    else:
        cv = burst = NAN
    span_h = (state[LAST_TS] - state[FIRST_TS]) / 3600.0
    rate = (n - 1.0) / span_h if span_h > 0 else NAN
    n_text = state[N_TEXT]
    if n_text:
        dup, near_dup = state[N_DUP] / n_text, state[N_NEAR_DUP] / n_text
        len_mean, len_var = state[LEN_MEAN], state[LEN_M2] / n_text
    else:
        dup = near_dup = len_mean = len_var = NAN
    return [
        state[P_STATUSES], state[P_FOLLOWERS], friends, state[P_FAVOURITES], state[P_LISTED],
        state[P_DEFAULT], state[P_BACKGROUND], state[P_VERIFIED],
        state[P_STATUSES] / age_days, state[P_FOLLOWERS] / age_days, friends / age_days,
        state[P_FAVOURITES] / age_days, state[P_LISTED] / age_days,
        state[P_FOLLOWERS] / max(friends, 1.0) if friends == friends else NAN,
        state[P_SN_LEN], state[P_SN_DIGITS], state[P_NAME_LEN], state[P_NAME_DIGITS], state[P_DESC_LEN],
        state[P_SN_LIKELIHOOD],
        rate, dt_mean, cv, burst, _hour_entropy(state, n),
        state[N_URL] / n, state[N_MENTION] / n, state[N_HASHTAG] / n,
        state[N_RETWEET] / n, state[N_REPLY] / n, state[N_QUOTE] / n,
        _linear_count(state[DOMAIN_BITS]) if state[N_URL] >= DOMAINS_MIN_URLS else NAN,
        dup, near_dup,
        _linear_count(state[SOURCE_BITS]) if state[SOURCE_BITS] else NAN,
        len_mean, len_var,
    ]


def feature_dict(row: list[float]) -> dict[str, float]:
    """A feature row as River input: known features only."""
    return {name: v for name, v in zip(FEATURE_NAMES, row) if v == v}


if __name__ == "__main__":  # python -m consumer.features: the README's feature table
    print(feature_table())
