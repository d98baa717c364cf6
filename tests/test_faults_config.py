"""Configs, fuzzed: the default config mutated a thousand ways, each checked by `check_config`, the code path
Snakemake runs before any job starts (workflow/rules/common.smk). Every config is either accepted and resolves
to valid settings for every run, or rejected with a `ConfigError` whose message names a key it changed.
Anything else (another exception, an unnamed message, an invalid setting let through) fails the test.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections import Counter

import numpy as np
import pytest
import yaml
from conftest import ROOT, snakemake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snakemake.utils import update_config

from tale_of_two.config import FLOAT32_MAX, ConfigError, check_config, declared_variants
from tale_of_two.fit import data
from tale_of_two.fit.harness import Settings

pytestmark = pytest.mark.faults

DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())
EXAMPLES = int(__import__("os").environ.get("FUZZ_EXAMPLES", 1000))
COUNTS: Counter = Counter()

# --- what goes wrong in a config -------------------------------------------------------------------------------

NAMES = st.one_of(
    st.sampled_from(["torch", "numpy", "jax", "tensorflow", "scratch", "layers", "fit", "_keras", "harness"]),
    st.sampled_from(["", " ", "torch\n", "../torch", "a/b", "/etc/passwd", "x;rm -rf", "Torch", "tørch", "名前"]),
    st.sampled_from(["lr", "epochs", "n", "runs", "training", "sizes", "eras", "1", "null", "true"]),
    st.text(min_size=0, max_size=12),
    st.integers(-3, 3),  # YAML reads `1:` as an int key
    st.just(None),  # and `null:` (or `~:`) as None
    st.booleans(),  # and `on:` / `yes:` as True
)
NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2, 5, 200, 201, 10**6, 10**30, -(10**30), 2**63]),
    st.sampled_from([0.0, -0.0, 0.5, -1.5, 2.0, 500.0, 1e-320, 1e38, 3.5e38, 1e300, -1e308, 1.7976931348623157e308]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e39, -1e39, 1e300, 1e-320, -1, 0, 2.0, 2**32, 2**63, True])
SETTING_NAMES = [field.name for field in dataclasses.fields(Settings)]
SETTINGS_BLOCKS = [("training",), ("runs", "torch", "scratch"), ("runs", "numpy", "scratch"), ("bench", "training")]
SETTINGS_BLOCKS += [("eras", "training"), ("bench", "runs", "numpy", "scratch"), ("bench", "nondeterministic", "jax")]
SCALARS = st.one_of(NUMBERS, st.booleans(), st.none(), st.text(max_size=8), NAMES)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=6), SCALARS, max_size=2),
    st.builds(dict),  # a new one each time: st.just({}) would hand out one dict, shared and changed
    st.builds(list),
)


def paths(node, prefix=()):
    """Every key path in the config tree (dict keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def parent_of(config, path):
    node = config
    for part in path[:-1]:
        node = node[part]
    return node


def named(path) -> list:
    """The key a message may name for a change at `path`: the last key (for a list item, the list's)."""
    keys = [part for part in path if not isinstance(part, int)]
    return keys[-1:]


@st.composite
def mutated(draw):
    """The default config with one to three changes; returns it and the key names each change touched."""
    config = copy.deepcopy(DEFAULT)
    touched = []
    for _ in range(draw(st.integers(1, 3))):
        tree = paths(config)
        if not tree:
            break
        kind = draw(
            st.sampled_from(
                ["drop", "add", "replace", "rename", "batch_above_n", "warmup_at_epochs", "era_unknown", "nest"]
                + ["number"] * 3  # numbers are where most values are
                + ["setting"] * 3  # and any training key, set where a run's settings come from
            )
        )
        if kind == "batch_above_n":
            n = config.get("dataset", {}).get("n", 200) if isinstance(config.get("dataset"), dict) else 200
            where = draw(st.sampled_from([("training",), ("runs", "torch", "scratch"), ("eras", "training")]))
            value = (n if isinstance(n, int) else 200) + draw(st.integers(1, 10**6))
            path = (*where, "batch_size")
        elif kind == "warmup_at_epochs":
            where = draw(st.sampled_from([("training",), ("runs", "jax", "layers"), ("bench", "training")]))
            epochs = draw(st.integers(1, 2000))
            path, value = (*where, "warmup_epochs"), epochs + draw(st.integers(0, 3))
            if set_at(config, (*where, "epochs"), epochs):
                touched.append(["epochs", "warmup_epochs"])
        elif kind == "era_unknown":
            run = draw(st.sampled_from(["jax/fit", "numpy/layers", "mxnet/scratch", "torch/", "/scratch", "torch"]))
            path, value = ("eras", "runs", draw(st.integers(0, 5))), run
        elif kind == "drop":
            path = draw(st.sampled_from(tree))
            parent = parent_of(config, path)
            parent.pop(path[-1]) if isinstance(parent, dict) else parent.pop(path[-1])
            keys = [part for part in path if not isinstance(part, int)]
            touched.append(keys[-2:])  # the key, or the block it left empty or incomplete
            continue
        elif kind == "add":
            dicts = [p for p in [(), *tree] if isinstance(get(config, p), dict)]
            where = draw(st.sampled_from(dicts))
            path, value = (*where, draw(NAMES)), draw(VALUES)
            if set_at(config, path, value):
                touched.append([path[-1], *named(where)])  # the new key, or the block it does not belong in
            continue
        elif kind == "rename":
            dicts = [p for p in tree if isinstance(get(config, p), dict) and get(config, p)]
            if not dicts:
                continue
            where = draw(st.sampled_from(dicts))
            old = draw(st.sampled_from(sorted(get(config, where), key=str)))
            new = draw(NAMES)
            node = get(config, where)
            node[new] = node.pop(old)
            touched.append([old, new])
            continue
        elif kind == "number":  # a number's place: NaN, infinite, huge, negative, integral float, bool, text
            numeric = [p for p in tree if is_number(get(config, p))] or tree
            path, value = draw(st.sampled_from(numeric)), draw(st.one_of(NUMBERS, NUMBERS, SCALARS))
        elif kind == "setting":
            where = draw(st.sampled_from(SETTINGS_BLOCKS))
            path = (*where, draw(st.sampled_from(SETTING_NAMES)))
            value = draw(st.one_of(SPECIAL, SPECIAL, NUMBERS, SCALARS))
        elif kind == "nest":  # a whole block of the wrong shape: a list, a scalar, null
            path, value = draw(st.sampled_from(tree)), draw(st.one_of(SCALARS, st.lists(SCALARS, max_size=2)))
        else:
            path, value = draw(st.sampled_from(tree)), draw(VALUES)
        if set_at(config, path, value):
            touched.append(named(path))
    return config, touched


def get(config, path):
    node = config
    for part in path:
        node = node[part]
    return node


def set_at(config, path, value) -> bool:
    """Set `value` at `path`, making missing dicts on the way; False where the path runs through a non-dict."""
    node = config
    for part in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    last, value = path[-1], copy.deepcopy(value)  # never one object in two places (or inside itself)
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int):
        if last < len(node):
            node[last] = value
        else:
            node.append(value)
    else:
        return False
    return True


