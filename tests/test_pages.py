"""The report's HTML pages share one shell and one style sheet."""

from tale_of_two.analysis.pages import STYLE, inline_code, page


def test_a_page_escapes_its_title_and_adds_its_own_style():
    text = page("a < b", "<p>body</p>", style=".x{color:red}")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>a &lt; b</title>" in text and "<h1>a &lt; b</h1><p>body</p>" in text
    assert f"<style>{STYLE}.x{{color:red}}</style>" in text


def test_backticks_become_code_and_the_rest_is_escaped():
    assert inline_code("use `x < 1` & go") == "use <code>x &lt; 1</code> &amp; go"
