#!/usr/bin/env python3
"""Generate golden vectors for `key_value_core::sanitize` from the real py-key-value.

Run from the repository root with a virtualenv holding py-key-value-aio 0.4.6:

    python3 -m venv /tmp/pyvenv && /tmp/pyvenv/bin/pip install 'py-key-value-aio==0.4.6'
    /tmp/pyvenv/bin/python crates/core/tests/data/gen_sanitize_vectors.py

It writes `crates/core/tests/data/sanitize_vectors.json` next to this script; the Rust test
`crates/core/tests/sanitize_golden.rs` checks every vector (and their number: update its
`EXPECTED_CASES` when the corpus changes). The output is deterministic: running the script twice
gives the same file.

Format: `corpus` holds every input string once; the sections `sanitize_characters_in_string`,
`sanitize_string`, `hash_excess_length` and `strategies` hold groups (the parameters, and for
strategies the name the Rust test maps to a type, plus py-key-value's `effective` Hybrid
parameters for presets) with `cases`: `i` the corpus index of the input, `out` the output
(absent when equal to the input), `err` the error message (ValueError for the functions,
InvalidKeyError from `validate` for strategies), `unsan` the result of
`try_unsanitize(<output>)` (absent for None, `true` when it returns its argument).

Notes:
- The per-store strategies live in store modules that import their backend client library
  (`aiomcache`, `pymongo`, `winreg`, ...). When such a module cannot be imported (extra not
  installed, or not on Windows), this script executes the module's *own source* statement by
  statement, skipping the statements that need the missing libraries, so the strategy classes
  used are always py-key-value's real code, with or without the extras.
- `FileTreeV1*SanitizationStrategy` ask the file system for NAME_MAX/PATH_MAX with
  `os.pathconf`, which needs existing directories: the script creates them under
  `/tmp/kv-sanitize-gen` (fixed name, for a deterministic output) and removes them at the end.
  It refuses to run where NAME_MAX != 255 or PATH_MAX != 4096, the values the Rust port assumes.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from key_value.aio._utils import sanitization as sz
from key_value.aio._utils import sanitize as sl

VERSION = importlib.metadata.version("py-key-value-aio")
if VERSION != "0.4.6":
    sys.exit(f"expected py-key-value-aio 0.4.6, found {VERSION}")

OUT = Path(__file__).resolve().parent / "sanitize_vectors.json"
GEN_ROOT = Path("/tmp/kv-sanitize-gen")


# --------------------------------------------------------------------------------------------
# Loading store modules without their backend libraries
# --------------------------------------------------------------------------------------------


class _Missing:
    """Stands for a name whose import failed (only used in annotations and base lists)."""


def load_store_module(name: str) -> dict[str, Any]:
    """Return the namespace of `key_value.aio.stores.<name>.store`."""
    modname = f"key_value.aio.stores.{name}.store"
    try:
        module = importlib.import_module(modname)
        print(f"{name}: imported", file=sys.stderr)
        return vars(module)
    except ImportError:
        pass
    spec = importlib.util.find_spec("key_value.aio.stores")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / name / "store.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    namespace: dict[str, Any] = {"__name__": f"_kv_gen_{name}", "__file__": str(path)}
    skipped = 0
    for node in tree.body:
        code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec")
        try:
            exec(code, namespace)  # noqa: S102 - executing py-key-value's own source
        except ImportError:
            skipped += 1
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    namespace.setdefault(bound, _Missing)
        except Exception:  # noqa: BLE001 - classes of the store itself may need the backend
            skipped += 1
    print(f"{name}: executed source, skipped {skipped} statements", file=sys.stderr)
    return namespace


def store_class(module: str, cls: str) -> Any:
    ns = load_store_module(module)
    if cls not in ns:
        sys.exit(f"{cls} not found in stores/{module}/store.py")
    return ns[cls]


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------

BASE_CORPUS: list[str] = [
    "",
    "a",
    "A",
    "0",
    "_",
    "-",
    ".",
    "..",
    "test",
    "Test123",
    "test_key",
    "test-key",
    "test.key",
    "test::key",
    "collection::key",
    "user:1",
    "my key",
    "test with spaces",
    "  leading and trailing  ",
    "test_collection!@#$%^&*()",
    "!@#$%^&*()",
    "!",
    "::",
    "a!",
    "!a",
    "a!b",
    "a!!b",
    "a!_b",
    "a/b",
    "a\\b",
    "a#b",
    "a?b",
    "path/to/key",
    "tab\there",
    "new\nline",
    "nul\x00byte",
    "del\x7fchar",
    "c1\x85char",
    "c1\x9fend",
    "\xa0nbsp",
    "__reserved__",
    "____",
    "___",
    "__a\nb__",
    "H_",
    "S_",
    "H_abc",
    "S_abc",
    "h_abc",
    "s_abc",
    "H-abc",
    "xH_abc",
    "_H_abc",
    "UPPER_lower_123",
    "café",
    "naïve",
    "e\u0301",  # e + combining acute accent
    "a\u0300\u0301\u0302b",  # stacked combining marks
    "日本語",
    "日本語のキー",
    "中文::键",
    "한국어",
    "Ελληνικά",
    "русский",
    "عربى",
    "😀",
    "key😀",
    "👨‍👩‍👧‍👦",  # ZWJ sequence
    "🇫🇷",
    "\u200bzero-width",
    "\ufeffbom",
    "mixed é 😀 日本 ::!",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "\U0010ffff",
    "\ue000private",
]

def around(limit: int) -> list[str]:
    """Strings exactly at, one under, one over and far over `limit` (characters and bytes)."""
    out: list[str] = []
    for n in (limit - 1, limit, limit + 1, 2 * limit + 3):
        if n < 1:
            continue
        out.append("a" * n)
        out.append("k" * (n - 1) + "!")  # one disallowed char at the end
        out.append("!" + "k" * (n - 1))
        out.append(("ab:" * n)[:n])
        out.append(("é" * n)[:n])  # 2 bytes per char
        out.append(("😀" * n)[:n])  # 4 bytes per char
        out.append(("日" * n)[:n])  # 3 bytes per char
    # UTF-8 lengths at/around `limit` bytes, some where a byte cut falls inside a code point
    for nbytes in (limit - 1, limit, limit + 1, limit + 2, limit + 3):
        if nbytes < 1:
            continue
        out.append("é" * (nbytes // 2) + "a" * (nbytes % 2))
        out.append("a" * (nbytes % 4) + "😀" * (nbytes // 4))
        out.append("日" * (nbytes // 3) + "a" * (nbytes % 3))
        out.append("a" + "😀" * (nbytes // 4))
        out.append("ab" + "日" * (nbytes // 3))
    out.append("S_" + "a" * limit)
    out.append("H_" + "a" * limit)
    out.append("!" * (limit + 1))
    # long values sharing a prefix (the lossy strategies map them to one output)
    out.append("p" * (limit + 5) + "x")
    out.append("p" * (limit + 5) + "y")
    out.append("p" * (limit + 5) + "!x")
    out.append("p" * (limit + 5) + "!y")
    return out


class Corpus:
    """Every input string, stored once in the JSON; vectors refer to them by index."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def ids(self, values: list[str]) -> list[int]:
        out: list[int] = []
        for v in values:
            if v not in self.index:
                self.index[v] = len(self.values)
                self.values.append(v)
            i = self.index[v]
            if i not in out:
                out.append(i)
        return out

    def inputs(self, *limits: int) -> list[tuple[int, str]]:
        """The base corpus plus the strings around each limit, as (index, value)."""
        values = list(BASE_CORPUS)
        for limit in limits:
            values += around(limit)
        return [(i, self.values[i]) for i in self.ids(values)]


