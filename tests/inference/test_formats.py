"""Tests for inference.formats and inference.simplify on the real Quick, Draw! files."""

from __future__ import annotations

import gzip
import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.formats import (
    DataFormatError,
    DrawingRecord,
    discover,
    load_drawings,
    read_bitmaps,
    read_ndjson,
    read_sketchrnn,
)
from inference.simplify import normalize_batch, normalize_strokes, rdp, simplify_raw

# --- ndjson ---------------------------------------------------------------------------------------


def test_read_simplified_gz(quickdraw_dir: Path) -> None:
    """The official simplified file reads as 0..255 (n, 2) float32 strokes with all metadata."""
    records = list(read_ndjson(quickdraw_dir / "simplified" / "apple.ndjson.gz"))
    assert len(records) == 59  # MANIFEST.md
    assert len({r.key_id for r in records}) == 59
    first = records[0]
    assert first.word == "apple" and first.source == "simplified" and first.key_id.isdigit()
    assert first.countrycode is not None and len(first.countrycode) == 2
    assert first.timestamp is not None and first.timestamp.endswith("UTC")
    assert isinstance(first.recognized, bool)
    for record in records:
        assert record.raw_strokes is None
        for stroke in record.strokes:
            assert stroke.dtype == np.float32 and stroke.ndim == 2 and stroke.shape[1] == 2
            assert stroke.min() >= 0 and stroke.max() <= 255
            assert np.array_equal(stroke, np.round(stroke))


def test_read_raw_gz(quickdraw_dir: Path) -> None:
    """Raw drawings (three arrays per stroke) come back as (n, 3) strokes with times in ms."""
    records = list(read_ndjson(quickdraw_dir / "raw" / "ice cream.ndjson.gz"))
    assert len(records) == 20 and {r.word for r in records} == {"ice cream"}
    for record in records:
        assert record.source == "raw"
        assert all(s.dtype == np.float32 and s.shape[1] == 3 for s in record.strokes)
        assert 0 <= record.strokes[0][0, 2] < record.strokes[-1][-1, 2]  # ms since the drawing began


def test_plain_and_gzipped_read_the_same(quickdraw_dir: Path, tmp_path: Path) -> None:
    """A decompressed copy gives the same drawings; gzip is detected by content, not by name."""
    source = quickdraw_dir / "raw" / "cup.ndjson.gz"
    plain = tmp_path / "cup.ndjson"
    plain.write_bytes(gzip.decompress(source.read_bytes()))
    from_gz, from_plain = list(read_ndjson(source)), list(read_ndjson(plain))
    assert [r.key_id for r in from_gz] == [r.key_id for r in from_plain]
    for a, b in zip(from_gz, from_plain, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a.strokes, b.strokes, strict=True))


def test_read_ndjson_streams(tmp_path: Path) -> None:
    """Lines are parsed lazily: the good lines before a broken one are delivered first."""
    path = tmp_path / "cat.ndjson"
    good = json.dumps({"word": "cat", "key_id": "1", "drawing": [[[0, 255], [0, 255]]]})
    path.write_text(f"{good}\n\n{good}\n{{broken\n")
    assert inspect.isgenerator(read_ndjson(path))
    reader = read_ndjson(path)
    assert next(reader).key_id == "1"
    assert next(reader).key_id == "1"
    with pytest.raises(DataFormatError, match=r"cat\.ndjson:4: not valid JSON"):
        next(reader)


