"""The one page shell and its table writer."""

from __future__ import annotations

from eduproject.util.html import CSP, base_css, html_page, table


def test_every_page_forbids_scripts_and_escapes_its_title() -> None:
    page = html_page("<ada> & co", "<p>hi</p>", extra_css=".x{}")
    assert page.startswith("<!DOCTYPE html>")
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP
    assert "<title>&lt;ada&gt; &amp; co</title>" in page
    assert f"<style>{base_css()}.x{{}}</style>" in page


def test_a_page_with_a_look_of_its_own_replaces_the_base_style() -> None:
    page = html_page("bench", "<main></main>", css="main{}")
    assert "<style>main{}</style>" in page and base_css() not in page


def test_table_cells_are_escaped_numeric_columns_and_row_classes() -> None:
    html = table(["who", "n"], [["<b>", "3"], ["eve", "4"]], numeric={1}, row_classes=["", "x"])
    assert html == (
        "<table><tr><th>who</th><th>n</th></tr>"
        "<tr><td>&lt;b&gt;</td><td class='num'>3</td></tr>"
        "<tr class='x'><td>eve</td><td class='num'>4</td></tr></table>"
    )