CORPUS = Corpus()


# --------------------------------------------------------------------------------------------
# Low-level functions
# --------------------------------------------------------------------------------------------


def result(i: int, value: str, fn: Callable[[], str]) -> dict[str, Any]:
    """A case: `i` is the input's corpus index, `out` the output (absent when equal to the
    input), `err` the ValueError message."""
    try:
        out = fn()
    except ValueError as exc:
        return {"i": i, "err": str(exc)}
    return {"i": i} if out == value else {"i": i, "out": out}


def gen_sanitize_characters() -> list[dict[str, Any]]:
    params = [
        (sl.ALPHANUMERIC_CHARACTERS, "_"),
        (sl.LOWERCASE_ALPHABET, "_"),
        (sl.ALPHANUMERIC_CHARACTERS + "_", "_"),
        (sl.UPPERCASE_ALPHABET + sl.LOWERCASE_ALPHABET + sl.NUMBERS + "_-.", "_"),
        (sl.ALPHANUMERIC_CHARACTERS, "-"),
        (sl.ALPHANUMERIC_CHARACTERS, ""),  # quirk: "a!" -> "" (single char left and last replaced)
        (sl.ALPHANUMERIC_CHARACTERS, "xy"),  # quirk: all-disallowed gives "xy", not ""
        (sl.ALPHANUMERIC_CHARACTERS, "é"),
        ("", "_"),
        ("aé😀日:", "_"),
    ]
    out = []
    for allowed, repl in params:
        cases = [
            result(i, v, lambda v=v: sl.sanitize_characters_in_string(v, allowed, repl)) for i, v in CORPUS.inputs(16)
        ]
        out.append({"allowed": allowed, "replace_with": repl, "cases": cases})
    return out


