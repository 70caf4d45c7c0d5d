"""A Twitter API v2 search or timeline dump, with an account annotation file, as v2 tweet items.

Layout
------
``INPUT`` is a dump file or a directory of them (``*.jsonl``, ``*.ndjson``,
``*.json``, optionally ``.gz``), as written by tools that save the API's
responses (e.g. ``twarc2 search`` / ``twarc2 timeline``). Three shapes are
read, in any mix:

* a response page, one a line: ``{"data": [tweet, ...], "includes": {"users":
  [...], "tweets": [...]}, "meta": {...}}`` — what ``/2/tweets/search/*`` and
  ``/2/users/:id/tweets`` return;
* a single item: ``{"data": {tweet}, "includes": {...}}``;
* a flattened tweet, one a line: the tweet object itself with its author
  expanded under ``"author"`` (``twarc2 flatten``).

A ``.json`` file may also hold one whole response (or a list of them) pretty-
printed over many lines. Tweets need ``author_id`` and ``created_at`` (ask
for ``tweet.fields=created_at,author_id,...`` and ``expansions=author_id``);
tweets without them are skipped and counted.

Annotations come from ``labels.csv`` or ``labels.tsv`` in the directory (or
beside the file): an account id column (``account_id``, ``user_id``,
``author_id`` or ``id``) and a label column (``label``: ``bot``/``human``,
``1``/``0``), comma- or tab-separated, with or without a header (without one,
the first column is the id and the second the label, as in the Bot Repository's
``.tsv`` files). Accounts without an annotation are kept in the tweets but are
in neither ``truth.csv`` nor the labels.

Conversion
----------
Each tweet becomes one ``{"data": tweet, "includes": {"users": [author],
"tweets": [referenced originals]}}`` item, so every message carries exactly
one tweet, keyed by its author, with its author's profile. A line that is not
JSON stops the conversion with its file and line.

Example
-------
>>> page = {"data": [{"id": "1", "author_id": "7", "created_at": "2024-03-01T00:00:00.000Z", "text": "hi"}],
...         "includes": {"users": [{"id": "7", "username": "ann"}]}}
>>> [(item["data"]["id"], item["includes"]["users"][0]["username"]) for item in items_of(page)]
[('1', 'ann')]
>>> flat = {"id": "2", "author_id": "8", "created_at": "2024-03-01T00:00:01.000Z", "author": {"id": "8", "username": "bo"}}
>>> [item["includes"]["users"][0]["username"] for item in items_of(flat)]
['bo']
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import orjson

from consumer.decode import DecodeError, parse_iso_time
from producers.adapters import ConvertError, Dataset, SortedLog
from producers.files import BadLine

_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_ID_COLUMNS = ("account_id", "user_id", "author_id", "id", "userid", "user")
_BOT = {"bot", "1", "true", "yes", "spambot"}
_HUMAN = {"human", "0", "false", "no", "genuine"}


def items_of(obj: dict) -> list[dict]:
    """The one-tweet items in a response page, a single item or a flattened tweet."""
    if "data" in obj:
        data = obj["data"]
        includes = obj.get("includes") if isinstance(obj.get("includes"), dict) else {}
        tweets = data if isinstance(data, list) else [data]
        users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
        originals = {str(t.get("id")): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
    elif "id" in obj and ("author_id" in obj or "author" in obj):  # flattened
        tweet = {k: v for k, v in obj.items() if not k.startswith("__") and k != "author"}
        author = obj.get("author") if isinstance(obj.get("author"), dict) else None
        if author is not None and "author_id" not in tweet:
            tweet["author_id"] = author.get("id")
        tweets, users = [tweet], ({str(author.get("id")): author} if author else {})
        originals = {}
        for ref in obj.get("referenced_tweets") or []:
            if isinstance(ref, dict) and isinstance(ref.get("text"), str):  # flatten expands references in place
                originals[str(ref.get("id"))] = ref
        tweets[0]["referenced_tweets"] = [{"type": r.get("type"), "id": r.get("id")}
                                          for r in obj.get("referenced_tweets") or [] if isinstance(r, dict)] or None
        if tweets[0]["referenced_tweets"] is None:
            del tweets[0]["referenced_tweets"]
    else:
        return []
    items = []
    for tweet in tweets:
        if not isinstance(tweet, dict):
            continue
        author = users.get(str(tweet.get("author_id")))
        refs = [originals[str(r.get("id"))] for r in tweet.get("referenced_tweets") or []
                if isinstance(r, dict) and str(r.get("id")) in originals]
        includes = {"users": [author] if author else []}
        if refs:
            includes["tweets"] = refs
        items.append({"data": tweet, "includes": includes})
    return items


def _dump_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
    if not files:
        raise ConvertError(f"{path}: no dump files ({', '.join(_SUFFIXES)})")
    return files


def _open_text(path: Path):
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    return raw


def _objects(path: Path):
    """(line number, object) of every JSON object in a dump file."""
    with _open_text(path) as f:
        if path.name.endswith((".json", ".json.gz")):
            body = f.read()
            try:
                whole = orjson.loads(body)
            except orjson.JSONDecodeError:
                f = io.BytesIO(body)  # not one document: read it as lines
            else:
                for obj in whole if isinstance(whole, list) else [whole]:
                    yield 1, obj
                return
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise BadLine(str(path), number, "not_json", f"not JSON ({e})") from None


def _label_value(text: str) -> str | None:
    text = text.strip().lower()
    return "bot" if text in _BOT else "human" if text in _HUMAN else None


def read_annotations(path: Path) -> dict[str, str]:
    """account id -> ``bot``/``human`` from a CSV or TSV with or without a header."""
    with open(path, newline="", encoding="utf-8") as f:
        sample = f.read(4096)
        f.seek(0)
        delimiter = "\t" if "\t" in sample.splitlines()[0] else ","
        rows = [r for r in csv.reader(f, delimiter=delimiter) if r]
    if not rows:
        return {}
    first = [c.strip().lower() for c in rows[0]]
    has_header = not (len(first) >= 2 and first[0].isdigit() and _label_value(first[1]) is not None)
    id_col, label_col, start = 0, 1, 1
    if has_header:
        id_col = next((first.index(c) for c in _ID_COLUMNS if c in first), 0)
        label_col = next((first.index(c) for c in ("label", "class") if c in first), 1 if id_col == 0 else 0)
        rows, start = rows[1:], 2
    out = {}
    for number, row in enumerate(rows, start):
        if len(row) <= max(id_col, label_col):
            continue
        label = _label_value(row[label_col])
        if label is None:
            raise ConvertError(f"{path}:{number}: label {row[label_col]!r} is not bot/human or 1/0")
        out[row[id_col].strip()] = label
    return out


def _annotation_file(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    for name in ("labels.csv", "labels.tsv"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_dataset(input: str, tweets: SortedLog) -> Dataset:
    """Every tweet of the dump, and the annotations beside it."""
    root = Path(input)
    dataset = Dataset(tweets)
    annotations = _annotation_file(root)
    if annotations is not None:
        dataset.classes.update(read_annotations(annotations))
    dumps = orjson.dumps
    for path in _dump_files(root):
        for number, obj in _objects(path):
            if not isinstance(obj, dict):
                raise BadLine(str(path), number, "not_object", "not a JSON object")
            items = items_of(obj)
            if not items and "data" not in obj:
                dataset.skip("objects that are not tweets or responses (e.g. errors, meta only)")
            for item in items:
                data = item["data"]
                account = data.get("author_id")
                if account is None or data.get("created_at") is None:
                    dataset.skip("tweets without author_id or created_at")
                    continue
                try:
                    ts = parse_iso_time(data["created_at"])
                except DecodeError:
                    dataset.skip("tweets with an unreadable created_at")
                    continue
                dataset.add_tweet(str(account), ts, dumps(item))
    if annotations is None:
        dataset.skip("annotations: no labels.csv or labels.tsv beside the dump, so no labels and an empty truth.csv")
    return dataset
