"""Per-account features, updated incrementally in event time.

An account's whole state is one flat ``array('d')`` of :data:`SLOTS` numbers:
a few hundred bytes, no per-event objects, and cheap to copy into the state
changelog. :func:`update` folds one tweet into it in O(1); :func:`feature_row`
derives the model's feature vector from it, also in O(1). Unknown values are
NaN and are left out of the model's input.

:data:`FEATURES` is the one table of features (name, unit, definition); the
README's feature table is rendered from it.

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
"""

from __future__ import annotations

import math
import re
import zlib
from array import array

from consumer.events import Tweet
from consumer.namelikelihood import screen_name_likelihood

# ---------------------------------------------------------------- the features

#: (name, unit, definition) of every feature the model sees, in model order.
FEATURES: tuple[tuple[str, str, str], ...] = (
    # BotometerLite profile features (Yang et al., AAAI 2020), from the latest user object
    ("statuses_count", "tweets", "tweets the account has posted (user.statuses_count)"),
    ("followers_count", "accounts", "followers (user.followers_count)"),
    ("friends_count", "accounts", "accounts followed (user.friends_count)"),
    ("favourites_count", "likes", "tweets liked (user.favourites_count)"),
    ("listed_count", "lists", "public lists the account is on (user.listed_count)"),
    ("default_profile", "0/1", "the profile theme was never changed"),
    ("profile_use_background_image", "0/1", "the profile shows a background image"),
    ("verified", "0/1", "the account is verified"),
    ("tweet_freq", "tweets/day", "statuses_count / account age at the tweet's time"),
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
    ("screen_name_likelihood", "log-probability/char", "mean log-probability of the screen name's character bigrams under an English name model"),
    # behaviour in the stream
    ("tweet_rate", "tweets/hour", "(tweets_seen - 1) / span between first and last tweet"),
    ("interarrival_mean", "seconds", "mean time between consecutive tweets"),
    ("interarrival_cv", "ratio", "coefficient of variation of the time between tweets (regular bots: near 0)"),
    ("burstiness", "ratio", "(sd - mean) / (sd + mean) of the time between tweets, in [-1, 1] (Goh & Barabasi 2008)"),
    ("hour_entropy", "bits", "Shannon entropy of the UTC hour-of-day histogram of tweets"),
    ("url_ratio", "ratio", "share of tweets with at least one URL"),
    ("mention_ratio", "mentions/tweet", "user mentions per tweet"),
    ("hashtag_ratio", "hashtags/tweet", "hashtags per tweet"),
    ("retweet_ratio", "ratio", "share of tweets that are retweets"),
    ("reply_ratio", "ratio", "share of tweets that are replies"),
    ("quote_ratio", "ratio", "share of tweets that quote another"),
    ("distinct_url_domains", "domains", "distinct URL domains (linear counting on a 32-bit bitmap)"),
    ("duplicate_text_ratio", "ratio", "share of tweets whose exact text equals one of the account's previous 4"),
    ("near_duplicate_text_ratio", "ratio", "share of tweets equal to one of the previous 4 after lowercasing and removing URLs, mentions, digits and punctuation"),
    ("source_diversity", "clients", "distinct clients (source) used (linear counting on a 32-bit bitmap)"),
    ("text_length_mean", "characters", "mean tweet text length"),
    ("text_length_var", "characters^2", "variance of tweet text length"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in FEATURES)

# ------------------------------------------------------------ the state layout

_names = (
    "N FIRST_TS LAST_TS DT_MEAN DT_M2 LEN_MEAN LEN_M2 "
    "N_URL N_MENTION N_HASHTAG N_RETWEET N_REPLY N_QUOTE N_DUP N_NEAR_DUP DOMAIN_BITS SOURCE_BITS "
    "RING_POS TEXT_RING TEXT_RING_1 TEXT_RING_2 TEXT_RING_3 NEAR_RING NEAR_RING_1 NEAR_RING_2 NEAR_RING_3 "
    "ID_POS ID_RING ID_RING_1 ID_RING_2 ID_RING_3 ID_RING_4 ID_RING_5 ID_RING_6 ID_RING_7 "
    "P_TS P_STATUSES P_FOLLOWERS P_FRIENDS P_FAVOURITES P_LISTED P_DEFAULT P_BACKGROUND P_VERIFIED P_CREATED "
    "P_SN_LEN P_SN_DIGITS P_NAME_LEN P_NAME_DIGITS P_DESC_LEN P_SN_LIKELIHOOD "
    "ACTION HOURS"
).split()
(N, FIRST_TS, LAST_TS, DT_MEAN, DT_M2, LEN_MEAN, LEN_M2,
 N_URL, N_MENTION, N_HASHTAG, N_RETWEET, N_REPLY, N_QUOTE, N_DUP, N_NEAR_DUP, DOMAIN_BITS, SOURCE_BITS,
 RING_POS, TEXT_RING, _, _, _, NEAR_RING, _, _, _,
 ID_POS, ID_RING, _, _, _, _, _, _, _,
 P_TS, P_STATUSES, P_FOLLOWERS, P_FRIENDS, P_FAVOURITES, P_LISTED, P_DEFAULT, P_BACKGROUND, P_VERIFIED, P_CREATED,
 P_SN_LEN, P_SN_DIGITS, P_NAME_LEN, P_NAME_DIGITS, P_DESC_LEN, P_SN_LIKELIHOOD,
 ACTION, HOURS) = range(len(_names))
TEXT_RING_SIZE = 4
ID_RING_SIZE = 8
SLOTS = HOURS + 24  # 24 hour-of-day counters close the layout

NAN = float("nan")
_TEMPLATE = array("d", [0.0] * SLOTS)
for _slot in (FIRST_TS, LAST_TS, *range(TEXT_RING, TEXT_RING + 4), *range(NEAR_RING, NEAR_RING + 4),
              *range(ID_RING, ID_RING + ID_RING_SIZE), *range(P_TS, P_SN_LIKELIHOOD + 1)):
    _TEMPLATE[_slot] = NAN


def new_state() -> array:
    """A fresh account state: nothing seen, profile unknown."""
    return array("d", _TEMPLATE)


# ----------------------------------------------------------------- the update

_STRIP = re.compile(r"https?://\S+|@\w+|[\d\W_]+")
_HASH_MASK = (1 << 52) - 1  # stays exact in a double


def _stable_hash(text: str) -> float:
    # crc32, not hash(): state outlives the process and Python salts str hashes per process
    return float(zlib.crc32(text.encode("utf-8", "surrogatepass")))


def _id_hash(tweet_id: str) -> float:
    return float(int(tweet_id) & _HASH_MASK) if tweet_id.isdigit() else _stable_hash(tweet_id)


def _bit(text: str) -> int:
    return 1 << (zlib.crc32(text.encode("utf-8", "surrogatepass")) & 31)


def _domain(url: str) -> str:
    rest = url.split("//", 1)[-1]
    return rest.split("/", 1)[0].lower()


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def update(state: array, tweet: Tweet) -> bool:
    """Fold ``tweet`` into ``state``; False (and no change) if the tweet was seen already."""
    tid = _id_hash(tweet.tweet_id)
    for i in range(ID_RING, ID_RING + ID_RING_SIZE):
        if state[i] == tid:
            return False
    pos = int(state[ID_POS])
    state[ID_RING + pos] = tid
    state[ID_POS] = (pos + 1) % ID_RING_SIZE

    ts = tweet.ts
    n = state[N] + 1.0
    state[N] = n
    if n == 1.0:
        state[FIRST_TS] = ts
        state[LAST_TS] = ts
    else:
        last = state[LAST_TS]
        dt = ts - last if ts > last else 0.0
        if ts > last:
            state[LAST_TS] = ts
        if ts < state[FIRST_TS]:
            state[FIRST_TS] = ts
        k = n - 1.0  # inter-arrival count, Welford
        delta = dt - state[DT_MEAN]
        state[DT_MEAN] += delta / k
        state[DT_M2] += delta * (dt - state[DT_MEAN])
    state[HOURS + int(ts // 3600.0) % 24] += 1.0

    text = tweet.text
    length = float(len(text))
    delta = length - state[LEN_MEAN]
    state[LEN_MEAN] += delta / n
    state[LEN_M2] += delta * (length - state[LEN_MEAN])

    if tweet.urls:
        state[N_URL] += 1.0
        bits = int(state[DOMAIN_BITS])
        for url in tweet.urls:
            bits |= _bit(_domain(url))
        state[DOMAIN_BITS] = float(bits)
    state[N_MENTION] += tweet.mentions
    state[N_HASHTAG] += tweet.hashtags
    state[N_RETWEET] += tweet.is_retweet
    state[N_REPLY] += tweet.is_reply
    state[N_QUOTE] += tweet.is_quote
    if tweet.source:
        state[SOURCE_BITS] = float(int(state[SOURCE_BITS]) | _bit(tweet.source))

    exact = _stable_hash(text)
    near = _stable_hash(_STRIP.sub("", text.lower()))
    ring = int(state[RING_POS])
    if exact in state[TEXT_RING:TEXT_RING + TEXT_RING_SIZE]:
        state[N_DUP] += 1.0
    elif near in state[NEAR_RING:NEAR_RING + TEXT_RING_SIZE]:
        state[N_NEAR_DUP] += 1.0
    state[TEXT_RING + ring] = exact
    state[NEAR_RING + ring] = near
    state[RING_POS] = (ring + 1) % TEXT_RING_SIZE

    profile = tweet.profile
    if profile is not None and not ts < state[P_TS]:  # keep the newest user object (NaN compares False)
        state[P_TS] = ts
        for slot, value in (
            (P_STATUSES, profile.statuses), (P_FOLLOWERS, profile.followers), (P_FRIENDS, profile.friends),
            (P_FAVOURITES, profile.favourites), (P_LISTED, profile.listed), (P_DEFAULT, profile.default_profile),
            (P_BACKGROUND, profile.background_image), (P_VERIFIED, profile.verified), (P_CREATED, profile.created_at),
        ):
            if value is not None:
                state[slot] = value
        if profile.screen_name is not None:
            state[P_SN_LEN] = len(profile.screen_name)
            state[P_SN_DIGITS] = _digits(profile.screen_name)
            state[P_SN_LIKELIHOOD] = screen_name_likelihood(profile.screen_name)
        if profile.name is not None:
            state[P_NAME_LEN] = len(profile.name)
            state[P_NAME_DIGITS] = _digits(profile.name)
        if profile.description is not None:
            state[P_DESC_LEN] = len(profile.description)
    return True


# ------------------------------------------------------------ the feature row

def _linear_count(bits: float) -> float:
    zeros = 32 - int(bits).bit_count()
    if zeros == 0:
        return 32.0 * math.log(32.0)
    return -32.0 * math.log(zeros / 32.0)


def feature_row(state: array) -> list[float]:
    """The account's features in :data:`FEATURE_NAMES` order; NaN where unknown."""
    n = state[N]
    age_days = (state[P_TS] - state[P_CREATED]) / 86400.0
    age_days = age_days if age_days >= 1.0 else (1.0 if age_days == age_days else NAN)
    friends = state[P_FRIENDS]
    if n >= 2.0:
        dt_mean = state[DT_MEAN]
        dt_sd = math.sqrt(state[DT_M2] / (n - 1.0))
        cv = dt_sd / dt_mean if dt_mean > 0 else 0.0
        burst = (dt_sd - dt_mean) / (dt_sd + dt_mean) if dt_sd + dt_mean > 0 else 0.0
        span_h = (state[LAST_TS] - state[FIRST_TS]) / 3600.0
        rate = (n - 1.0) / span_h if span_h > 0 else NAN
    else:
        dt_mean = cv = burst = rate = NAN
    entropy = 0.0
    for count in state[HOURS:HOURS + 24]:
        if count:
            p = count / n
            entropy -= p * math.log2(p)
    return [
        state[P_STATUSES], state[P_FOLLOWERS], friends, state[P_FAVOURITES], state[P_LISTED],
        state[P_DEFAULT], state[P_BACKGROUND], state[P_VERIFIED],
        state[P_STATUSES] / age_days, state[P_FOLLOWERS] / age_days, friends / age_days,
        state[P_FAVOURITES] / age_days, state[P_LISTED] / age_days,
        state[P_FOLLOWERS] / max(friends, 1.0) if friends == friends else NAN,
        state[P_SN_LEN], state[P_SN_DIGITS], state[P_NAME_LEN], state[P_NAME_DIGITS], state[P_DESC_LEN],
        state[P_SN_LIKELIHOOD],
        rate, dt_mean, cv, burst, entropy,
        state[N_URL] / n, state[N_MENTION] / n, state[N_HASHTAG] / n,
        state[N_RETWEET] / n, state[N_REPLY] / n, state[N_QUOTE] / n,
        _linear_count(state[DOMAIN_BITS]),
        state[N_DUP] / n, state[N_NEAR_DUP] / n,
        _linear_count(state[SOURCE_BITS]),
        state[LEN_MEAN], state[LEN_M2] / n,
    ]


def feature_dict(row: list[float]) -> dict[str, float]:
    """A feature row as River input: known features only."""
    return {name: v for name, v in zip(FEATURE_NAMES, row) if v == v}