def gen_sanitize_string() -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = [
        {"max_length": 16, "allowed_characters": None},
        {"max_length": 16, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS},
        {"max_length": 16, "allowed_characters": sl.LOWERCASE_ALPHABET},
        {"max_length": 16, "allowed_characters": sl.NUMBERS},
        {"max_length": 17, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS + "_", "hash_fragment_length": 4},
        {"max_length": 20, "allowed_characters": "", "hash_fragment_separator": "::"},
        {"max_length": 20, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS, "hash_fragment_separator": ""},
        {"max_length": 20, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS, "hash_fragment_separator": "é"},
        {"max_length": 64, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS, "replacement_character": "-"},
        {"max_length": 200, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS + "é😀"},
        {"max_length": 240, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS, "hash_fragment_length": 0},
        {"max_length": 256, "allowed_characters": sl.ALPHANUMERIC_CHARACTERS, "hash_fragment_length": 100},
        {"max_length": 500, "allowed_characters": None},
    ]
    configs: list[dict[str, Any]] = [
        {**shape, "hash_fragment_mode": mode, "length_is_bytes": length_is_bytes}
        for mode in sl.HashFragmentMode
        for length_is_bytes in (False, True)
        for shape in shapes
    ]
    # parameter errors
    configs += [
        {"max_length": 15, "hash_fragment_mode": sl.HashFragmentMode.ALWAYS},
        {"max_length": 0, "hash_fragment_mode": sl.HashFragmentMode.NEVER},
        {"max_length": 16, "hash_fragment_length": 9, "hash_fragment_mode": sl.HashFragmentMode.ALWAYS},
        {"max_length": 17, "hash_fragment_length": 9},
    ]
    out = []
    for cfg in configs:
        full = {
            "allowed_characters": None,
            "replacement_character": "_",
            "hash_fragment_separator": "-",
            "hash_fragment_mode": sl.HashFragmentMode.ONLY_IF_CHANGED,
            "hash_fragment_length": 8,
            "length_is_bytes": False,
            **cfg,
        }
        limit = full["max_length"]
        inputs = CORPUS.inputs(limit, limit - 1 - min(full["hash_fragment_length"], 64)) if limit >= 16 else CORPUS.inputs()
        cases = [result(i, v, lambda v=v: sl.sanitize_string(value=v, **full)) for i, v in inputs]
        params = {k: (v.value if isinstance(v, sl.HashFragmentMode) else v) for k, v in full.items()}
        out.append({**params, "cases": cases})
    return out


