"""The documents: tools/doc_tables.py writes their measured tables from result files; every generated section is
as its generator wrote it, every relative link (file or #anchor) resolves, and the pages say what they claim."""

import json
import re
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, make_result

from tale_of_two.analysis import convergence, summary
from tale_of_two.fit import data

sys.path.insert(0, str(ROOT / "tools"))
import doc_tables  # noqa: E402

RUNS = ["torch/scratch", "jax/scratch", "tensorflow/fit", "keras_jax/fit", "keras_torch/fit"]
PAGE = "# Title\n\nBefore.\n\n<!-- doc_tables:{name}:start -->\nold table\n<!-- doc_tables:{name}:end -->\n\nAfter.\n"
# Relative suboptimality after each epoch of torch/scratch in `run_dir`: 1e-2 first reached at epoch 2,
# 1e-4 at epoch 4, 1e-6 at epoch 6 (each value half the threshold, clear of float rounding).
GAPS = [5e-2, 5e-3, 5e-4, 5e-5, 5e-6, 5e-7, 4e-7]


@pytest.fixture
def run_dir(tmp_path, spec, metadata, arrays):
    """What a finished run leaves: summary.csv, one JSON per run, the dataset, Snakemake's job benchmarks."""
    results = []
    for index, run in enumerate(RUNS):
        loss = "mae" if run.endswith("fit") else "mse"
        result = make_result(*run.split("/"), 0.1, 0.2 + index / 100, metadata["sha256"], loss_name=loss)
        result["environment"].update(machine="x86_64", cpu_count=2, platform="Linux-test", load_average=[index, 0, 0])
        result["finished_utc"] = f"2026-11-25T19:0{index}:00+00:00"
        results.append(result)
        bench = tmp_path / "benchmarks/train" / f"{run}.tsv"
        bench.parent.mkdir(parents=True, exist_ok=True)
        bench.write_text(f"s\th:m:s\n{10.0 + index}\t0:00:10\n")
    for index in (0, 2):  # torch/scratch and tensorflow/fit from their framework's own initialiser
        results[index]["settings"]["init"] = "framework"
    optimum = convergence.optimum_loss("mse", metadata, arrays["x"], arrays["y"])
    results[0]["loss_history"] = [optimum * (1 + gap) for gap in GAPS]
    results[0]["final_loss"] = results[0]["loss_history"][-1]
    results[0]["timings"]["epoch_times_s"] = [[0.25] * len(GAPS)]
    results[0]["settings"]["epochs"] = len(GAPS)
    for run, result in zip(RUNS, results, strict=True):
        path = tmp_path / "results/runs" / f"{run}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    summary.summarize(results, metadata, arrays["x"], arrays["y"]).to_csv(tmp_path / "results/summary.csv", index=False)
    (tmp_path / "results/data").mkdir()
    (tmp_path / "results/data/dataset.json").write_text(json.dumps(metadata))
    data.save_npz(tmp_path / "results/data/dataset.npz", arrays)
    return tmp_path