# --- what an accepted config must resolve to -------------------------------------------------------------------


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value) -> bool:
    return (isinstance(value, float) or is_int(value)) and math.isfinite(value)


def assert_valid_settings(values: dict, n: int, framework: str, variant: str) -> None:
    assert variant in declared_variants(framework)
    assert set(values) == {field.name for field in dataclasses.fields(Settings)}
    s = Settings(**values)
    assert is_real(s.lr) and s.lr > 0
    assert is_int(s.epochs) and s.epochs >= 1
    assert is_int(s.warmup_epochs) and 0 <= s.warmup_epochs < s.epochs
    assert s.batch_size is None or (is_int(s.batch_size) and 1 <= s.batch_size <= n)
    assert s.init in ("uniform", "framework")
    assert is_real(s.init_low) and is_real(s.init_high) and s.init_low < s.init_high
    assert is_int(s.seed) and 0 <= s.seed < 2**32  # every framework's seed takes 32 bits
    assert 0 < np.float32(s.lr) < np.inf  # the step size every float32 framework takes
    assert s.device in ("auto", "cpu", "cuda") and s.device_fallback in ("cpu", None)
    assert is_int(s.threads) and 1 <= s.threads <= 1024 and is_int(s.repeats) and s.repeats >= 1
    assert isinstance(s.deterministic, bool)
    if s.init == "uniform":
        assert all(math.isfinite(v) for v in s.initial_parameters())  # the float32 start every framework takes
    assert sum(part.stop - part.start for part in s.batches(n)) == n