def _line(**overrides: object) -> str:
    record: dict[str, object] = {
        "word": "cat",
        "countrycode": "US",
        "timestamp": "2017-03-01 00:00:00.0 UTC",
        "recognized": True,
        "key_id": "5",
        "drawing": [[[0, 10], [0, 10]]],
    }
    record.update(overrides)
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"word": "cat", "drawing": []}), "missing key 'key_id'"),
        (_line(drawing=[]), "non-empty list of strokes"),
        (_line(drawing=[[[0, 1], [0]]]), "equal-length"),
        (_line(drawing=[[[], []]]), "non-empty coordinate"),
        (_line(drawing=[[[0, 1]]]), r"\[\[x...\], \[y...\]\]"),
        (_line(drawing=[[[0, "a"], [0, 1]]]), "non-numeric"),
        (_line(drawing=[[[0, 1], [0, 1]], [[0], [0], [0]]]), "stroke 1 has 3 arrays"),
        (_line(word=""), "'word'"),
        (_line(key_id=[5]), "'key_id'"),
    ],
)
def test_broken_ndjson_names_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    """Each kind of broken line raises DataFormatError naming the file and line number."""
    path = tmp_path / "broken.ndjson"
    path.write_text(f"{_line()}\n{bad_line}\n")
    with pytest.raises(DataFormatError, match=rf"broken\.ndjson:2: .*{message}"):
        list(read_ndjson(path))


def test_mixed_raw_and_simplified_rejected(tmp_path: Path) -> None:
    """A file switching from simplified to raw drawings is not one official file."""
    path = tmp_path / "mixed.ndjson"
    path.write_text(f"{_line()}\n{_line(drawing=[[[0, 1], [0, 1], [0, 5]]])}\n")
    with pytest.raises(DataFormatError, match=r"mixed\.ndjson:2: raw drawing in a file of simplified"):
        list(read_ndjson(path))


def test_truncated_gzip_names_file(quickdraw_dir: Path, tmp_path: Path) -> None:
    """A download cut short fails with DataFormatError (not a bare EOFError) naming the file."""
    data = (quickdraw_dir / "simplified" / "apple.ndjson.gz").read_bytes()
    path = tmp_path / "apple.ndjson.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"apple\.ndjson\.gz:\d+: unreadable"):
        list(read_ndjson(path))


# --- bitmaps --------------------------------------------------------------------------------------


def test_read_bitmaps(quickdraw_dir: Path, tmp_path: Path) -> None:
    """Official bitmaps read as (N, 784) uint8, memory-mapped by default; a flat name works too."""
    path = quickdraw_dir / "numpy_bitmap" / "cloud.npy"
    mapped = read_bitmaps(path)
    assert isinstance(mapped, np.memmap) and mapped.shape == (988, 784) and mapped.dtype == np.uint8
    loaded = read_bitmaps(path, mmap=False)
    assert not isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(mapped[:10], loaded[:10])
    flat = tmp_path / "full_numpy_bitmap_cloud.npy"
    np.save(flat, loaded[:3])
    assert read_bitmaps(flat).shape == (3, 784)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 784), np.float32), "expected uint8"),
        (np.zeros((2, 28, 28), np.uint8), r"\(2, 28, 28\)"),
        (np.zeros((2, 700), np.uint8), r"\(2, 700\)"),
    ],
)
def test_broken_bitmaps(tmp_path: Path, array: np.ndarray, message: str) -> None:
    """Wrong dtype or shape is a DataFormatError naming the file."""
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(DataFormatError, match=rf"bad\.npy: .*{message}"):
        read_bitmaps(path)


def test_bitmaps_not_npy(tmp_path: Path) -> None:
    """A file that is not .npy at all (e.g. an HTML error page saved by a proxy) is rejected."""
    path = tmp_path / "page.npy"
    path.write_bytes(b"<html>quota exceeded</html>")
    with pytest.raises(DataFormatError, match=r"page\.npy: not a readable"):
        read_bitmaps(path)


# --- sketch-rnn -----------------------------------------------------------------------------------


def _to_stroke3(strokes: list[np.ndarray]) -> np.ndarray:
    """Official stroke-3 layout: int16 rows [dx, dy, pen_lifted], offsets from (0, 0) onwards."""
    points = np.concatenate(strokes).astype(np.int16)
    deltas = np.diff(points, axis=0, prepend=np.zeros((1, 2), np.int16))
    lifted = np.zeros(len(points), np.int16)
    lifted[np.cumsum([len(s) for s in strokes]) - 1] = 1
    return np.column_stack([deltas, lifted]).astype(np.int16)


