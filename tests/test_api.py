"""The API-differences table and the code listings: read from each variant's own code, one column per run."""

import pytest

from tale_of_two.analysis import api
from tale_of_two.config import available_frameworks, declared_variants

FAKE = """
import torch
from tale_of_two.fit.frameworks._fake_helpers import Shared


def unrelated():
    return torch.ones(1)  # api: loss


def hand_loss(e):
    return torch.mean(e)  # api: loss: hand-written


class Plain:
    # api: zero_grad: none
    # api: model: none
    # api: optimizer: none
    def __init__(self):
        self.w = torch.zeros(  # api: parameters
            2
        )

    def train(self, epochs, callback):
        for epoch in range(epochs):  # api: training
            e = hand_loss(self.w * 2)  # api: forward
            e.backward()  # api: gradients
            self.w -= 0.1  # api: update
            callback(e)

    def parameters(self):
        return self.w.item()  # api: read


class Fancy(Plain):
    def __init__(self):
        super().__init__()
        self.optimizer = torch.optim.Adam([self.w])  # api: optimizer


VARIANTS = {"plain": Plain, "fancy": Fancy, "shared": Shared}
"""
HELPERS = """
class Shared:
    # api: parameters: in a helper module
    # api: model: none
    # api: forward: none
    # api: loss: none
    # api: gradients: none
    # api: update: none
    # api: zero_grad: none
    # api: optimizer: none
    # api: training: none
    # api: article: the article had no helper module
    def parameters(self):
        return 1.0  # api: read
"""


@pytest.fixture
def fake(tmp_path):
    (tmp_path / "fake.py").write_text(FAKE)
    (tmp_path / "_fake_helpers.py").write_text(HELPERS)
    return tmp_path


@pytest.mark.parametrize("framework", available_frameworks())
def test_every_variant_tags_every_concept_in_its_own_code(framework):
    table = api.api_table([(framework, variant) for variant in declared_variants(framework)])
    assert table.notna().all().all()


def test_cells_are_the_tagged_lines_of_the_variant_s_own_code(fake):
    table = api.api_table([("fake", "fancy"), ("fake", "plain"), ("fake", "shared")], fake)
    assert list(table.columns) == ["fake/fancy", "fake/plain", "fake/shared"]
    assert list(table.index) == list(api.CONCEPTS.values())
    plain = table["fake/plain"]
    # The loss tag of `unrelated` is in the module but not in anything Plain uses.
    assert plain["Loss"] == "`return torch.mean(e)` (hand-written)"
    assert plain["Declaring parameters"] == "`self.w = torch.zeros(2)`"  # a statement over several lines, whole
    assert plain["Training loop"] == "`for epoch in range(epochs)`"  # a compound statement: its header
    assert plain["Zeroing gradients"] == "none"
    assert plain["Differs from the article"] == "no"
    assert table.loc["Optimizer", "fake/fancy"] == "`self.optimizer = torch.optim.Adam([self.w])`"
    assert table.loc["Reading fitted parameters", "fake/fancy"] == "`return self.w.item()`"  # from its base class
    assert table.loc["Declaring parameters", "fake/shared"] == "in a helper module"  # followed across the import
    assert table.loc["Differs from the article", "fake/shared"] == "the article had no helper module"


def test_an_untagged_concept_is_named(fake):
    (fake / "bare.py").write_text("class A:\n    x = 1  # api: loss\nVARIANTS = {'a': A}\n")
    with pytest.raises(api.ApiError, match=r"bare/a: no `# api:` tag in its code for \['parameters'"):
        api.api_table([("bare", "a")], fake)


def test_a_tag_that_is_not_on_a_statement_s_first_line_is_refused(fake):
    (fake / "late.py").write_text("class A:\n    x = [\n        1,\n    ]  # api: loss\nVARIANTS = {'a': A}\n")
    with pytest.raises(api.ApiError, match="late.py:4: `# api: loss` tags a line where no statement starts"):
        api.api_table([("late", "a")], fake)


def test_a_with_tag_shows_the_innermost_enclosing_with_header_with_the_line(fake):
    others = "".join(
        f"    # api: {concept}: none\n" for concept in api.CONCEPTS if concept not in ("update", "gradients", "loss")
    )
    code = (
        "class A:\n"
        f"{others}"
        "    def step(self):\n"
        "        with outer():\n"
        "            with torch.no_grad():  # a comment, not shown\n"
        "                for p in ps:\n"
        "                    p -= 1  # api[with]: update\n"
        "                q = 2  # api[with]: gradients\n"
        "        x = 1  # api[with]: loss\n"
    )
    (fake / "nested.py").write_text(code + "VARIANTS = {'a': A}\n")
    with pytest.raises(
        api.ApiError,
        match=rf"nested.py:{8 + len(api.CONCEPTS) - 3}: `# api\[with\]: loss` tags a line in no `with` block",
    ):
        api.Source(fake).api("nested", "a")
    (fake / "nested.py").write_text(
        code.replace("x = 1", "with open(f) as g:\n            x = 1") + "VARIANTS = {'a': A}\n"
    )
    cells = api.Source(fake).api("nested", "a")
    assert cells["update"] == "`with torch.no_grad(): ... p -= 1`"  # a `for` in between: elided
    assert cells["gradients"] == "`with torch.no_grad(): ... q = 2`"  # the block's second statement
    assert cells["loss"] == "`with open(f) as g: x = 1`"  # its first


def test_the_torch_scratch_update_shows_it_runs_under_no_grad():
    cell = api.api_table([("torch", "scratch")]).loc["Applying an update", "torch/scratch"]
    assert cell == "`with torch.no_grad(): ... param -= self.lr * param.grad`"


def test_an_unknown_concept_is_named(fake):
    (fake / "typo.py").write_text("class A:\n    x = 1  # api: los\nVARIANTS = {'a': A}\n")
    with pytest.raises(api.ApiError, match="unknown API concept 'los'"):
        api.api_table([("typo", "a")], fake)


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
    assert "`loss.backward()`" in markdown and "`with tf.GradientTape() as tape`" in markdown
    assert "<code>self.loss_fn = nn.MSELoss()</code>" in page and "<th>tensorflow/fit</th>" in page


def test_listings_hold_the_variant_s_code_and_only_that(fake):
    styles = api.code_listings([("fake", "fancy"), ("fake", "plain")], fake)
    (fancy,) = styles["fancy"]
    assert fancy["files"] == ["fake.py"]
    assert "class Fancy(Plain):" in fancy["code"] and "class Plain:" in fancy["code"]  # its base, in full
    assert "def hand_loss(e):" in fancy["code"] and "def unrelated" not in fancy["code"]


def test_runs_of_the_same_code_share_one_listing():
    styles = api.code_listings([("tensorflow", "fit"), ("keras_jax", "fit"), ("torch", "scratch"), ("jax", "scratch")])
    assert [listing["runs"] for listing in styles["fit"]] == [["tensorflow/fit", "keras_jax/fit"]]
    assert [listing["runs"] for listing in styles["scratch"]] == [["torch/scratch"], ["jax/scratch"]]
    (fit,) = styles["fit"]
    assert "self.model.fit(" in fit["code"] and fit["files"] == ["_keras_fit.py"]
    page = api.code_html(styles)
    assert page.count("class='style'") == 2 and page.count("<section") == 3  # a tab per listing, by style
    assert '<span class="n">loss</span><span class="o">.</span><span class="n">backward</span>' in page
    assert "## scratch" in api.code_markdown(styles)
