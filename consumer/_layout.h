/* The account state's layout, consumer/features.py's, for the C code that reads or writes states
 * (consumer/_features.c, consumer/_score.c). Each module exports LAYOUT as a dict, so that Python refuses a
 * module built for another layout. */
#ifndef CONSUMER_LAYOUT_H
#define CONSUMER_LAYOUT_H

enum {
    ID_RING_SIZE = 8,
    TEXT_RING_SIZE = 4,
};

enum {
    N, FIRST_TS, LAST_TS, N_DT, DT_MEAN, DT_M2, N_TEXT, LEN_MEAN, LEN_M2,
    N_URL, N_MENTION, N_HASHTAG, N_RETWEET, N_REPLY, N_QUOTE, N_DUP, N_NEAR_DUP, DOMAIN_BITS, SOURCE_BITS,
    RING_POS, TEXT_RING, NEAR_RING = TEXT_RING + TEXT_RING_SIZE,
    ID_HORIZON = NEAR_RING + TEXT_RING_SIZE, ID_RING, ID_TS = ID_RING + ID_RING_SIZE,
    P_TS = ID_TS + ID_RING_SIZE, P_STATUSES, P_FOLLOWERS, P_FRIENDS, P_FAVOURITES, P_LISTED, P_DEFAULT,
    P_BACKGROUND, P_VERIFIED, P_CREATED, P_SN_LEN, P_SN_DIGITS, P_NAME_LEN, P_NAME_DIGITS, P_DESC_LEN,
    P_SN_LIKELIHOOD, ACTION, SCORE, SCORE_N, HOURS, SLOTS = HOURS + 12,
};

/* consumer.features (for _features.c) and consumer.scoring (for _score.c) check these against features.py's own
 * at import, and run Python or numpy instead if any differs */
static const struct { const char *name; int slot; } LAYOUT[] = {
    {"N", N}, {"FIRST_TS", FIRST_TS}, {"LAST_TS", LAST_TS}, {"N_DT", N_DT}, {"DT_MEAN", DT_MEAN},
    {"DT_M2", DT_M2}, {"N_TEXT", N_TEXT}, {"LEN_MEAN", LEN_MEAN}, {"LEN_M2", LEN_M2}, {"N_URL", N_URL},
    {"N_MENTION", N_MENTION}, {"N_HASHTAG", N_HASHTAG}, {"N_RETWEET", N_RETWEET}, {"N_REPLY", N_REPLY},
    {"N_QUOTE", N_QUOTE}, {"N_DUP", N_DUP}, {"N_NEAR_DUP", N_NEAR_DUP}, {"DOMAIN_BITS", DOMAIN_BITS},
    {"SOURCE_BITS", SOURCE_BITS}, {"RING_POS", RING_POS}, {"TEXT_RING", TEXT_RING}, {"NEAR_RING", NEAR_RING},
    {"ID_HORIZON", ID_HORIZON}, {"ID_RING", ID_RING}, {"ID_TS", ID_TS}, {"P_TS", P_TS},
    {"P_STATUSES", P_STATUSES}, {"P_FOLLOWERS", P_FOLLOWERS}, {"P_FRIENDS", P_FRIENDS},
    {"P_FAVOURITES", P_FAVOURITES}, {"P_LISTED", P_LISTED}, {"P_DEFAULT", P_DEFAULT},
    {"P_BACKGROUND", P_BACKGROUND}, {"P_VERIFIED", P_VERIFIED}, {"P_CREATED", P_CREATED},
    {"P_SN_LEN", P_SN_LEN}, {"P_SN_DIGITS", P_SN_DIGITS}, {"P_NAME_LEN", P_NAME_LEN},
    {"P_NAME_DIGITS", P_NAME_DIGITS}, {"P_DESC_LEN", P_DESC_LEN}, {"P_SN_LIKELIHOOD", P_SN_LIKELIHOOD},
    {"ACTION", ACTION}, {"SCORE", SCORE}, {"SCORE_N", SCORE_N}, {"HOURS", HOURS}, {"SLOTS", SLOTS},
    {"ID_RING_SIZE", ID_RING_SIZE}, {"TEXT_RING_SIZE", TEXT_RING_SIZE},
};

#define HOUR_SHIFT 67108864.0 /* 2**26: two hour counters per slot */
#define HOUR_CAP 67108863.0   /* 2**26 - 1 */
#define BITMAP_BITS 52        /* a distinct-count bitmap: the bits a double holds exactly */

#endif