def _object_array(drawings: list[np.ndarray]) -> np.ndarray:
    array = np.empty(len(drawings), dtype=object)
    array[:] = drawings
    return array


def test_read_sketchrnn_round_trip(seed_drawings: dict[str, list[DrawingRecord]], tmp_path: Path) -> None:
    """Real drawings written in the official stroke-3 .npz layout come back as the same strokes."""
    drawings = [r.strokes for r in seed_drawings["apple"][:9] if r.source == "simplified"]
    path = tmp_path / "apple.npz"
    stroke3 = [_to_stroke3(d) for d in drawings]
    np.savez(
        path,
        train=_object_array(stroke3[:5]),
        valid=_object_array(stroke3[5:7]),
        test=_object_array(stroke3[7:]),
    )
    splits = read_sketchrnn(path)
    assert {name: len(v) for name, v in splits.items()} == {"train": 5, "valid": 2, "test": len(stroke3) - 7}
    read_back = splits["train"] + splits["valid"] + splits["test"]
    for original, strokes in zip(drawings, read_back, strict=True):
        assert len(original) == len(strokes)
        for a, b in zip(original, strokes, strict=True):
            assert b.dtype == np.float32
            np.testing.assert_array_equal(a, b)


def test_broken_sketchrnn(tmp_path: Path) -> None:
    """A drawing that is not (n, 3), or an archive without splits, names the file and entry."""
    good = np.array([[1, 2, 0], [3, 4, 1]], np.int16)
    path = tmp_path / "bad.npz"
    np.savez(path, train=_object_array([good, np.zeros((4, 2), np.int16)]))
    with pytest.raises(DataFormatError, match=r"bad\.npz: train\[1\]: expected a non-empty \(n, 3\)"):
        read_sketchrnn(path)
    np.savez(path, other=np.zeros(3))
    with pytest.raises(DataFormatError, match=r"bad\.npz: no train/valid/test"):
        read_sketchrnn(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match=r"bad\.npz: not a readable"):
        read_sketchrnn(path)


# --- discover and load_drawings -------------------------------------------------------------------


def test_discover_bucket_layout(quickdraw_dir: Path) -> None:
    """The shared data (bucket layout, spaces in names) is found per word and format."""
    files = discover(quickdraw_dir)
    assert len(files) == 345
    ice_cream = files["ice cream"]
    assert ice_cream.simplified == quickdraw_dir / "simplified" / "ice cream.ndjson.gz"
    assert ice_cream.raw == quickdraw_dir / "raw" / "ice cream.ndjson.gz"
    assert ice_cream.bitmap is None and ice_cream.sketchrnn is None
    assert files["The Mona Lisa"].bitmap == quickdraw_dir / "numpy_bitmap" / "The Mona Lisa.npy"
    assert "row_provenance" not in files


def test_discover_flat_names(quickdraw_dir: Path, tmp_path: Path) -> None:
    """Flat download names are found too, words keep their spaces, and .part files are ignored."""
    shutil.copy(
        quickdraw_dir / "simplified" / "ice cream.ndjson.gz", tmp_path / "full_simplified_ice cream.ndjson.gz"
    )
    (tmp_path / "full_raw_t-shirt.ndjson").write_text("")
    (tmp_path / "full_numpy_bitmap_cloud.npy").write_bytes(b"")
    (tmp_path / "sketchrnn_cat.npz").write_bytes(b"")
    (tmp_path / "dog.npz").write_bytes(b"")
    (tmp_path / "full_raw_frog.ndjson.part").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    files = discover(tmp_path)
    assert sorted(files) == ["cat", "cloud", "dog", "ice cream", "t-shirt"]
    assert files["ice cream"].simplified == tmp_path / "full_simplified_ice cream.ndjson.gz"
    assert files["t-shirt"].raw == tmp_path / "full_raw_t-shirt.ndjson"
    assert files["cloud"].bitmap == tmp_path / "full_numpy_bitmap_cloud.npy"
    assert files["cat"].sketchrnn == tmp_path / "sketchrnn_cat.npz"
    assert files["dog"].sketchrnn == tmp_path / "dog.npz"
    assert len(load_drawings(tmp_path, ["ice cream"])["ice cream"]) == 16


