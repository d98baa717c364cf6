"""The API-differences table: declared next to the code, checked against it, one column per run."""

import pytest

from tale_of_two import api
from tale_of_two.experiment import available_frameworks, declared_variants

FAKE = """
import torch
class Plain:
    API = {"parameters": "`torch.zeros(2)`", "model": "none", "forward": "`w * x`", "loss": "`torch.mean(e)`",
           "gradients": "`e.backward()`", "update": "`w -= g`", "zero_grad": "none", "optimizer": "none",
           "training": "loop", "read": "`w.item()`"}
    def epoch(self):
        w, x, g = torch.zeros(2), 1, 0
        e = torch.mean(w * x)
        e.backward()
        w -= g
        return w.item()
class Fancy(Plain):
    API = {**Plain.API, "optimizer": "`torch.optim.Adam(params)`"}
VARIANTS = {"plain": Plain, "fancy": Fancy}
"""


@pytest.mark.parametrize("framework", available_frameworks())
def test_every_variant_declares_every_concept(framework):
    apis = api.declared_apis(framework)
    assert sorted(apis) == declared_variants(framework)
    for declaration in apis.values():
        assert set(declaration) == set(api.CONCEPTS)


@pytest.mark.parametrize("framework", available_frameworks())
def test_every_declared_name_is_used_by_the_module(framework):
    assert api.unreferenced_names(framework) == []


def test_a_name_the_module_does_not_use_is_caught(tmp_path):
    (tmp_path / "fake.py").write_text(FAKE)
    assert api.unreferenced_names("fake", tmp_path) == [
        "fake/fancy optimizer: torch.optim.Adam",
        "fake/fancy optimizer: params",
    ]


def test_inherited_declarations_and_one_column_per_run_in_order(tmp_path):
    (tmp_path / "fake.py").write_text(FAKE)
    table = api.api_table([("fake", "fancy"), ("fake", "plain")], tmp_path)
    assert list(table.columns) == ["fake/fancy", "fake/plain"]
    assert list(table.index) == list(api.CONCEPTS.values())
    assert table.loc["Loss", "fake/fancy"] == "`torch.mean(e)`"
    assert table.loc["Optimizer", "fake/plain"] == "none"


def test_missing_concept_is_named(tmp_path):
    (tmp_path / "bare.py").write_text("class A:\n    API = {'loss': 'x'}\nVARIANTS = {'a': A}\n")
    with pytest.raises(api.ApiError, match=r"A \(variant 'a'\) declares no API for \['parameters'"):
        api.declared_apis("bare", tmp_path)


def test_the_article_table_renders_as_markdown_and_html():
    runs = [
        ("torch", "scratch"),
        ("tensorflow", "scratch"),
        ("torch", "layers"),
        ("tensorflow", "layers"),
        ("tensorflow", "fit"),
    ]
    table = api.api_table(runs)
    markdown, page = api.to_markdown(table), api.to_html(table)
    assert "`loss.backward()`" in markdown and "`tf.GradientTape()`" in markdown
    assert "<code>nn.MSELoss()</code>" in page and "<th>tensorflow/fit</th>" in page
