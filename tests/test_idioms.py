"""Running an idiom: its outcome is what happened (works, warns, fails), with the message quoted."""

import logging
import warnings

import numpy as np
import pytest

from tale_of_two.fit import idioms

X = np.linspace(-1, 1, 8, dtype=np.float32)
Y = 0.5 * X + 0.1


def works(x, y):
    return idioms.went_down([2.0, 1.0])


def warns(x, y):
    warnings.warn("the  lr argument\n is deprecated", UserWarning, stacklevel=1)
    return idioms.went_down([2.0, 1.0])


def logs_a_warning(x, y):
    logging.getLogger("tensorflow").warning("`lr` is deprecated, use `learning_rate`")
    return idioms.went_down([2.0, 1.0])


def deprecated_inside_a_library(x, y):
    warnings.warn_explicit("old internals", DeprecationWarning, "site-packages/lib.py", 1)
    return idioms.went_down([2.0, 1.0])


def deprecated_in_the_idiom(x, y):
    warnings.warn("old call", DeprecationWarning, stacklevel=1)
    return idioms.went_down([2.0, 1.0])


def fails(x, y):
    raise ValueError("Argument(s) not recognized: {'lr': 0.001}")


def does_not_train(x, y):
    return idioms.went_down([1.0, 1.5])


def test_each_outcome_is_what_the_run_gave():
    assert idioms.run_one(works, X, Y) == {
        "outcome": "works",
        "warnings": [],
        "error": None,
        "evidence": {"first_loss": 2.0, "last_loss": 1.0},
    }
    warned = idioms.run_one(warns, X, Y)
    assert warned["outcome"] == "warns" and warned["warnings"] == ["UserWarning: the lr argument is deprecated"]
    logged = idioms.run_one(logs_a_warning, X, Y)
    assert logged["warnings"] == ["tensorflow WARNING: `lr` is deprecated, use `learning_rate`"]
    failed = idioms.run_one(fails, X, Y)
    assert failed["outcome"] == "fails" and failed["evidence"] is None
    assert failed["error"] == "ValueError: Argument(s) not recognized: {'lr': 0.001}"
    untrained = idioms.run_one(does_not_train, X, Y)
    assert untrained["outcome"] == "fails" and "the loss did not go down: 1 -> 1.5" in untrained["error"]


def test_deprecation_warnings_count_as_python_shows_them():
    # Hidden by default when raised inside a library, shown when the idiom's own code raises them.
    assert idioms.run_one(deprecated_inside_a_library, X, Y)["outcome"] == "works"
    assert idioms.run_one(deprecated_in_the_idiom, X, Y)["warnings"] == ["DeprecationWarning: old call"]


def test_quote_is_one_line_without_addresses_and_bounded():
    assert idioms.quote("a\n  b <object at 0x7f3a2b> c") == "a b <object> c"
    long = idioms.quote("x" * 1000)
    assert len(long) == idioms.MESSAGE_CHARS and long.endswith("...")


def test_run_idioms_runs_both_codes_of_every_idiom_after_a_warm_up():
    picked = [idioms.Idiom("toy", "torch", "`old`", "`new`", fails, works)]
    record = idioms.run_idioms(X, Y, picked)
    assert [(row["code"], row["outcome"]) for row in record["idioms"]] == [("then", "fails"), ("today", "works")]
    assert record["environment"]["torch"]["outcome"] == "works"  # torch imported and took a gradient
    assert "torch" in record["versions"]


@pytest.mark.parametrize(
    ("idiom", "then_outcome", "today_outcome", "error"),
    [
        ("keras.Model with raw tf.Variable attributes", "fails", "works", "not enough values to unpack"),
        ("SGD(lr=...)", "fails", "works", "Argument(s) not recognized: {'lr': 0.001}"),
        ("torch.autograd.Variable", "works", "works", None),
    ],
)
def test_today_s_frameworks_on_the_2020_idioms(idiom, then_outcome, today_outcome, error):
    """Keras 3 tracks no raw tf.Variable attribute and drops the lr alias; torch keeps Variable."""
    picked = [i for i in idioms.IDIOMS if i.name == idiom]
    rows = idioms.run_idioms(X, Y, picked)["idioms"]
    assert [row["outcome"] for row in rows] == [then_outcome, today_outcome]
    if error:
        assert error in rows[0]["error"]