def test_partitioned_layout_and_several_folders(quickdraw_dir: Path, tmp_path: Path) -> None:
    """Folders of ndjson files per word (the game archive's layout) read as that word's files, and
    several data folders read as one, a key_id counted once and a word missing from one allowed."""
    records = list(read_ndjson(quickdraw_dir / "simplified" / "cup.ndjson.gz"))
    lines = [json.dumps({"word": r.word, "key_id": r.key_id, "drawing": [s.T.tolist() for s in r.strokes]})
             for r in records]  # fmt: skip
    for day, part in (("2026-11-24", lines[:5]), ("2026-11-25", lines[5:8])):
        folder = tmp_path / "archive" / "simplified" / "cup" / day
        folder.mkdir(parents=True)
        (folder / "1-0.ndjson").write_text("\n".join(part) + "\n")
    (tmp_path / "archive" / "simplified" / ".tmp").mkdir()
    files = discover(tmp_path / "archive")
    assert list(files) == ["cup"] and files["cup"].simplified == tmp_path / "archive" / "simplified" / "cup"
    archived = load_drawings(tmp_path / "archive")["cup"]
    assert [r.key_id for r in archived] == [r.key_id for r in records[:8]]

    (tmp_path / "archive" / "simplified" / "cup" / "2026-11-25" / "2-0.ndjson").write_text(
        json.dumps({"word": "cup", "key_id": "1000000000000000001", "drawing": [[[0, 9], [0, 9]]]}) + "\n"
    )
    both = load_drawings([quickdraw_dir, tmp_path / "archive"], ["cup", "apple"])
    assert len(both["apple"]) == 59  # only in the official folder
    assert len(both["cup"]) == 26 + 1  # the archive's copies of official cups count once
    assert both["cup"][-1].key_id == "1000000000000000001"
    with pytest.raises(FileNotFoundError, match="unicorn"):
        load_drawings([quickdraw_dir, tmp_path / "archive"], ["unicorn"])


def test_discover_missing_dir(tmp_path: Path) -> None:
    """A missing data directory is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nowhere"):
        discover(tmp_path / "nowhere")


def test_load_drawings_merges_by_key_id(seed_drawings: dict[str, list[DrawingRecord]]) -> None:
    """Simplified and raw files merge by key_id: counts are MANIFEST.md's distinct drawings."""
    expected = {"apple": 59, "book": 20, "ice cream": 20, "cup": 26}
    for word, count in expected.items():
        records = seed_drawings[word]
        assert len(records) == count
        assert len({r.key_id for r in records}) == count
        for record in records:
            assert all(s.shape[1] == 2 and s.min() >= 0 and s.max() <= 255 for s in record.strokes)
            if record.source == "raw":  # only in the raw file: simplified here, timings kept
                assert record.raw_strokes is not None
            if record.raw_strokes is not None:
                assert len(record.raw_strokes) == len(record.strokes)
                assert all(s.shape[1] == 3 for s in record.raw_strokes)
    book = seed_drawings["book"]
    assert sum(r.source == "raw" for r in book) == 2
    assert sum(r.raw_strokes is not None for r in book) == 15


def test_load_drawings_unknown_word(quickdraw_dir: Path) -> None:
    """Asking for a class with no stroke files fails loudly instead of returning nothing."""
    with pytest.raises(FileNotFoundError, match="unicorn"):
        load_drawings(quickdraw_dir, ["apple", "unicorn"])


# --- simplify -------------------------------------------------------------------------------------


