"""qa/extract.py: what is stored for each format, and what is refused."""

from __future__ import annotations

import pytest

from qa.errors import InvalidDocument
from qa.extract import decode, extract, format_of

PAGE = """<!doctype html><html lang="en-GB"><head><title>Keepers strike | Harbour News</title>
<meta property="og:site_name" content="Harbour News">
<meta property="article:published_time" content="2025-06-01T09:30:00+02:00">
<link rel="canonical" href="https://harbour.example/keepers"></head>
<body><nav>Home | World | Sport</nav>
<article><h1>Keepers vote to strike</h1>
<p>The lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid night shifts.</p>
<p>Their union said the strike would begin on the first of July.</p></article>
<footer>Copyright Harbour News</footer></body></html>"""


def test_html_is_reduced_to_the_article_text_and_its_metadata():
    text, meta = extract(PAGE, "html", "page.html")
    assert text == ("Keepers vote to strike\n"
                    "The lighthouse keepers of Skerry Point voted on Sunday to strike over unpaid night shifts.\n"
                    "Their union said the strike would begin on the first of July.\n")
    assert meta == {"title": "Keepers vote to strike", "outlet": "Harbour News", "url": "https://harbour.example/keepers",
                    "language": "en-GB", "published": "2025-06-01"}


def test_text_and_markdown_are_stored_as_given():
    md = "# Keepers vote to strike\n\nThe keepers of Skerry Point voted on Sunday.\n"
    assert extract(md, "markdown", "k.md") == (md, {"title": "Keepers vote to strike"})
    assert extract("Plain words.\n", "text", "k.txt") == ("Plain words.\n", {})


@pytest.mark.parametrize("raw,message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "k.txt is binary (it holds NUL bytes)"),
    (b"caf\xe9 au lait", "k.txt is not UTF-8 text (invalid byte at offset 3)"),
    (b"  \n\t", "k.txt is empty; send the article's text"),
    (b"ok\x1b[31m red", "k.txt holds the control character U+001B at character 2"),
])
def test_binary_empty_or_undecodable_input_is_refused(raw, message):
    with pytest.raises(InvalidDocument) as caught:
        decode(raw, "k.txt")
    assert str(caught.value).startswith(message)


def test_unknown_formats_are_refused():
    assert (format_of("a.TXT"), format_of("b.md"), format_of("c.htm")) == ("text", "markdown", "html")
    with pytest.raises(InvalidDocument, match=r"'report.pdf': unknown format .pdf; add one of .htm, .html, .markdown, "
                                              r"\.md, \.txt, \.jsonl"):
        format_of("report.pdf")
    with pytest.raises(InvalidDocument, match="format 'pdf' is unknown; choose one of text, markdown, html"):
        extract("x", "pdf", "x")
    with pytest.raises(InvalidDocument, match="page.html: no article text found in the HTML"):
        extract("<html><body><script>track()</script><img src=a.png></body></html>", "html", "page.html")
