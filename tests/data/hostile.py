"""Hypothesis strategies for hostile dataset files: ``hostile_files()`` draws ``(suffix, bytes)``.

Shared by the CLI tests (``tests/data/test_hostile_files.py``) and the upload tests
(``tests/api/test_datasets.py``). A drawn file is one of: rows of every known format with wrong
types at every level (a messages list holding numbers, a role that is an object, content that
is a list of ints), mixed with hostile lines (nested far too deep, over the line limit, NUL
bytes, Latin-1, surrogate escapes, integers of 5000 digits); that text in a mix of encodings
(UTF-8 with and without a byte-order mark, UTF-16/UTF-32 with and without, Latin-1); archives
(zip, gzip) and Parquet bytes, whole or cut short; random bytes; and any of these with bytes
flipped, all under a suffix drawn on its own, so a ZIP comes as ``.jsonl`` and JSON as ``.csv``.

``SMALL_LIMITS`` are the ``loralab.data.limits`` to use meanwhile, so "too long" and "too wide"
are reached with small files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

SMALL_LIMITS = {"MAX_LINE_BYTES": 4096, "MAX_WHOLE_JSON_BYTES": 16384, "MAX_FIELDS": 40}
SUFFIXES = [".jsonl", ".json", ".csv", ".parquet"]
GOOD_ROW = {"prompt": "What is 2 + 2?", "completion": "4"}
ROLES = ["user", "assistant", "system", "human", "gpt", "tool", "", "USER", "[/red]"]
COLUMNS = [
    "messages",
    "conversations",
    "role",
    "content",
    "from",
    "value",
    "prompt",
    "completion",
    "chosen",
    "rejected",
    "label",
    "instruction",
    "input",
    "output",
    "context",
    "response",
    "question",
    "answer",
    "answers",
    "problem",
    "solution",
    "text",
]

_text = st.text(max_size=24) | st.sampled_from(["", " ", "[/bold]", "\x00", "\ud800", "é" * 5])
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
)
json_values = st.recursive(
    _leaf,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_text, kids, max_size=4),
    max_leaves=10,
)
_maybe_text = st.one_of(_text, json_values, st.lists(st.integers(), max_size=4))
_role = st.one_of(st.sampled_from(ROLES), json_values)
_message = st.one_of(
    st.fixed_dictionaries({"role": _role, "content": _maybe_text}),
    st.fixed_dictionaries({"from": _role, "value": _maybe_text}),
    st.fixed_dictionaries({"role": _role}),
    json_values,
)
_messages = st.one_of(st.lists(_message, max_size=4), json_values)
_answers = st.one_of(
    st.fixed_dictionaries({"text": st.lists(_maybe_text, max_size=3), "answer_start": json_values}),
    json_values,
)


def _row_of(*names: str, **special) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({n: special.get(n, _maybe_text) for n in names})


_CHAT = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
# Per format: a good row, and rows of its columns holding anything (wrong types at every level).
SHAPES = {
    "messages": ({"messages": _CHAT}, _row_of("messages", messages=_messages)),
    "conversations": (
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]},
        _row_of("conversations", conversations=_messages),
    ),
    "prompt_completion": (GOOD_ROW, _row_of("prompt", "completion")),
    "unpaired_preference": (
        {"prompt": "Hi", "completion": "Hello", "label": True},
        _row_of("prompt", "completion", "label"),
    ),
    "preference": (
        {"prompt": "Hi", "chosen": "Hello", "rejected": "Go away"},
        _row_of("prompt", "chosen", "rejected", chosen=_messages | _maybe_text),
    ),
    "alpaca": (
        {"instruction": "Add 2 and 2.", "input": "", "output": "4"},
        _row_of("instruction", "input", "output"),
    ),
    "dolly": (
        {"instruction": "Add.", "context": "2 and 2", "response": "4"},
        _row_of("instruction", "context", "response"),
    ),
    "squad": (
        {
            "context": "Paris is in France.",
            "question": "Where?",
            "answers": {"text": ["France"], "answer_start": [12]},
        },
        _row_of("context", "question", "answers", answers=_answers),
    ),
    "problem_solution": ({"problem": "1+1?", "solution": "2"}, _row_of("problem", "solution")),
}
_odd_rows = st.one_of(
    st.dictionaries(st.sampled_from(COLUMNS) | _text, json_values, max_size=6),
    st.dictionaries(st.text(max_size=3), st.just(1), min_size=45, max_size=60),  # too wide
    json_values,  # not an object at all
)


@st.composite
def row_lists(draw, max_size: int = 6) -> list:
    """Rows of one format, good and bad, with the odd row of no format among them."""
    good, bad = SHAPES[draw(st.sampled_from(sorted(SHAPES)))]
    kinds = st.sampled_from(["good", "bad", "bad", "odd"])
    out = []
    for kind in draw(st.lists(kinds, min_size=1, max_size=max_size)):
        out.append(good if kind == "good" else draw(bad if kind == "bad" else _odd_rows))
    return out


def _deep(n: int, key: bool) -> str:
    inner = "[" * n + "]" * n
    return '{"messages": ' + inner + "}" if key else inner


_hostile_lines = st.one_of(
    st.integers(90, 30_000).flatmap(lambda n: st.booleans().map(lambda k: _deep(n, k))),
    st.integers(1, 20_000).map(lambda n: "[" * n),  # opened, never closed
    st.just('{"prompt": "' + "x" * 5000 + '", "completion": "y"}'),  # over the small limit
    st.just('{"prompt": "a\\ud800", "completion": "b"}'),
    st.just('{"prompt\\u0000": "a", "completion": "b"}'),
    st.just('{"prompt": ' + "9" * 5000 + ', "completion": "b"}'),
    st.just('{"prompt": "a", "completion": "b", "prompt": 1}'),
    st.just("\x00\x00\x00"),
    st.just(""),
    st.just("\r"),
    st.just('{"prompt": "unterminated'),
    st.just("NaN"),
)


def _json_line(row: object, ascii_only: bool) -> str:
    return json.dumps(row, ensure_ascii=ascii_only)


@st.composite
def jsonl_texts(draw) -> str:
    lines = [_json_line(row, draw(st.booleans())) for row in draw(row_lists())]
    for _ in range(draw(st.integers(0, 3))):
        lines.insert(draw(st.integers(0, len(lines))), draw(_hostile_lines))
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))


@st.composite
def json_texts(draw) -> str:
    items = draw(row_lists(max_size=5))
    if draw(st.booleans()):
        items = items[: draw(st.integers(0, len(items)))]
    body = ", ".join(json.dumps(item) for item in items)
    shape = draw(st.sampled_from(["array", "array", "data", "train", "two", "deep", "cut", "big"]))
    if shape == "array":
        return f"[{body}]"
    if shape == "data":
        return '{"data": [' + body + "]}"
    if shape == "train":
        return '{"train": [' + body + '], "note": "x"}'
    if shape == "two":
        return '{"a": [' + body + '], "b": [{"x": 1}]}'
    if shape == "deep":
        deep = _deep(draw(st.integers(90, 20_000)), True)
        return draw(st.sampled_from(["[", '{"data": ['])) + deep + "]"
    if shape == "big":
        return '{"data": [' + ", ".join([json.dumps(GOOD_ROW)] * 400) + "]}"
    return f"[{body}"[: draw(st.integers(0, len(body) + 1))]


_cells = st.one_of(
    _text,
    st.sampled_from(['"', '""', "a,b", "line\nbreak", "\r", "x" * 5000, json.dumps(_CHAT)]),
    json_values.map(json.dumps),
)


def _cell(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def csv_texts(draw) -> str:
    good, _ = SHAPES[draw(st.sampled_from(sorted(SHAPES)))]
    header = list(good) + draw(st.lists(st.sampled_from(COLUMNS) | _text, max_size=2))
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if not draw(st.integers(0, 5)):
        header = header + [f"c{i}" for i in range(50)]  # too wide
    out = io.StringIO()
    writer = csv.writer(out, delimiter=draw(st.sampled_from([",", ",", "\t", ";"])))
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            writer.writerow([_cell(good.get(name, "")) for name in header])
            continue
        n = draw(
            st.sampled_from([len(header), len(header), max(0, len(header) - 1), len(header) + 1])
        )
        writer.writerow(draw(st.lists(_cells, min_size=n, max_size=n)))
    text = out.getvalue()
    if draw(st.booleans()):
        text += draw(_hostile_lines) + "\n"
    if not draw(st.integers(0, 4)):
        text += '"an open quote that never closes\n' + "more\n" * 3
    return text


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-lines-latin1":  # every other line in Latin-1
        lines = text.split("\n")
        return b"\n".join(
            ln.encode("latin-1", "replace") if i % 2 else ln.encode("utf-8", "surrogatepass")
            for i, ln in enumerate(lines)
        )
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


encodings = st.sampled_from(
    [
        "utf-8",
        "utf-8",
        "utf-8-sig",
        "utf-16",
        "utf-16-le",
        "utf-16-be",
        "utf-32",
        "utf-32-le",
        "latin-1",
        "cp1252",
        "utf-8-lines-latin1",
    ]
)


@st.composite
def text_files(draw) -> bytes:
    text = draw(st.one_of(jsonl_texts(), json_texts(), csv_texts()))
    return _encode(text, draw(encodings))


def _zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("train.jsonl", data)
    return out.getvalue()


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _parquet_tables() -> list[bytes]:
    """Real Parquet files holding what a dataset should not: wrong types at every level."""
    message = pa.struct([("role", pa.int64()), ("content", pa.list_(pa.int64()))])
    deep = pa.list_(pa.int64())
    for _ in range(60):
        deep = pa.list_(deep)
    nested = [[[[[1]]]]]
    tables = [
        pa.table({"messages": pa.array([[{"role": 1, "content": [1, 2]}]], pa.list_(message))}),
        pa.table({"messages": pa.array([[1, 2, 3]], pa.list_(pa.int64()))}),
        pa.table(
            {
                "messages": pa.array(
                    [[{"role": {"a": 1}, "content": "x"}]],
                    pa.list_(
                        pa.struct(
                            [("role", pa.struct([("a", pa.int64())])), ("content", pa.string())]
                        )
                    ),
                )
            }
        ),
        pa.table({"prompt": pa.array([b"\x00\xff"], pa.binary()), "completion": ["ok"]}),
        pa.table(
            {"prompt": [1.5], "completion": [None]},
            schema=pa.schema([("prompt", pa.float64()), ("completion", pa.string())]),
        ),
        pa.table({"conversations": pa.array([None], deep)}),
        pa.table(
            {
                "text": pa.array(
                    [nested], pa.list_(pa.list_(pa.list_(pa.list_(pa.list_(pa.int64())))))
                )
            }
        ),
        pa.table({f"c{i}": [1] for i in range(50)}),  # too wide
        pa.table({"pro\x00mpt": ["a"], "completion": ["b"]}),
        pa.table({"prompt": pa.array([], pa.string()), "completion": pa.array([], pa.string())}),
        pa.table({"prompt": ["a" * 100], "completion": [pa.scalar(1, pa.int8()).as_py()]}),
        pa.table({"prompt": ["q"], "chosen": [["x", "y"]], "rejected": [[1]]}),
    ]
    return [_parquet(t) for t in tables]


PARQUET_FILES = _parquet_tables()


@st.composite
def parquet_files(draw) -> bytes:
    """A real Parquet file of rows of one format (types as pyarrow infers them), or a fixed one
    when the rows do not make a table."""
    rows = [r for r in draw(row_lists()) if isinstance(r, dict)]
    try:
        return _parquet(pa.Table.from_pylist(rows))
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return draw(st.sampled_from(PARQUET_FILES))


@st.composite
def binary_files(draw) -> bytes:
    kind = draw(st.sampled_from(["zip", "gzip", "parquet", "parquet", "random", "magic"]))
    if kind == "zip":
        data = _zip(draw(text_files()))
    elif kind == "gzip":
        data = gzip.compress(draw(text_files()))
    elif kind == "parquet":
        data = draw(parquet_files() | st.sampled_from(PARQUET_FILES))
    elif kind == "magic":  # a magic number and then text, or nothing
        magic = draw(st.sampled_from([b"PAR1", b"PK\x03\x04", b"\x1f\x8b", b"SQLite format 3\x00"]))
        data = magic + draw(text_files())
    else:
        data = draw(st.binary(max_size=512))
    if not draw(st.integers(0, 3)):
        data = data[: draw(st.integers(0, len(data)))]  # cut short
    return data


@st.composite
def mutated(draw, files: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(files))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(
                st.sampled_from([b"\x00", b"\xff", b"[", b'"', b"\n", b"\xef\xbb\xbf"])
            )
        else:
            del data[at]
    return bytes(data)


_TEXTS = {".jsonl": jsonl_texts, ".ndjson": jsonl_texts, ".json": json_texts, ".csv": csv_texts}


@st.composite
def fitting_files(draw, suffixes: list[str]) -> tuple[str, bytes]:
    """Content made for its suffix, in UTF-8 mostly: these reach the row-by-row checks."""
    suffix = draw(st.sampled_from(suffixes))
    if suffix in (".parquet", ".pq"):
        return suffix, draw(parquet_files())
    text = draw(_TEXTS.get(suffix, csv_texts)())
    encoding = draw(st.sampled_from(["utf-8"] * 5 + ["utf-8-sig", "utf-16", "utf-32"]))
    return suffix, _encode(text, encoding)


def hostile_files(suffixes: list[str] = SUFFIXES) -> st.SearchStrategy[tuple[str, bytes]]:
    """``(suffix, content)`` of a hostile dataset file (see the module docstring)."""
    anything = st.one_of(text_files(), binary_files(), mutated(text_files() | binary_files()))
    return fitting_files(suffixes) | st.tuples(st.sampled_from(suffixes), anything)