def test_simplify_raw_reproduces_google(seed_drawings: dict[str, list[DrawingRecord]]) -> None:
    """Google's recipe applied to raw drawings gives Google's simplified strokes, nearly always exactly.

    Measured: 96% of strokes identical point for point, 99.8% with identical endpoints; the rest
    differ by one unit of rounding (and so, now and then, by an RDP choice).
    """
    identical = total = 0
    for records in seed_drawings.values():
        for record in records:
            if record.source != "simplified" or record.raw_strokes is None:
                continue
            ours = simplify_raw(record.raw_strokes)
            assert len(ours) == len(record.strokes)
            for theirs, mine in zip(record.strokes, ours, strict=True):
                total += 1
                identical += theirs.shape == mine.shape and bool(np.array_equal(theirs, mine))
                assert np.abs(theirs[[0, -1]] - mine[[0, -1]]).max() <= 1.0  # endpoints agree to rounding
    assert total >= 300
    assert identical / total >= 0.9


def test_simplify_raw_edge_cases() -> None:
    """Aligned to 0, larger side 255, aspect kept; a single tap stays a point at the origin."""
    strokes = simplify_raw([np.array([[100, 50, 0], [300, 170, 10]], np.float32)])
    np.testing.assert_array_equal(strokes[0], [[0, 0], [255, 153]])
    assert simplify_raw([]) == []
    tap = simplify_raw([np.array([[7, 9]], np.float32), np.zeros((0, 2), np.float32)])
    assert len(tap) == 1 and tap[0].tolist() == [[0, 0]]


def test_normalize_strokes_canvas() -> None:
    """Live strokes are fitted to 0..255 regardless of canvas; points past the edge are clipped."""
    inside = [np.array([[10, 10], [110, 70]], np.float32)]
    assert normalize_strokes(inside, canvas=(390, 844))[0].tolist() == [[0, 0], [255, 153]]
    overshoot = [np.array([[300, 10], [400, 70]], np.float32)]  # x = 400 is past the 390 edge
    assert normalize_strokes(overshoot)[0].tolist() == [[0, 0], [255, 153]]
    assert normalize_strokes(overshoot, canvas=(390, 844))[0].tolist() == [[0, 0], [255, 170]]
    with pytest.raises(ValueError, match="canvas"):
        normalize_strokes(inside, canvas=(0, 844))
    with pytest.raises(ValueError, match="infinite"):
        normalize_strokes([np.array([[0.0, 1.0], [np.inf, 2.0]])])


def _simplify_reference(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Google's recipe written the obvious way: np.interp at every 1-unit sample, textbook RDP."""
    points = np.concatenate(strokes)
    origin = points.min(axis=0)
    scale = 255.0 / (points.max(axis=0) - origin).max()
    result = []
    for stroke in strokes:
        scaled = (stroke - origin) * scale
        steps = np.hypot(*np.diff(scaled, axis=0).T)
        scaled = scaled[np.concatenate([[True], steps > 0])]
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(scaled, axis=0).T))])
        targets = np.arange(0.0, arc[-1], 1.0) if arc[-1] > 0 else np.zeros(1)
        if arc[-1] - targets[-1] > 1e-9:
            targets = np.append(targets, arc[-1])
        samples = np.column_stack(
            [np.interp(targets, arc, scaled[:, 0]), np.interp(targets, arc, scaled[:, 1])]
        )
        result.append(np.clip(np.rint(_rdp_reference(samples, 2.0)), 0, 255).astype(np.float32))
    return result