def table_rows(block: str) -> list[list[str]]:
    lines = [line for line in block.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def by_run(block: str) -> dict[str, dict[str, str]]:
    header, separator, *rows = table_rows(block)
    assert all(set(cell) == {"-"} for cell in separator) and len(separator) == len(header)
    assert all(len(row) == len(header) for row in rows)
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def tool(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools/doc_tables.py"), *args], capture_output=True, text=True)


# --- the generators, on hand-made result files ---------------------------------------------------------------


def test_runs_section_is_a_table_of_every_run_with_date_and_machine(run_dir):
    body = doc_tables.runs_section(run_dir)
    runs = by_run(body)
    assert list(runs) == RUNS  # the summary's order, JAX and Keras included
    assert runs["torch/scratch"]["start"] == "own initialiser" and runs["jax/scratch"]["start"] == "shared draw"
    assert runs["jax/scratch"]["ms per epoch, median [IQR]"] == "1 [0.9, 1.1]"
    assert (
        runs["keras_jax/fit"]["final loss"] == "0.2500 (MAE)" and runs["keras_torch/fit"]["training job, s"] == "14.0"
    )
    assert "2026-11-25 19:00 to 2026-11-25 19:04 UTC on Linux-test, x86_64, 2 CPUs, Python 3.11" in body
    assert "The 5 training jobs took 60 s together" in body
    # Only runs from the same start are compared: the two Keras fits (same losses, b 0.01 apart).
    assert "agree at every epoch: `fit` (keras_jax, keras_torch) to a relative 0.0e+00 in the loss and 1.0e-02" in body


def test_time_to_solution_section_gives_each_run_s_time_to_each_threshold(run_dir):
    body = doc_tables.time_to_solution_section(run_dir)
    runs = by_run(body)
    assert list(runs) == RUNS
    # 0.25 s an epoch: epoch 2 is 0.5 s, epoch 4 1 s, epoch 6 1.5 s.
    assert [runs["torch/scratch"][t] for t in ("1e-2", "1e-4", "1e-6")] == [
        "0.5 s (epoch 2)",
        "1 s (epoch 4)",
        "1.5 s (epoch 6)",
    ]
    assert runs["torch/scratch"]["best reached"] == "4.0e-07" and runs["torch/scratch"]["lr, epochs"] == "0.01, 7"
    assert runs["keras_jax/fit"]["loss"] == "MAE" and runs["keras_jax/fit"]["1e-2"] == "not reached"
    assert "Load average (1 min) as the runs started: 0.0 to 4.0" in body


def test_missing_inputs_are_named(run_dir):
    (run_dir / "results/data/dataset.npz").write_bytes(b"not a zip")
    with pytest.raises(doc_tables.TablesError, match=r"dataset\.npz: not a readable dataset"):
        doc_tables.time_to_solution_section(run_dir)
    (run_dir / "results/runs/keras_jax/fit.json").unlink()
    with pytest.raises(doc_tables.TablesError, match=r"keras_jax/fit\.json: missing, but .*summary\.csv has a row"):
        doc_tables.runs_section(run_dir)
    with pytest.raises(doc_tables.TablesError, match=r"summary\.csv: missing; run"):
        doc_tables.runs_section(run_dir / "elsewhere")


# --- the pages -----------------------------------------------------------------------------------------------


def test_sections_are_rewritten_between_their_markers_only_and_check_sees_drift(run_dir, tmp_path):
    pages = tmp_path / "repo"
    (pages / "docs").mkdir(parents=True)
    (pages / "README.md").write_text(PAGE.format(name="runs") + "\n" + PAGE.format(name="time_to_solution"))
    (pages / "docs/timing.md").write_text(PAGE.format(name="time_to_solution"))
    args = ("--root", str(run_dir), "--pages", str(pages))
    check = tool(*args, "--check")
    assert check.returncode == 1 and "README.md: its measured tables differ" in check.stderr
    assert tool(*args).returncode == 0
    readme, timing = (pages / "README.md").read_text(), (pages / "docs/timing.md").read_text()
    assert readme.startswith("# Title\n\nBefore.\n\n<!-- doc_tables:runs:start -->\n<!-- Generated by")
    assert "old table" not in readme + timing and "| keras_torch/fit | shared draw |" in readme
    assert timing.endswith("-->\n\nAfter.\n") and "| torch/scratch | MSE | 0.01, 7 | 0.5 s (epoch 2) |" in timing
    assert tool(*args, "--check").returncode == 0 and tool("--verify", "--pages", str(pages)).returncode == 0
    assert tool(*args).returncode == 0 and (pages / "README.md").read_text() == readme  # idempotent
    assert tool(*args, "bench").returncode == 2  # no such generator: argparse names it


def test_a_section_no_page_has_and_unpaired_markers_are_named(run_dir, tmp_path):
    (tmp_path / "README.md").write_text(PAGE.format(name="runs"))
    done = tool("--root", str(run_dir), "--pages", str(tmp_path), "time_to_solution")
    assert done.returncode == 2 and "no page has a section 'time_to_solution'" in done.stderr
    with pytest.raises(doc_tables.TablesError, match="page: 1 doc_tables markers, 0 whole sections"):
        doc_tables.sections("text\n<!-- doc_tables:runs:start -->\nno end\n")
    with pytest.raises(doc_tables.TablesError, match="section 'runs' ends with the end marker of 'bench'"):
        doc_tables.sections("<!-- doc_tables:runs:start -->\nx\n<!-- doc_tables:bench:end -->\n")


def test_verify_names_hand_edits_unknown_sections_and_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    body = "<!-- Generated -->\n| a |\n|---|\n| 1 |"
    sealed = doc_tables.render("runs", body)
    (tmp_path / "docs/a.md").write_text(
        '# A\n\n## Two words\n\n## Two words\n\n<a id="here"></a>\n\n'
        "[ok](../README.md#the-top) [dup](#two-words-1) [html](#here) [web](https://example.org/x)\n\n"
        "`[code](nowhere.md)`\n\n"
        "```\n[fenced](nowhere.md)\n```\n\n[ref]: ../README.md\n"
    )
    (tmp_path / "README.md").write_text(f"# The top\n\n[a](docs/a.md#two-words)\n\n{sealed}\n")
    assert doc_tables.seal_problems(tmp_path) == [] and doc_tables.broken_links(tmp_path) == []

    (tmp_path / "README.md").write_text(
        f"# The top\n\n[a](docs/a.md#three-words) [b](docs/b.md) [out](../../etc/passwd) [c](#top)\n\n"
        f"{sealed.replace('| 1 |', '| 2 |')}\n\n{doc_tables.render('bench', body)}\n"
    )
    links = doc_tables.broken_links(tmp_path)
    assert links == [
        "README.md: link 'docs/a.md#three-words': no heading #three-words in docs/a.md",
        "README.md: link 'docs/b.md': no file docs/b.md",
        "README.md: link '../../etc/passwd' leads out of the repository",
        "README.md: link '#top': no heading #top in README.md",
    ]
    seals = doc_tables.seal_problems(tmp_path)
    assert len(seals) == 2 and "section 'runs' differs from what its generator wrote" in seals[0]
    assert "section 'bench' names no generator (known: runs, time_to_solution)" in seals[1]
    done = tool("--verify", "--pages", str(tmp_path))
    assert done.returncode == 1 and done.stderr.count("doc_tables: ") == 6


def test_github_anchors():
    assert doc_tables.slug("What lands in `results/`") == "what-lands-in-results"
    assert (
        doc_tables.slug("`containers`: the images (`--use-singularity`)") == "containers-the-images---use-singularity"
    )
    assert doc_tables.slug("2020 idioms, run in [both](x.md) eras") == "2020-idioms-run-in-both-eras"


def test_every_page_is_as_its_generators_wrote_it_and_every_relative_link_resolves():
    names = {str(path.relative_to(ROOT)) for path in doc_tables.pages()}
    assert {"README.md", "config/README.md", "tests/README.md", "containers/README.md", "docs/contract.md"} <= names
    assert doc_tables.seal_problems() == []
    assert doc_tables.broken_links() == []


def skeleton(body: str) -> list[str]:
    """A section's form without its numbers: table headers and separators, each run of data rows as its
    width, and the first three words of every other line (a word with a digit as #)."""
    form: list[str] = []
    for line in body.splitlines():
        if line.startswith("|"):
            previous = form[-1] if form else ""
            if set(line) <= set("|-: ") or not previous.startswith("|"):
                form.append(line)  # a separator, or the header above it
            elif not previous.startswith("| rows of"):
                form.append(f"| rows of {line.count('|') - 1} cells |")
        elif line.strip():
            form.append(" ".join("#" if re.search(r"\d", word) else word for word in line.split()[:3]))
    return form


@pytest.mark.e2e
def test_every_section_has_the_form_its_generator_gives_on_a_real_run(tiny_run):
    """The pages describe other runs than the tests' tiny one; their form must still be what the generator
    writes today, so a changed generator fails here until the pages are regenerated."""
    found = set()
    for path in doc_tables.pages():
        for section in doc_tables.sections(path.read_text(), str(path)):
            assert skeleton(section.body) == skeleton(doc_tables.GENERATORS[section.name](tiny_run)), path
            found.add(section.name)
    assert found == set(doc_tables.GENERATORS)  # every generator writes a section of some page


def configured_runs(*files: str) -> list[str]:
    """framework/variant of every run, the config files merged key by key as Snakemake merges them."""
    runs: dict = {}
    for file in files:
        for framework, variants in yaml.safe_load((ROOT / file).read_text())["runs"].items():
            runs.setdefault(framework, {}).update(variants)
    return [f"{framework}/{variant}" for framework, variants in runs.items() for variant in variants]


@pytest.mark.parametrize(
    "name, configs",
    [("runs", ["config/config.yaml"]), ("time_to_solution", ["config/config.yaml", "config/converged.yaml"])],
)
def test_each_section_lists_exactly_the_runs_of_the_config_it_describes(name, configs):
    bodies = [s.body for path in doc_tables.pages() for s in doc_tables.sections(path.read_text()) if s.name == name]
    assert bodies
    for body in bodies:
        assert sorted(by_run(body)) == sorted(configured_runs(*configs))  # in the pipeline's order
        assert re.search(r"Runs finished \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC on .*, \d+ CPUs", body)


# --- what the pages claim ------------------------------------------------------------------------------------


def schema_keys(node: dict, prefix: str, definitions: dict) -> list[str]:
    """Every key the schema allows, dotted; the top-level `training` block's keys are those of its definition
    (under `bench.training` and `then.training` the same keys are overrides, explained with `training`)."""
    keys = []
    for name, value in node.get("properties", {}).items():
        key = prefix + name
        keys.append(key)
        references = [value.get("$ref"), *(part.get("$ref") for part in value.get("allOf", []))]
        if not prefix and "#/definitions/training" in references:
            keys += schema_keys(definitions["training"], f"{key}.", definitions)
        elif value.get("type") == "object" and "properties" in value:
            keys += schema_keys(value, f"{key}.", definitions)
    return keys


def test_config_readme_explains_every_key_of_the_schema():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    keys = schema_keys(schema, "", schema["definitions"])
    assert {"dataset.n", "training.lr", "bench.training", "then.python", "profile.epochs"} <= set(keys)
    text = (ROOT / "config/README.md").read_text()
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)*)`", text))
    missing = [key for key in keys if key not in documented]
    assert not missing, f"config/README.md does not explain: {missing}"


def test_the_readme_is_a_short_front_door_with_the_two_commands_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "./setup.sh && .venv/bin/snakemake --cores 2 " in readme
    assert "./setup.sh --tests && .venv/bin/python -m pytest " in readme
    ci = (ROOT / ".ci/run").read_text().splitlines()
    assert "./setup.sh --tests && .venv/bin/python -m pytest" in ci


def test_tests_readme_names_every_test_file():
    text = (ROOT / "tests/README.md").read_text()
    files = sorted(p.relative_to(ROOT / "tests") for p in (ROOT / "tests").glob("test_*.py"))
    assert files and not [str(f) for f in files if f"({f})" not in text]
    for stage in ("containers", "slurm", "then"):
        assert f"({stage})" in text and f"(../.ci/{stage}.sh)" in text
