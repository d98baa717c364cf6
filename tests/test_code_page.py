"""results/code.html: every run's code highlighted, one tab per listing, lines of 100 characters unscrolled."""

import re

from conftest import chromium, headless

from tale_of_two.analysis import api

# After load, the page records in its <body> how many of the visible listings scroll sideways.
MEASURE = (
    "<script>window.onload=()=>{const shown=[...document.querySelectorAll('pre')].filter(p=>p.offsetParent);"
    "document.body.dataset.shown=shown.length;"
    "document.body.dataset.scrolling=shown.filter(p=>p.scrollWidth>p.clientWidth).length}</script>"
)


def listing(width):
    line = "x = " + "'" + "a" * (width - 6) + "'"
    assert len(line) == width
    return {"a": [{"runs": ["one/a"], "files": ["one.py"], "code": f"def f():\n    pass\n{line}\n"}]}


def scrolling_listings(page, tmp_path):
    path = tmp_path / "code.html"
    path.write_text(page.replace("</body>", MEASURE + "</body>"))
    dom = headless(chromium(), tmp_path / "user-data", "--window-size=1400,1000", "--dump-dom", path.as_uri()).stdout
    body = re.search(r"<body data-shown=\"(\d+)\" data-scrolling=\"(\d+)\"", dom)
    assert body, dom[:2000]
    assert body.group(1) == "1", "one listing shows at a time"
    return int(body.group(2))


def test_a_line_of_100_characters_does_not_scroll_and_one_of_180_does(tmp_path):
    assert scrolling_listings(api.code_html(listing(100)), tmp_path) == 0
    assert scrolling_listings(api.code_html(listing(180)), tmp_path) == 1  # the measure can see a scroll


def test_every_listing_is_highlighted_in_a_tab_of_its_own():
    styles = api.code_listings([("torch", "scratch"), ("tensorflow", "fit"), ("keras_jax", "fit")])
    page = api.code_html(styles)
    assert page.count("type='radio'") == 2 and page.count("<section") == 2  # the fit runs share one
    assert "<label for='tab-1'>tensorflow/fit, keras_jax/fit</label>" in page
    assert "#tab-1:checked~#panel-1{display:block}" in page
    assert '<span class="k">with</span> <span class="n">torch</span>' in page  # Pygments' tokens
    assert "<script" not in page  # tabs without code of their own