def test_simplify_matches_textbook_recipe() -> None:
    """The vectorised recipe (only RDP's possible picks are sampled) equals the textbook one exactly."""
    rng = np.random.default_rng(11)
    drawings = [
        [
            np.cumsum(rng.normal(size=(int(rng.integers(1, 50)), 2)) * rng.uniform(0.3, 25), axis=0)
            + rng.uniform(0, 800, 2)
            for _ in range(int(rng.integers(1, 6)))
        ]
        for _ in range(150)
    ]
    # Very uneven stroke lengths take the other running-sum path.
    drawings.append(
        [np.cumsum(rng.normal(size=(3000, 2)), axis=0)] + [rng.normal(size=(3, 2)) for _ in range(50)]
    )
    for strokes in drawings:
        ours, reference = simplify_raw(strokes), _simplify_reference(strokes)
        assert len(ours) == len(reference)
        for mine, theirs in zip(ours, reference, strict=True):
            np.testing.assert_array_equal(mine, theirs)


def test_normalize_batch_equals_one_by_one(seed_drawings: dict[str, list[DrawingRecord]]) -> None:
    """A batch gives exactly what each drawing gives alone (nothing leaks between drawings)."""
    drawings: list[list[np.ndarray]] = [
        r.raw_strokes for records in seed_drawings.values() for r in records if r.raw_strokes is not None
    ]
    drawings = [*drawings[:60], [], [np.zeros((0, 3), np.float32)], [np.array([[5.0, 5.0]])]]
    canvases = [(2000.0, 2000.0) if i % 2 else None for i in range(len(drawings))]
    batch = normalize_batch(drawings, canvases)
    assert len(batch) == len(drawings)
    for drawing, canvas, normalized in zip(drawings, canvases, batch, strict=True):
        alone = normalize_strokes(drawing, canvas=canvas)
        assert len(alone) == len(normalized)
        for a, b in zip(alone, normalized, strict=True):
            np.testing.assert_array_equal(a, b)
    assert batch[-3] == [] and batch[-2] == [] and batch[-1][0].tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match="canvases"):
        normalize_batch(drawings, canvases[:-1])


def _rdp_reference(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Textbook recursive RDP, perpendicular distance to the chord's line."""
    if len(points) < 3:
        return points
    start, end = points[0, :2], points[-1, :2]
    chord = end - start
    length = np.hypot(*chord)
    offsets = points[1:-1, :2] - start
    if length == 0:
        distances = np.hypot(offsets[:, 0], offsets[:, 1])
    else:
        distances = np.abs(offsets[:, 0] * chord[1] - offsets[:, 1] * chord[0]) / length
    index = int(np.argmax(distances)) + 1
    if distances[index - 1] <= epsilon:
        return points[[0, -1]]
    left = _rdp_reference(points[: index + 1], epsilon)
    return np.concatenate([left[:-1], _rdp_reference(points[index:], epsilon)])


def test_rdp() -> None:
    """RDP drops collinear and near points, keeps corners and extra columns, matches the textbook."""
    line = np.column_stack([np.arange(10.0), np.arange(10.0)])
    np.testing.assert_array_equal(rdp(line, 0.5), line[[0, -1]])
    corner = np.array([[0, 0], [5, 0.1], [10, 0], [10, 10]], np.float32)
    result = rdp(corner, 1.0)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, corner[[0, 2, 3]])
    timed = np.array([[0, 0, 0], [5, 5, 10], [10, 0, 20]], np.float64)
    np.testing.assert_array_equal(rdp(timed, 1.0), timed)  # time column rides along
    np.testing.assert_array_equal(rdp(line[:2], 1.0), line[:2])
    loop = np.array([[0, 0], [5, 5], [0, 0]], np.float64)  # closed stroke: chord of length zero
    np.testing.assert_array_equal(rdp(loop, 1.0), loop)
    rng = np.random.default_rng(7)
    for _ in range(20):
        walk = np.cumsum(rng.normal(size=(200, 2)), axis=0)
        for epsilon in (0.0, 0.5, 2.0, 10.0):
            np.testing.assert_array_equal(rdp(walk, epsilon), _rdp_reference(walk, epsilon))
    with pytest.raises(ValueError, match="epsilon"):
        rdp(line, -1.0)
    with pytest.raises(ValueError, match="shape"):
        rdp(np.arange(4.0), 1.0)
