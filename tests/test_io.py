"""Tests for pointcloud.io: real files from ../shared/data, synthetic round trips, bad files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import laspy
import numpy as np
import pytest

from pointcloud.errors import (
    CorruptFileError,
    EmptyCloudError,
    HeaderMismatchError,
    TooLargeError,
    UnsupportedFormatError,
)
from pointcloud.io import list_frames, read_cloud, read_pcd, read_poses, write_pcd
from pointcloud.io.pcd import lzf_decompress

RNG_SEED = 7

# ---------------------------------------------------------------- helpers


def lzf_compress(data: bytes) -> bytes:
    """A small greedy LZF compressor (liblzf format) so tests exercise back-references."""
    out, literal, table = bytearray(), bytearray(), {}
    i, n = 0, len(data)

    def flush() -> None:
        for k in range(0, len(literal), 32):
            part = literal[k : k + 32]
            out.append(len(part) - 1)
            out.extend(part)
        literal.clear()

    while i < n:
        ref = table.get(data[i : i + 3]) if i + 2 < n else None
        if i + 2 < n:
            table[data[i : i + 3]] = i
        if ref is not None and i - ref <= 8192:
            length, limit = 3, min(264, n - i)
            while length < limit and data[ref + length] == data[i + length]:
                length += 1
            flush()
            off, code = i - ref - 1, length - 2
            if code < 7:
                out.append((code << 5) | (off >> 8))
            else:
                out += bytes([(7 << 5) | (off >> 8), code - 7])
            out.append(off & 0xFF)
            i += length
        else:
            literal.append(data[i])
            i += 1
    flush()
    return bytes(out)


def pcd_header(
    fields: list[tuple[str, str, int, int]], points: int, data: str, **extra: str
) -> str:
    """Header text for (name, TYPE, SIZE, COUNT) fields; ``extra`` overrides lines."""
    lines = {
        "VERSION": "0.7",
        "FIELDS": " ".join(f[0] for f in fields),
        "SIZE": " ".join(str(f[2]) for f in fields),
        "TYPE": " ".join(f[1] for f in fields),
        "COUNT": " ".join(str(f[3]) for f in fields),
        "WIDTH": str(points),
        "HEIGHT": "1",
        "VIEWPOINT": "0 0 0 1 0 0 0",
        "POINTS": str(points),
        "DATA": data,
    }
    lines.update(extra)
    return "# .PCD v0.7\n" + "".join(f"{k} {v}\n" for k, v in lines.items())


# x y z, 2 bytes padding, intensity, normal (COUNT 3), 1 byte padding, ring, label u1
FIELDS = [
    ("x", "F", 4, 1),
    ("y", "F", 4, 1),
    ("z", "F", 4, 1),
    ("_", "U", 1, 2),
    ("intensity", "F", 4, 1),
    ("normal", "F", 4, 3),
    ("_", "U", 1, 1),
    ("ring", "U", 2, 1),
    ("label", "I", 8, 1),
]
DTYPE = np.dtype(
    [
        ("x", "<f4"),
        ("y", "<f4"),
        ("z", "<f4"),
        ("pad0", "V2"),
        ("intensity", "<f4"),
        ("normal", "<f4", (3,)),
        ("pad1", "V1"),
        ("ring", "<u2"),
        ("label", "<i8"),
    ]
)


def sample_records(n: int = 50) -> np.ndarray:
    rng = np.random.default_rng(RNG_SEED)
    rec = np.zeros(n, dtype=DTYPE)
    for axis in "xyz":
        rec[axis] = rng.uniform(-80, 80, n).astype(np.float32)
    rec["intensity"] = rng.uniform(0, 255, n).astype(np.float32)
    rec["normal"] = rng.normal(size=(n, 3)).astype(np.float32)
    rec["ring"] = rng.integers(0, 64, n)
    rec["label"] = rng.integers(-5, 5, n)
    return rec


def write_sample_pcd(path: Path, rec: np.ndarray, data: str, **extra: str) -> None:
    header = pcd_header(FIELDS, len(rec), data, **extra).encode()
    if data == "binary":
        body = rec.tobytes()
    elif data == "ascii":
        rows = []
        for r in rec:
            values = [r["x"], r["y"], r["z"], 0, 0, r["intensity"], *r["normal"], 0, r["ring"]]
            rows.append(" ".join(repr(float(v)) for v in values) + f" {int(r['label'])}")
        body = ("\n".join(rows) + "\n").encode()
    else:  # binary_compressed, PCL layout: fields one after another, padding left out
        names = [n for n in DTYPE.names or () if not n.startswith("pad")]
        raw = b"".join(np.ascontiguousarray(rec[n]).tobytes() for n in names)
        packed = lzf_compress(raw)
        body = struct.pack("<II", len(packed), len(raw)) + packed
    path.write_bytes(header + body)


def assert_matches(cloud, rec: np.ndarray) -> None:
    xyz = np.column_stack([rec[a] for a in "xyz"])
    assert len(cloud) == len(rec)
    assert np.array_equal(cloud.xyz, xyz.astype(np.float64))
    assert np.array_equal(cloud.attributes["intensity"], rec["intensity"])
    assert np.array_equal(cloud.attributes["normal"], rec["normal"])
    assert np.array_equal(cloud.attributes["ring"], rec["ring"])
    assert cloud.attributes["ring"].dtype == np.uint16
    assert np.array_equal(cloud.attributes["label"], rec["label"])
    assert not any(k.startswith("_") or k.startswith("pad") for k in cloud.attributes)


# ---------------------------------------------------------------- real files

SUSTECH_COUNTS = {"000950": 68_242, "000965": 66_781, "000970": 66_899, "000975": 67_153}


@pytest.mark.parametrize("name,count", [("000000", 115_384), ("000001", 120_268)])
def test_kitti_bin_has_exact_count_and_positions_equal_to_the_raw_floats(
    shared_data: Path, name: str, count: int
) -> None:
    path = shared_data / "kitti" / "velodyne" / f"{name}.bin"
    raw = np.fromfile(path, dtype="<f4").reshape(-1, 4)
    cloud = read_cloud(path)
    assert len(cloud) == count
    assert np.array_equal(cloud.xyz, raw[:, :3].astype(np.float64))
    assert np.array_equal(cloud.attributes["intensity"], raw[:, 3])


@pytest.mark.parametrize("frame,count", sorted(SUSTECH_COUNTS.items()))
def test_sustech_binary_pcd_frames_have_exact_counts(
    shared_data: Path, frame: str, count: int
) -> None:
    cloud = read_pcd(shared_data / "sustech" / "lidar" / f"{frame}.pcd")
    assert len(cloud) == count
    assert cloud.dropped == 0
    assert np.all(np.abs(cloud.local) < 300)
    intensity = cloud.attributes["intensity"]
    assert intensity.dtype == np.float32 and np.all((intensity >= 0) & (intensity <= 255))


@pytest.mark.parametrize(
    "name,count",
    [("simple", 1_065), ("autzen_trim", 110_000)],
)
def test_las_and_laz_give_the_same_points_as_laspy(
    shared_data: Path, name: str, count: int
) -> None:
    las_cloud = read_cloud(shared_data / "las" / f"{name}.las")
    laz_cloud = read_cloud(shared_data / "las" / f"{name}.laz")
    assert len(las_cloud) == len(laz_cloud) == count
    assert np.array_equal(las_cloud.xyz, laz_cloud.xyz)
    ref = laspy.read(shared_data / "las" / f"{name}.las")
    expected = np.column_stack([ref.x, ref.y, ref.z])
    assert np.abs(las_cloud.xyz - expected).max() < 1e-3
    assert np.all(np.abs(las_cloud.local) < 1e4), "georeferenced data needs a near offset"
    assert np.array_equal(las_cloud.attributes["intensity"], np.asarray(ref.intensity))
    assert las_cloud.attributes["rgb"].shape == (count, 3)


def test_sample_c_las_keeps_its_eight_classes(shared_data: Path) -> None:
    cloud = read_cloud(shared_data / "las" / "sample_c.las")
    assert len(cloud) == 14_408
    classes = cloud.attributes["classification"]
    assert classes.dtype == np.uint8 and len(np.unique(classes)) == 8
    assert cloud.attributes["gps_time"].dtype == np.float64


def test_las_chunked_reading_matches_a_single_chunk(shared_data: Path) -> None:
    from pointcloud.io.las import read_las

    path = shared_data / "las" / "sample_c.las"
    small, whole = read_las(path, chunk_points=1000), read_las(path)
    assert np.array_equal(small.xyz, whole.xyz)
    assert np.array_equal(small.attributes["classification"], whole.attributes["classification"])


@pytest.mark.parametrize("name,count", [("bcts_1", 531_662), ("bcts_merged", 2_834_350)])
def test_large_airborne_laz_has_exact_count_and_millimetre_positions(
    shared_data: Path, name: str, count: int
) -> None:
    path = shared_data / "las" / f"{name}.laz"
    cloud = read_cloud(path)
    assert len(cloud) == count
    with laspy.open(path) as reader:
        first = next(reader.chunk_iterator(10_000))
        expected = np.column_stack([first.x, first.y, first.z])
    assert np.abs(cloud.xyz[:10_000] - expected).max() < 1e-3


def test_sustech_folder_lists_its_lidar_frames_in_order(shared_data: Path) -> None:
    frames = list_frames(shared_data / "sustech")
    assert [f.stem for f in frames] == sorted(SUSTECH_COUNTS)
    assert [f.name for f in list_frames(shared_data / "kitti")] == ["000000.bin", "000001.bin"]


# ---------------------------------------------------------------- PCD round trips


@pytest.mark.parametrize("data", ["ascii", "binary", "binary_compressed"])
def test_pcd_with_padding_and_count_fields_round_trips(tmp_path: Path, data: str) -> None:
    rec = sample_records()
    path = tmp_path / "cloud.pcd"
    write_sample_pcd(path, rec, data)
    assert_matches(read_cloud(path), rec)


def test_binary_compressed_pcd_with_padding_inside_the_block_is_read(tmp_path: Path) -> None:
    rec = sample_records()
    raw = b"".join(np.ascontiguousarray(rec[n]).tobytes() for n in DTYPE.names or ())
    literal = b"".join(
        bytes([len(c) - 1]) + c for c in (raw[i : i + 32] for i in range(0, len(raw), 32))
    )
    body = struct.pack("<II", len(literal), len(raw)) + literal
    path = tmp_path / "padded.pcd"
    path.write_bytes(pcd_header(FIELDS, len(rec), "binary_compressed").encode() + body)
    assert_matches(read_pcd(path), rec)


def test_organised_pcd_is_flattened_and_nan_points_are_dropped_and_counted(tmp_path: Path) -> None:
    rec = sample_records(12)
    rec["x"][[2, 7]] = np.nan
    path = tmp_path / "organised.pcd"
    write_sample_pcd(path, rec, "binary", WIDTH="4", HEIGHT="3")
    cloud = read_pcd(path)
    assert len(cloud) == 10 and cloud.dropped == 2
    assert np.array_equal(cloud.attributes["ring"], np.delete(rec["ring"], [2, 7]))


def test_pcd_viewpoint_moves_points_from_sensor_to_world_frame(tmp_path: Path) -> None:
    rec = sample_records(3)
    rec["x"], rec["y"], rec["z"] = [1, 0, 2], [0, 1, 0], [0, 0, 5]
    path = tmp_path / "viewpoint.pcd"
    half = np.sqrt(0.5)  # 90 degrees about +z: (x, y) -> (-y, x)
    write_sample_pcd(path, rec, "binary", VIEWPOINT=f"10 20 30 {half} 0 0 {half}")
    cloud = read_pcd(path)
    expected = [[10, 21, 30], [9, 20, 30], [10, 22, 35]]
    assert np.allclose(cloud.xyz, expected, atol=1e-6)


def test_write_pcd_output_reads_back_with_fields(tmp_path: Path) -> None:
    rng = np.random.default_rng(RNG_SEED)
    xyz = rng.uniform(-50, 50, (100, 3))
    fields = {
        "intensity": rng.uniform(0, 1, 100).astype(np.float32),
        "ring": np.arange(100, dtype=np.uint8),
    }
    write_pcd(tmp_path / "w.pcd", xyz, fields)
    cloud = read_cloud(tmp_path / "w.pcd")
    assert np.array_equal(cloud.xyz, xyz.astype(np.float32).astype(np.float64))
    assert np.array_equal(cloud.attributes["intensity"], fields["intensity"])
    assert np.array_equal(cloud.attributes["ring"], fields["ring"])


def test_pcd_packed_rgb_becomes_uint8_triples_in_binary_and_ascii(tmp_path: Path) -> None:
    fields = [("x", "F", 4, 1), ("y", "F", 4, 1), ("z", "F", 4, 1), ("rgb", "F", 4, 1)]
    packed = np.array([0xFF0080, 0x00FF01], dtype=np.uint32)
    rec = np.zeros(2, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<u4")])
    rec["rgb"] = packed
    (tmp_path / "b.pcd").write_bytes(pcd_header(fields, 2, "binary").encode() + rec.tobytes())
    ascii_rows = "".join(f"0 0 0 {int(p)}\n" for p in packed)
    (tmp_path / "a.pcd").write_text(pcd_header(fields, 2, "ascii") + ascii_rows)
    for name in ("a.pcd", "b.pcd"):
        rgb = read_pcd(tmp_path / name).attributes["rgb"]
        assert rgb.tolist() == [[255, 0, 128], [0, 255, 1]]


def test_lzf_decompresses_overlapping_back_references() -> None:
    data = b"abcabcabcabcabcabcabcabc" * 20 + bytes(range(256)) * 3
    assert lzf_decompress(lzf_compress(data), len(data)) == data
    assert lzf_decompress(bytes([2]) + b"xyz", 3) == b"xyz"


def test_lzf_back_reference_before_the_start_is_corrupt_with_offset() -> None:
    with pytest.raises(CorruptFileError) as err:
        lzf_decompress(bytes([0, ord("a"), 0x20, 0x05]), 4, base=100)
    assert err.value.offset == 102


def test_lzf_block_of_the_wrong_length_is_corrupt() -> None:
    with pytest.raises(CorruptFileError, match="expected 5"):
        lzf_decompress(bytes([2]) + b"xyz", 5)


# ---------------------------------------------------------------- other formats


def _ply_header(fmt: str, n: int) -> bytes:
    return (
        f"ply\nformat {fmt} 1.0\ncomment made by a test\nelement vertex {n}\n"
        "property float x\nproperty float y\nproperty double z\nproperty float intensity\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        "property ushort scalar_ring\n"
        "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode()


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_vertex_element_round_trips_and_faces_are_ignored(tmp_path: Path, fmt: str) -> None:
    order = ">" if fmt == "binary_big_endian" else "<"
    dtype = np.dtype(
        [("x", order + "f4"), ("y", order + "f4"), ("z", order + "f8"), ("i", order + "f4")]
        + [("r", "u1"), ("g", "u1"), ("b", "u1"), ("ring", order + "u2")]
    )
    rng = np.random.default_rng(RNG_SEED)
    rec = np.zeros(20, dtype=dtype)
    for name in ("x", "y", "z", "i"):
        rec[name] = rng.uniform(-20, 20, 20)
    for name in ("r", "g", "b", "ring"):
        rec[name] = rng.integers(0, 255, 20)
    if fmt == "ascii":
        body = "".join(" ".join(repr(v.item()) for v in row) + "\n" for row in rec).encode()
        body += b"3 0 1 2\n"
    else:
        body = rec.tobytes() + b"\x03" + struct.pack(order + "3i", 0, 1, 2)
    path = tmp_path / "cloud.ply"
    path.write_bytes(_ply_header(fmt, 20) + body)
    cloud = read_cloud(path)
    expected = np.column_stack([rec["x"], rec["y"], rec["z"]]).astype(np.float64)
    assert np.array_equal(cloud.xyz, expected.astype(np.float32).astype(np.float64))
    assert np.array_equal(cloud.attributes["intensity"], rec["i"])
    assert (
        cloud.attributes["rgb"].tolist() == np.column_stack([rec["r"], rec["g"], rec["b"]]).tolist()
    )
    assert np.array_equal(cloud.attributes["ring"], rec["ring"])


def test_truncated_binary_ply_is_a_header_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "short.ply"
    path.write_bytes(_ply_header("binary_little_endian", 20) + bytes(40))
    with pytest.raises(HeaderMismatchError):
        read_cloud(path)


def test_npy_with_four_columns_gives_intensity_and_three_columns_gives_zeros(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(RNG_SEED)
    four = rng.uniform(-10, 10, (30, 4))
    np.save(tmp_path / "four.npy", four)
    np.save(tmp_path / "three.npy", four[:, :3].astype(np.float32))
    cloud = read_cloud(tmp_path / "four.npy")
    assert np.allclose(cloud.xyz, four[:, :3], atol=1e-5)
    assert np.array_equal(cloud.attributes["intensity"], four[:, 3].astype(np.float32))
    assert not read_cloud(tmp_path / "three.npy").attributes["intensity"].any()


def test_nuscenes_pcd_bin_is_read_as_five_columns_not_as_pcd_or_kitti(tmp_path: Path) -> None:
    rng = np.random.default_rng(RNG_SEED)
    data = rng.uniform(-30, 30, (40, 5)).astype(np.float32)
    data[:, 4] = np.arange(40) % 32
    data.tofile(tmp_path / "n008.pcd.bin")
    cloud = read_cloud(tmp_path / "n008.pcd.bin")
    assert len(cloud) == 40
    assert np.array_equal(cloud.xyz, data[:, :3].astype(np.float64))
    assert np.array_equal(cloud.attributes["ring"], (np.arange(40) % 32).astype(np.uint16))


def test_pcd_with_an_unknown_extension_is_recognised_by_content(tmp_path: Path) -> None:
    write_sample_pcd(tmp_path / "cloud.dat", sample_records(5), "binary")
    assert len(read_cloud(tmp_path / "cloud.dat")) == 5


# ---------------------------------------------------------------- bad files


def test_truncated_binary_pcd_is_a_header_mismatch_naming_the_sizes(tmp_path: Path) -> None:
    path = tmp_path / "short.pcd"
    write_sample_pcd(path, sample_records(10), "binary")
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(
        HeaderMismatchError, match=f"10 points, needing {10 * DTYPE.itemsize} bytes"
    ):
        read_cloud(path)


def test_absurd_pcd_point_count_fails_fast_without_allocating(tmp_path: Path) -> None:
    path = tmp_path / "huge.pcd"
    n = "1000000000000"
    path.write_bytes(pcd_header(FIELDS, 1, "binary", POINTS=n, WIDTH=n).encode() + bytes(64))
    with pytest.raises(TooLargeError):
        read_cloud(path)
    with pytest.raises(HeaderMismatchError):
        read_cloud(path, max_points=10**13)
    for data in ("ascii", "binary_compressed"):
        path.write_bytes(pcd_header(FIELDS, 1, data, POINTS=n, WIDTH=n).encode() + bytes(64))
        with pytest.raises(HeaderMismatchError):
            read_cloud(path, max_points=10**13)


def test_pcd_with_unknown_data_kind_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "odd.pcd"
    path.write_bytes(pcd_header(FIELDS, 1, "binary_zstd").encode() + bytes(64))
    with pytest.raises(UnsupportedFormatError, match="binary_zstd"):
        read_cloud(path)


def test_pcd_whose_sizes_disagree_with_fields_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcd"
    path.write_bytes(pcd_header(FIELDS, 1, "binary", SIZE="4 4 4").encode() + bytes(64))
    with pytest.raises(CorruptFileError, match="3 SIZE"):
        read_cloud(path)


def test_ascii_pcd_with_a_short_line_names_the_line(tmp_path: Path) -> None:
    fields = FIELDS[:3]
    path = tmp_path / "short.pcd"
    path.write_text(pcd_header(fields, 3, "ascii") + "1 2 3\n4 5\n7 8 9 10\n")
    with pytest.raises(HeaderMismatchError, match="line 2 has 2 values"):
        read_cloud(path)


def test_compressed_pcd_with_wrong_uncompressed_size_is_a_header_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "c.pcd"
    body = struct.pack("<II", 4, 999) + bytes([2]) + b"abc"
    path.write_bytes(pcd_header(FIELDS, 2, "binary_compressed").encode() + body)
    with pytest.raises(HeaderMismatchError, match="999 bytes") as err:
        read_cloud(path)
    assert err.value.offset is not None


def test_file_with_wrong_las_magic_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "bad.las"
    path.write_bytes(b"NOPE" + bytes(400))
    with pytest.raises(CorruptFileError):
        read_cloud(path)


def _tiny_las(path: Path, *, point_format: int = 3, version: str = "1.2") -> None:
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([500000.0, 4000000.0, 0.0])
    las = laspy.LasData(header)
    las.x = np.array([500000.5, 500001.25, 500002.0])
    las.y = np.array([4000000.5, 4000000.75, 4000001.0])
    las.z = np.array([10.0, 11.0, 12.5])
    las.classification = np.array([2, 5, 6], dtype=np.uint8)
    las.write(path)


def test_synthetic_las_positions_are_exact_with_a_near_offset(tmp_path: Path) -> None:
    path = tmp_path / "tiny.las"
    _tiny_las(path)
    cloud = read_cloud(path)
    assert (
        np.abs(
            cloud.xyz
            - [[500000.5, 4000000.5, 10], [500001.25, 4000000.75, 11], [500002, 4000001, 12.5]]
        ).max()
        < 1e-6
    )
    assert cloud.attributes["classification"].tolist() == [2, 5, 6]


def test_las_1_4_laz_keeps_extended_classes(tmp_path: Path) -> None:
    path = tmp_path / "tiny14.laz"
    _tiny_las(path, point_format=7, version="1.4")
    with laspy.open(path, mode="r") as reader:
        assert reader.header.are_points_compressed
    raw = laspy.read(path)
    raw.classification = np.array([2, 40, 200], dtype=np.uint8)
    raw.write(path)
    cloud = read_cloud(path)
    assert cloud.attributes["classification"].tolist() == [2, 40, 200]
    assert cloud.attributes["rgb"].shape == (3, 3)


def test_las_with_zero_scale_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "zero.las"
    _tiny_las(path)
    raw = bytearray(path.read_bytes())
    raw[131:139] = struct.pack("<d", 0.0)  # x scale factor in the LAS 1.2 header
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="scale"):
        read_cloud(path)


def test_truncated_las_is_a_header_mismatch_and_truncated_laz_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.las"
    _tiny_las(path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(HeaderMismatchError, match="header declares 3 points"):
        read_cloud(path)
    path = tmp_path / "cut.laz"
    rng = np.random.default_rng(RNG_SEED)
    las = laspy.LasData(laspy.LasHeader(point_format=1, version="1.2"))
    las.x, las.y, las.z = rng.uniform(0, 100, (3, 5000))
    las.write(path)
    path.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(CorruptFileError):
        read_cloud(path)


def test_kitti_nan_points_are_dropped_and_counted(tmp_path: Path) -> None:
    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    data[[1, 4], 2] = np.nan
    data[6, 0] = np.inf
    data.tofile(tmp_path / "nan.bin")
    cloud = read_cloud(tmp_path / "nan.bin")
    assert len(cloud) == 7 and cloud.dropped == 3
    assert np.array_equal(cloud.attributes["intensity"], np.delete(data[:, 3], [1, 4, 6]))


def test_cloud_without_finite_points_is_empty(tmp_path: Path) -> None:
    np.full((5, 4), np.nan, dtype=np.float32).tofile(tmp_path / "nan.bin")
    with pytest.raises(EmptyCloudError):
        read_cloud(tmp_path / "nan.bin")
    (tmp_path / "zero.pcd").write_text(pcd_header(FIELDS, 0, "binary"))
    with pytest.raises(EmptyCloudError):
        read_cloud(tmp_path / "zero.pcd")


def test_kitti_bin_that_is_not_whole_records_is_corrupt(tmp_path: Path) -> None:
    (tmp_path / "odd.bin").write_bytes(bytes(16 * 3 + 5))
    with pytest.raises(CorruptFileError) as err:
        read_cloud(tmp_path / "odd.bin")
    assert err.value.offset == 48


def test_max_points_limits_every_format(tmp_path: Path) -> None:
    np.zeros((10, 4), dtype=np.float32).tofile(tmp_path / "ten.bin")
    with pytest.raises(TooLargeError):
        read_cloud(tmp_path / "ten.bin", max_points=9)


def test_unsupported_extension_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "cloud.xyz").write_text("1 2 3\n")
    with pytest.raises(UnsupportedFormatError):
        read_cloud(tmp_path / "cloud.xyz")


# ---------------------------------------------------------------- sequences


def test_list_frames_prefers_lidar_subfolder_and_sorts_naturally(tmp_path: Path) -> None:
    (tmp_path / "lidar").mkdir()
    for name in ("frame10.pcd", "frame2.pcd", "frame1.pcd", ".hidden.pcd", "notes.txt"):
        (tmp_path / "lidar" / name).write_bytes(b"")
    (tmp_path / "top.pcd").write_bytes(b"")
    assert [p.name for p in list_frames(tmp_path)] == ["frame1.pcd", "frame2.pcd", "frame10.pcd"]
    assert list_frames(tmp_path / "top.pcd") == [tmp_path / "top.pcd"]


def test_list_frames_of_a_folder_without_clouds_is_unsupported(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(UnsupportedFormatError):
        list_frames(tmp_path)


def test_read_poses_keys_by_relative_file_and_returns_empty_without_file(tmp_path: Path) -> None:
    assert read_poses(tmp_path) == {}
    pose = np.eye(4)
    pose[:3, 3] = [1, 2, 3]
    frames = [
        {"frame": 0, "file": "lidar/000000.pcd", "timestamp": 0.1, "pose": pose.tolist()},
        {"frame": 1, "file": "./lidar/000001.pcd"},
    ]
    (tmp_path / "poses.json").write_text(json.dumps({"frames": frames}))
    poses = read_poses(tmp_path)
    assert poses["lidar/000000.pcd"][0] == 0.1
    assert np.array_equal(poses["lidar/000000.pcd"][1], pose)
    assert poses["lidar/000001.pcd"] == (None, None)


def test_read_poses_with_a_bad_matrix_is_corrupt(tmp_path: Path) -> None:
    frames = [{"frame": 0, "file": "a.pcd", "pose": [[1, 0], [0, 1]]}]
    (tmp_path / "poses.json").write_text(json.dumps({"frames": frames}))
    with pytest.raises(CorruptFileError, match="4x4"):
        read_poses(tmp_path)