def assert_valid_dataset(values: dict) -> None:
    spec = data.DatasetSpec(**values)
    assert is_int(spec.n) and spec.n >= 2 and is_int(spec.seed) and 0 <= spec.seed < 2**32 and spec.dtype == "float32"
    assert all(is_real(v) for v in (spec.w_true, spec.b_true, spec.x_low, spec.x_high, spec.noise_std))
    assert spec.x_low < spec.x_high and spec.noise_std >= 0
    small = dataclasses.replace(spec, n=min(spec.n, 1000))  # the same recipe, at most 1000 points drawn here
    arrays = data.generate(small)
    assert all(np.isfinite(a).all() for a in arrays.values())
    assert max(abs(spec.x_low), abs(spec.x_high)) <= FLOAT32_MAX


def names_a_touched_key(message: str, touched: list) -> bool:
    for names in touched:
        for name in names:
            if name == "" and "''" in message:  # an empty key, quoted
                return True
            if not isinstance(name, str) or name == "":
                continue
            for form in {name, repr(name)[1:-1]}:
                if re.search(rf"(?<![A-Za-z0-9_]){re.escape(form)}(?![A-Za-z0-9_])", message):
                    return True
        if any(not isinstance(name, str) and repr(name) in message for name in names):
            return True
    return False


# derandomize: the same 1000 configs in every run, so that CI's stage takes the time measured for it (a random run
# once spent over 10 minutes in one example; not yet found which: see the note).
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_every_fuzzed_config_is_resolved_to_valid_settings_or_rejected_naming_the_key(case):
    config, touched = case
    COUNTS["tried"] += 1
    try:
        resolved = check_config(config)
    except ConfigError as error:
        message = str(error)
        assert names_a_touched_key(message, touched), f"the message names no changed key {touched}: {message}"
        assert "Traceback" not in message
        COUNTS["rejected"] += 1
        return
    COUNTS["accepted"] += 1
    assert resolved.runs, "a config with no run was accepted"
    assert_valid_dataset(resolved.dataset)
    n = resolved.dataset["n"]
    for (framework, variant), values in {**resolved.runs, **resolved.era_runs}.items():
        assert_valid_settings(values, n, framework, variant)
    for (size, _, framework), variants in resolved.bench_jobs.items():
        assert_valid_dataset({**resolved.dataset, "n": size})
        for variant, values in variants.items():
            assert_valid_settings(values, size, framework, variant)


def test_print_fuzzed_config_counts():
    """The figures docs/faults.md states (tools/faults_table.py reads this line from the test output)."""
    assert COUNTS["tried"] >= EXAMPLES, "run with the fuzz test above, in the same process (pytest -n 0)"
    assert COUNTS["tried"] == COUNTS["accepted"] + COUNTS["rejected"]
    print(f"\nFAULTS configs: tried {COUNTS['tried']}, rejected {COUNTS['rejected']}, lost 0", flush=True)


# --- a sample through the real command line ----------------------------------------------------------------------

CLI_SAMPLE = 20


@settings(max_examples=CLI_SAMPLE, deadline=None, database=None, derandomize=True)
@given(mutated())
def test_a_sample_through_the_real_command_line_stops_before_any_job(tmp_path_factory, case):
    config, touched = case
    workdir = tmp_path_factory.mktemp("cli")
    # Snakemake merges a --configfile over config/config.yaml, key by key: the config it checks is the merge.
    merged = copy.deepcopy(DEFAULT)
    update_config(merged, copy.deepcopy(config))
    try:
        check_config(merged)
        expected = None
    except ConfigError as error:
        expected = str(error)
    path = workdir / "fuzzed.yaml"
    path.write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    )  # in order: the first error is the same
    args = ["--configfile", str(path), "--cores", "1"] + ([] if expected else ["-n"])
    done = snakemake(workdir, *args, check=False)
    output = done.stdout + done.stderr
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()
    COUNTS["cli"] += 1
    if expected is None:
        assert done.returncode == 0, output[-3000:]
    else:
        COUNTS["cli_rejected"] += 1
        assert done.returncode != 0 and f"config: {expected}" in output, output[-3000:]


def test_print_command_line_counts():
    assert COUNTS["cli"] >= CLI_SAMPLE, "run with the command-line test above, in the same process (pytest -n 0)"
    print(f"\nFAULTS configs via the CLI: tried {COUNTS['cli']}, rejected {COUNTS['cli_rejected']}, lost 0", flush=True)
