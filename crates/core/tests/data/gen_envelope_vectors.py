"""Writes envelope_vectors.json: envelopes exactly as py-key-value 0.4.6 serializes them.

Run with the real library in a throwaway virtualenv (scripts/check-python-vectors does this):

    python -m venv /tmp/kv-venv && /tmp/kv-venv/bin/pip install 'py-key-value-aio==0.4.6'
    /tmp/kv-venv/bin/python crates/core/tests/data/gen_envelope_vectors.py

It rewrites envelope_vectors.json next to this script.

Deterministic: timestamps come from a seeded generator, not the clock.
"""

import json
import random
from pathlib import Path
from datetime import datetime, timedelta, timezone

from key_value.aio._utils.managed_entry import ManagedEntry
from key_value.aio._utils.serialization import BasicSerializationAdapter

rng = random.Random(20261125)

VALUES = [
    {"name": "Alice", "age": 30},
    {},
    {"z": 1, "a": [1, 2.5, None, True, False], "M": {"nested": {"deep": "x"}}},
    {"text": "Hello \u4e16\u754c \U0001f30d \u00e9mojis", "\u00e9": "\u00e8"},
    {"quote": "\"", "backslash": "\\", "control": "\x00\x01\x1f\x7f", "newline": "a\nb\tc"},
    {"float": 1.23456789012345e10, "small": 1e-7, "big": 1e16, "neg": -0.0, "int": 10**18},
    {"list": list(range(20))},
]

KEYS = [("users", "user:1"), ("test_collection!@#$%^&*()", "test_key!@#$%^&*()"), ("\u96c6\u5408", "\U0001f511")]


def random_instant():
    micros = rng.randrange(0, 253_402_300_799 * 1_000_000)
    if rng.random() < 0.3:
        micros -= micros % 1_000_000  # whole seconds: isoformat drops the fraction
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)


def main():
    adapters = {
        "basic": BasicSerializationAdapter(),
        "string_value": BasicSerializationAdapter(value_format="string"),
        "no_dates": BasicSerializationAdapter(date_format=None),
    }
    vectors = []
    for i, value in enumerate(VALUES):
        for collection, key in KEYS:
            created = random_instant()
            for ttl_micros in (None, rng.randrange(1, 10**12)):
                expires = None if ttl_micros is None else created + timedelta(microseconds=ttl_micros)
                if expires is not None and expires.year > 9999:
                    expires = None
                entry = ManagedEntry(value=value, created_at=created, expires_at=expires)
                for name, adapter in adapters.items():
                    for with_key in (True, False):
                        kwargs = {"key": key, "collection": collection} if with_key else {}
                        vectors.append(
                            {
                                "adapter": name,
                                "with_key": with_key,
                                "collection": collection,
                                "key": key,
                                "value": value,
                                "created_at_micros": int((created - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)),
                                "expires_at_micros": None if expires is None else int((expires - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)),
                                "created_at_iso": created.isoformat(),
                                "json": adapter.dump_json(entry=entry, **kwargs),
                            }
                        )
    out = Path(__file__).resolve().parent / "envelope_vectors.json"
    with out.open("w", encoding="ascii") as f:
        json.dump({"generator": "py-key-value-aio 0.4.6", "vectors": vectors}, f, indent=1, sort_keys=True, ensure_ascii=True)
        f.write("\n")


if __name__ == "__main__":
    main()