def gen_hash_excess_length() -> list[dict[str, Any]]:
    out = []
    for max_length in (0, 8, 15, 16, 17, 20, 64, 240, 500):
        for length_is_bytes in (False, True):
            inputs = CORPUS.inputs(max_length, max_length - 8) if max_length >= 16 else CORPUS.inputs()
            cases = [
                result(i, v, lambda v=v: sl.hash_excess_length(v, max_length, length_is_bytes=length_is_bytes))
                for i, v in inputs
            ]
            out.append({"max_length": max_length, "length_is_bytes": length_is_bytes, "cases": cases})
    return out


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


def run_strategy(
    name: str, params: dict[str, Any], strategy: Any, limits: tuple[int, ...], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One strategy over the corpus. A case: `i` the input's corpus index, `out` the sanitized
    value (absent when equal to the input), `err` the message of the InvalidKeyError raised by
    `validate` (absent when it passes), `unsan` the result of `try_unsanitize(<sanitized>)`:
    absent for None, `true` when it returns its argument, else the string."""
    cases = []
    for i, value in CORPUS.inputs(*limits):
        case: dict[str, Any] = {"i": i}
        sanitized = strategy.sanitize(value)
        if sanitized != value:
            case["out"] = sanitized
        try:
            strategy.validate(value)
        except Exception as exc:  # noqa: BLE001 - record whatever validate raises
            assert type(exc).__name__ == "InvalidKeyError", type(exc)
            case["err"] = str(exc)
        unsanitized = strategy.try_unsanitize(sanitized)
        if unsanitized is not None:
            case["unsan"] = True if unsanitized == sanitized else unsanitized
        cases.append(case)
    rec = {"strategy": name, "params": params, "class": type(strategy).__name__}
    if extra:
        rec.update(extra)
    rec["cases"] = cases
    return rec


def hybrid_params(s: Any) -> dict[str, Any]:
    return {
        "max_length": s.max_length,
        "allowed_characters": s.allowed_characters,
        "replacement_character": s.replacement_character,
        "hash_fragment_mode": s.hash_fragment_mode.value,
        "hash_fragment_length": s.hash_fragment_length,
    }


def hybrid_limits(s: Any) -> tuple[int, ...]:
    return (s.max_length, s.max_length - 2, s.max_length - 3 - s.hash_fragment_length)


def gen_strategies() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    out.append(run_strategy("passthrough", {}, sz.PassthroughStrategy(), (16,)))
    for n in (9, 16, 32, 64):
        out.append(run_strategy("always_hash", {"hash_length": n}, sz.AlwaysHashStrategy(hash_length=n), (n,)))
    for n in (16, 20, 64, 66, 67, 100, 240):
        out.append(
            run_strategy("hash_excess_length", {"max_length": n}, sz.HashExcessLengthStrategy(max_length=n), (n,))
        )
    hybrids = [
        sz.HybridSanitizationStrategy(),
        sz.HybridSanitizationStrategy(allowed_characters=sl.ALPHANUMERIC_CHARACTERS),
        sz.HybridSanitizationStrategy(allowed_characters=""),  # empty = everything allowed
        sz.HybridSanitizationStrategy(max_length=16, allowed_characters=sl.ALPHANUMERIC_CHARACTERS),
        sz.HybridSanitizationStrategy(max_length=20, allowed_characters=sl.LOWERCASE_ALPHABET, replacement_character="-"),
        sz.HybridSanitizationStrategy(max_length=64, allowed_characters="aé😀日:_", replacement_character="😀"),
        sz.HybridSanitizationStrategy(max_length=16, hash_fragment_length=12),
    ]
    for mode in sz.HashFragmentMode:
        hybrids += [
            sz.HybridSanitizationStrategy(max_length=16, allowed_characters=sl.ALPHANUMERIC_CHARACTERS, hash_fragment_mode=mode),
            sz.HybridSanitizationStrategy(max_length=17, hash_fragment_mode=mode, hash_fragment_length=13),
            sz.HybridSanitizationStrategy(max_length=240, allowed_characters=sl.ALPHANUMERIC_CHARACTERS + "_", hash_fragment_mode=mode),
            sz.HybridSanitizationStrategy(max_length=100, allowed_characters=None, hash_fragment_mode=mode, hash_fragment_length=64),
        ]
    for s in hybrids:
        out.append(run_strategy("hybrid", hybrid_params(s), s, hybrid_limits(s)))

    named = [
        ("memcached_v1_key", "memcached", "MemcachedV1KeySanitizationStrategy"),
        ("mongodb_v1_collection", "mongodb", "MongoDBV1CollectionSanitizationStrategy"),
        ("elasticsearch_v1_key", "elasticsearch", "ElasticsearchV1KeySanitizationStrategy"),
        ("elasticsearch_v1_collection", "elasticsearch", "ElasticsearchV1CollectionSanitizationStrategy"),
        ("opensearch_v1_key", "opensearch", "OpenSearchV1KeySanitizationStrategy"),
        ("opensearch_v1_collection", "opensearch", "OpenSearchV1CollectionSanitizationStrategy"),
        ("keyring_v1_key", "keyring", "KeyringV1KeySanitizationStrategy"),
        ("keyring_v1_collection", "keyring", "KeyringV1CollectionSanitizationStrategy"),
        ("windows_registry_v1_collection", "windows_registry", "WindowsRegistryV1CollectionSanitizationStrategy"),
        ("azure_tables", "azure_tables", "AzureTablesSanitizationStrategy"),
        ("firestore_v1_key", "firestore", "FirestoreV1KeySanitizationStrategy"),
        ("firestore_v1_collection", "firestore", "FirestoreV1CollectionSanitizationStrategy"),
    ]
    for name, module, cls in named:
        s = store_class(module, cls)()
        if isinstance(s, sz.HybridSanitizationStrategy):
            out.append(run_strategy(name, {}, s, hybrid_limits(s), {"effective": hybrid_params(s)}))
        elif isinstance(s, sz.HashExcessLengthStrategy):
            out.append(run_strategy(name, {}, s, (s.max_length,)))
        elif name == "azure_tables":
            out.append(run_strategy(name, {}, s, (256,)))
        elif name.startswith("firestore"):
            out.append(run_strategy(name, {}, s, (1500, 1500 - 67)))
        else:
            out.append(run_strategy(name, {}, s, (64,)))

    s3_key = store_class("s3", "S3KeySanitizationStrategy")
    s3_collection = store_class("s3", "S3CollectionSanitizationStrategy")
    for max_bytes in (16, 64, 500):
        limits = (max_bytes, max_bytes - 8)
        out.append(run_strategy("s3_key", {"max_bytes": max_bytes}, s3_key(max_bytes=max_bytes), limits))
        out.append(run_strategy("s3_collection", {"max_bytes": max_bytes}, s3_collection(max_bytes=max_bytes), limits))
    out.append(run_strategy("s3_key", {}, s3_key(), (500,)))
    out.append(run_strategy("s3_collection", {}, s3_collection(), (500,)))

    out += gen_filetree()
    return out


def gen_filetree() -> list[dict[str, Any]]:
    coll_cls = store_class("filetree", "FileTreeV1CollectionSanitizationStrategy")
    key_cls = store_class("filetree", "FileTreeV1KeySanitizationStrategy")
    shutil.rmtree(GEN_ROOT, ignore_errors=True)
    GEN_ROOT.mkdir(parents=True)
    name_max = os.pathconf(GEN_ROOT, "PC_NAME_MAX")
    path_max = os.pathconf(GEN_ROOT, "PC_PATH_MAX")
    if (name_max, path_max) != (255, 4096):
        sys.exit(f"NAME_MAX/PATH_MAX of {GEN_ROOT} are {name_max}/{path_max}, the Rust port assumes 255/4096")
    # Deep directories bring PATH_MAX - len(directory) under NAME_MAX - 5 = 250 (down to 16).
    deep = GEN_ROOT
    deep_dirs = []
    for i in range(26):
        deep = deep / (f"{i:02d}" + "d" * 148)
        if i >= 24:
            deep_dirs.append(deep)
    for tail in (60, 132, 133, 134):  # remaining PATH_MAX: 89, 17, 16, 15 characters
        deep_dirs.append(deep / ("t" * tail))
    for d in deep_dirs:
        d.mkdir(parents=True, exist_ok=True)
    fitting = GEN_ROOT / "fit"
    fitting.mkdir()
    directories: list[str] = [
        str(GEN_ROOT),
        str(fitting),
        str(GEN_ROOT) + "/",
        str(GEN_ROOT) + "/./fit//",
        "/" + str(GEN_ROOT),  # '//tmp/...' keeps both slashes in Path.as_posix()
        "///" + str(GEN_ROOT).lstrip("/"),  # three or more collapse to one
        ".",
        "/",
    ] + [str(d) for d in deep_dirs]
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for d in directories:
        for name, cls in (("filetree_v1_collection", coll_cls), ("filetree_v1_key", key_cls)):
            s = cls(d)
            # The Rust port rejects a max_length under 16 (py-key-value would produce values
            # longer than max_length); those directories are checked by the Rust tests instead.
            # Only the first directory with a given max_length runs the corpus; the others
            # check how the directory's length is counted.
            rec = {"strategy": name, "params": {"directory": d}, "effective": hybrid_params(s)}
            if s.max_length < sl.MINIMUM_MAX_LENGTH or (name, s.max_length) in seen:
                rec["cases"] = []
            else:
                seen.add((name, s.max_length))
                rec = run_strategy(name, {"directory": d}, s, hybrid_limits(s), {"effective": hybrid_params(s)})
            out.append(rec)
    shutil.rmtree(GEN_ROOT, ignore_errors=True)
    return out


def _u16(ch: str) -> str:
    """`ch` as JSON \\u escapes (a surrogate pair above U+FFFF)."""
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def to_json(data: dict[str, Any]) -> str:
    """Compact JSON with one corpus string, one group header and one case per line."""

    def escape(ch: str) -> str:
        # Readable UTF-8, but invisible characters (controls, zero-width, private use) escaped.
        if ch.isprintable() or ord(ch) < 0x7F:
            return ch
        return _u16(ch)

    def dump(v: Any) -> str:
        return "".join(escape(ch) for ch in json.dumps(v, ensure_ascii=False, separators=(",", ":")))

    lines = ["{"]
    items = list(data.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n + 1 < len(items) else ""
        if key == "corpus":
            lines.append(f"{dump(key)}:[")
            lines += [dump(v) + ("," if j + 1 < len(value) else "") for j, v in enumerate(value)]
            lines.append("]" + comma)
        elif isinstance(value, list):
            lines.append(f"{dump(key)}:[")
            for g, group in enumerate(value):
                header = {k: v for k, v in group.items() if k != "cases"}
                lines.append(dump(header)[:-1] + ',"cases":[')
                cases = group["cases"]
                lines += [dump(c) + ("," if j + 1 < len(cases) else "") for j, c in enumerate(cases)]
                lines.append("]}" + ("," if g + 1 < len(value) else ""))
            lines.append("]" + comma)
        else:
            lines.append(f"{dump(key)}:{dump(value)}{comma}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == data
    return text


def main() -> None:
    data = {
        "generator": "crates/core/tests/data/gen_sanitize_vectors.py",
        "py_key_value_aio": VERSION,
    }
    sections = {
        "sanitize_characters_in_string": gen_sanitize_characters(),
        "sanitize_string": gen_sanitize_string(),
        "hash_excess_length": gen_hash_excess_length(),
        "strategies": gen_strategies(),
    }
    data["corpus"] = CORPUS.values
    data.update(sections)
    OUT.write_text(to_json(data), encoding="utf-8")
    total = sum(len(group["cases"]) for section in sections.values() for group in section)
    print(f"wrote {OUT} ({total} vectors, {OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
