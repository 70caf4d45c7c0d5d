"""A frozen copy of ``consumer.features.update`` as it was before it was tuned for speed (commit 21f3c75).

``tests/test_features.py`` checks that the tuned update leaves every state byte for byte as this one does,
and ``benchmarks/features.py --stream`` times the two side by side. Do not edit it to follow changes of the
update: it is the reference the changes are measured against. It keeps caches of its own, so it shares no
memory with the module under test.
"""

from __future__ import annotations

import re
import zlib
from array import array
from functools import lru_cache

from consumer.events import Tweet
from consumer.features import (
    DOMAIN_BITS, FIRST_TS, HOURS, ID_HORIZON, ID_RING, ID_RING_SIZE, ID_TS, LAST_TS, LEN_M2, LEN_MEAN, N,
    N_DT, N_DUP, N_HASHTAG, N_MENTION, N_NEAR_DUP, N_QUOTE, N_REPLY, N_RETWEET, N_TEXT, N_URL, NEAR_RING,
    DT_M2, DT_MEAN, P_BACKGROUND, P_CREATED, P_DEFAULT, P_DESC_LEN, P_FAVOURITES, P_FOLLOWERS, P_FRIENDS,
    P_LISTED, P_NAME_DIGITS, P_NAME_LEN, P_SN_DIGITS, P_SN_LEN, P_SN_LIKELIHOOD, P_STATUSES, P_TS,
    P_VERIFIED, RING_POS, SOURCE_BITS, TEXT_RING, TEXT_RING_SIZE,
)
from consumer.namelikelihood import _END, _FLOOR, _LOGP, _START

_HOUR_SHIFT = float(1 << 26)
_HOUR_ADD = (1.0, _HOUR_SHIFT)
_HOUR_CAP = float((1 << 26) - 1)


def screen_name_likelihood(screen_name: str) -> float:  # consumer.namelikelihood's, as it was
    padded = _START + screen_name.lower() + _END
    total = 0.0
    for a, b in zip(padded, padded[1:]):
        total += _LOGP.get(a + b, _FLOOR)
    return total / (len(padded) - 1)


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
    return float(len(screen_name)), float(sum(map(str.isdigit, screen_name))), screen_name_likelihood(screen_name)


_source_bits: dict[str, int] = {}  # client name -> its bit: a few hundred clients post nearly all tweets
_domain_bits: dict[str, int] = {}  # host -> its bit
_CACHE_MAX = 4096  # entries a bit cache holds before it is emptied (a hostile stream of new names stays bounded)


def _cached_bit(cache: dict[str, int], text: str) -> int:
    bit = cache.get(text)
    if bit is None:
        bit = _bit(text)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[text] = bit
    return bit


def update(state: array, tweet: Tweet) -> bool:
    """Fold ``tweet`` into ``state``; False (and no change) if the tweet was seen already.

    Parameters
    ----------
    state
        The account's state, from :func:`new_state`.
    tweet
        A decoded tweet of that account.

    This runs once per event, so it is written for the interpreter: each array access boxes a float, so
    slots are read once into locals, and helpers are inlined where a call would cost as much as the work.
    """
    ts = tweet.ts
    # admit the tweet to the account's window of newest tweets; a duplicate, or one too old to tell, changes nothing
    tweet_id = tweet.tweet_id
    if len(tweet_id) <= 20 and tweet_id.isdigit() and tweet_id.isascii() and (tweet_id[0] != "0" or tweet_id == "0"):
        tid = float(int(tweet_id) % _PRIME_53)
    else:
        tid = _id_hash(tweet_id)
    if ts <= state[ID_HORIZON] or tid in state[ID_RING:ID_RING + ID_RING_SIZE]:
        return False
    times = state[ID_TS:ID_TS + ID_RING_SIZE]
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
        if exact in state[TEXT_RING:TEXT_RING + TEXT_RING_SIZE]:
            state[N_DUP] += 1.0
            state[N_NEAR_DUP] += 1.0
        elif near in state[NEAR_RING:NEAR_RING + TEXT_RING_SIZE]:
            state[N_NEAR_DUP] += 1.0
        ring = int(state[RING_POS])
        state[TEXT_RING + ring] = exact
        state[NEAR_RING + ring] = near
        state[RING_POS] = (ring + 1) % TEXT_RING_SIZE

    urls = tweet.urls
    if urls:
        state[N_URL] += 1.0
        bits = int(state[DOMAIN_BITS])
        for url in urls:
            bits |= _cached_bit(_domain_bits, _HOST.match(url).group(1).lower())  # _bit(_domain(url))
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
        state[SOURCE_BITS] = float(int(state[SOURCE_BITS]) | bit)

    p = tweet.profile
    if p is not None and not ts < state[P_TS]:  # keep the newest user object (NaN compares False)
        _update_profile(state, p, ts)
    return True


_crc32 = zlib.crc32
_isalpha = str.isalpha


def _update_profile(state: array, p, ts: float) -> None:
    # a field the payload lacks keeps its last known value rather than turning unknown
    state[P_TS] = ts
    if (v := p.statuses) is not None:
        state[P_STATUSES] = v
    if (v := p.followers) is not None:
        state[P_FOLLOWERS] = v
    if (v := p.friends) is not None:
        state[P_FRIENDS] = v
    if (v := p.favourites) is not None:
        state[P_FAVOURITES] = v
    if (v := p.listed) is not None:
        state[P_LISTED] = v
    if (v := p.default_profile) is not None:
        state[P_DEFAULT] = v
    if (v := p.background_image) is not None:
        state[P_BACKGROUND] = v
    if (v := p.verified) is not None:
        state[P_VERIFIED] = v
    if (v := p.created_at) is not None:
        state[P_CREATED] = v
    sn = p.screen_name
    if sn is not None:
        if len(sn) <= 64:  # cache only what a screen name can be (15 characters on Twitter)
            state[P_SN_LEN], state[P_SN_DIGITS], state[P_SN_LIKELIHOOD] = _screen_name_stats(sn)
        else:
            state[P_SN_LEN], state[P_SN_DIGITS], state[P_SN_LIKELIHOOD] = _screen_name_stats.__wrapped__(sn)
    name = p.name
    if name is not None:
        state[P_NAME_LEN] = len(name)
        state[P_NAME_DIGITS] = sum(map(str.isdigit, name)) if name and not name.isalpha() else 0
    if p.description is not None:
        state[P_DESC_LEN] = len(p.description)
