"""Rule `dataset`: deterministic data, right optima, safe and checked loading."""

import hashlib
import os
import stat
import zipfile

import numpy as np
import pytest

from tale_of_two.analysis import optima
from tale_of_two.fit import data


def test_same_spec_gives_identical_arrays_and_a_different_seed_does_not(spec):
    first, second = data.generate(spec), data.generate(spec)
    assert all(np.array_equal(first[k], second[k]) for k in data.ARRAY_NAMES)
    other = data.generate(data.DatasetSpec(n=spec.n, seed=spec.seed + 1))
    assert not np.array_equal(first["x"], other["x"])


def test_article_defaults_shape_range_and_dtype():
    arrays = data.generate(data.DatasetSpec())
    assert arrays["x"].shape == arrays["y"].shape == (200,)
    assert arrays["x"].dtype == arrays["y"].dtype == np.float32
    assert -10 <= arrays["x"].min() and arrays["x"].max() <= 10
    residual = arrays["y"] - (0.1 * arrays["x"] + 0.3)
    assert abs(residual.std() - 0.15) < 0.03  # the noise is N(0, 0.15)


def test_saved_file_is_byte_identical_across_writes(tmp_path, arrays):
    data.save_npz(tmp_path / "a.npz", arrays)
    data.save_npz(tmp_path / "b.npz", arrays)
    digest = [hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in ("a.npz", "b.npz")]
    assert digest[0] == digest[1]
    assert list(tmp_path.iterdir()) and not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_ols_matches_numpy_polyfit(arrays):
    w, b = data.ols(arrays["x"], arrays["y"])
    expected_w, expected_b = np.polyfit(arrays["x"].astype(float), arrays["y"].astype(float), 1)
    assert w == pytest.approx(expected_w, abs=1e-12) and b == pytest.approx(expected_b, abs=1e-12)


def test_lad_fits_exact_points_through_outliers():
    x = np.linspace(-5, 5, 41)
    y = 2.0 * x - 1.0
    y[[3, 17, 30]] += [40.0, -25.0, 60.0]  # a few gross outliers pull OLS away, not LAD
    w, b = optima.lad(x, y)
    assert (w, b) == (pytest.approx(2.0, abs=1e-9), pytest.approx(-1.0, abs=1e-9))
    assert abs(data.ols(x, y)[1] + 1.0) > 0.5


def test_lad_has_the_lowest_mean_absolute_error(arrays):
    x, y = arrays["x"].astype(float), arrays["y"].astype(float)
    w, b = optima.lad(x, y)
    best = np.mean(np.abs(y - (w * x + b)))
    for dw, db in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:
        assert best <= np.mean(np.abs(y - ((w + dw) * x + b + db))) + 1e-12


def test_metadata_records_parameters_checksum_and_optima(spec, arrays, metadata):
    assert metadata["sha256"] == data.arrays_sha256(arrays)
    assert metadata["true"] == {"w": spec.w_true, "b": spec.b_true}
    assert metadata["ols"]["w"] == pytest.approx(data.ols(arrays["x"], arrays["y"])[0])
    assert metadata["spec"]["seed"] == spec.seed and metadata["n"] == spec.n


def test_recorded_optimal_losses_are_those_of_their_lines_on_the_data(metadata, arrays):
    """dataset.json's `ols.mse` and `lad.mae` (losses.png's reference lines) recomputed from its own lines on the
    data, in float64: equal (measured; 1e-12 relative leaves room for another order of summation). The MAE of
    the OLS line, or the MSE of the LAD line, is off by 5.6e-4 and 2.7e-4 relative on these data."""
    x, y = arrays["x"].astype(np.float64), arrays["y"].astype(np.float64)
    residual = {name: y - (metadata[name]["w"] * x + metadata[name]["b"]) for name in ("ols", "lad")}
    assert metadata["ols"]["mse"] == pytest.approx(np.mean(residual["ols"] ** 2), rel=1e-12)
    assert metadata["lad"]["mae"] == pytest.approx(np.mean(np.abs(residual["lad"])), rel=1e-12)


def test_checksum_changes_with_a_single_value(arrays):
    changed = {k: v.copy() for k, v in arrays.items()}
    changed["y"][5] = np.nextafter(changed["y"][5], np.float32(np.inf))
    assert data.arrays_sha256(changed) != data.arrays_sha256(arrays)


def test_load_round_trips_and_checks_the_checksum(tmp_path, arrays):
    path = tmp_path / "d.npz"
    data.save_npz(path, arrays)
    loaded = data.load(path, expected_sha256=data.arrays_sha256(arrays))
    assert np.array_equal(loaded["y"], arrays["y"])
    with pytest.raises(data.DatasetError, match="does not match its metadata"):
        data.load(path, expected_sha256="0" * 64)


def test_truncated_file_is_named_as_unreadable(tmp_path, arrays):
    path = tmp_path / "d.npz"
    data.save_npz(path, arrays)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(data.DatasetError, match=r"d\.npz: not a readable dataset"):
        data.load(path)


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    objects = np.array([{"a": 1}] * 3, dtype=object)
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("x", "y"):
            with archive.open(f"{name}.npy", "w") as handle:
                np.lib.format.write_array(handle, objects, allow_pickle=True)
    with pytest.raises(data.DatasetError, match="not a readable dataset"):
        data.load(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(data.DatasetError, match="not found"):
        data.load(tmp_path / "nope.npz")


def test_written_files_get_the_usual_permissions(tmp_path, arrays):
    data.save_npz(tmp_path / "d.npz", arrays)
    data.atomic_write_json(tmp_path / "d.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    for name in ("d.npz", "d.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def test_load_dataset_reads_the_metadata_then_the_arrays_it_vouches_for(tmp_path, arrays, metadata):
    arrays_path, metadata_path = tmp_path / "d.npz", tmp_path / "d.json"
    data.save_npz(arrays_path, arrays)
    data.atomic_write_json(metadata_path, metadata)
    read, loaded = data.load_dataset(arrays_path, metadata_path)
    assert read == {**metadata, "content_sha256": read["content_sha256"]}  # as written, with the writer's seal
    assert np.array_equal(loaded["x"], arrays["x"])

    data.atomic_write_json(metadata_path, {**metadata, "sha256": "0" * 64})
    with pytest.raises(data.DatasetError, match="does not match its metadata"):
        data.load_dataset(arrays_path, metadata_path)
    metadata_path.write_text("{")
    with pytest.raises(data.DatasetError, match=r"d\.json: not valid JSON"):
        data.load_dataset(arrays_path, metadata_path)
    data.atomic_write_json(metadata_path, {"spec": {}})
    with pytest.raises(data.DatasetError, match=r"d\.json: not dataset metadata: needs `sha256`"):
        data.load_dataset(arrays_path, metadata_path)
    with pytest.raises(data.DatasetError, match=r"nope\.json: file not found"):
        data.load_dataset(arrays_path, tmp_path / "nope.json")


def test_a_noise_of_negative_zero_is_no_noise():
    # The schema's `minimum: 0` admits -0.0, which numpy's normal rejects ("scale < 0"); the config fuzzer found it.
    quiet = data.generate(data.DatasetSpec(n=50, noise_std=0.0))
    signed = data.generate(data.DatasetSpec(n=50, noise_std=-0.0))
    assert all(np.array_equal(quiet[key], signed[key]) for key in ("x", "y"))
