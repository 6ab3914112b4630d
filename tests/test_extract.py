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


def test_text_is_stored_as_given():
    text = "date 2026-04-02 Ferry fares *frozen*\n\nThe [island] council froze fares.\n"
    assert extract(text, "text", "f.txt") == (text, {})


MARKDOWN = """Orchard growers win **frost grant**
====================================

*By our farm desk*

Growers in the [Vell valley](https://farm.example/vell) will share a **€2.5 million** grant, the
ministry said on Tuesday.<br>Payments start in May.

![A frosted orchard](frost.jpg)

## Who gets what

1. Apple growers: €1.6 million.
2. Pear growers: €0.9 million.
   - Small farms first.

> "The frost took half our crop," said grower `Maren Oduya`.

| Crop | Hectares |
|---|---|
| Apple | 410 |

<div class="ad">Subscribe now</div>
"""


def test_markdown_is_stored_as_its_words_without_markup():
    text, meta = extract(MARKDOWN, "markdown", "frost.md")
    assert text == ("Orchard growers win frost grant\n\n"
                    "By our farm desk\n\n"
                    "Growers in the Vell valley will share a €2.5 million grant, the\n"
                    "ministry said on Tuesday.\nPayments start in May.\n\n"
                    "Who gets what\n\n"
                    "1. Apple growers: €1.6 million.\n"
                    "2. Pear growers: €0.9 million.\n"
                    "  - Small farms first.\n\n"
                    "\"The frost took half our crop,\" said grower Maren Oduya.\n\n"
                    "Crop | Hectares\n"
                    "Apple | 410\n")
    assert meta == {"title": "Orchard growers win frost grant"}
    for markup in ("*", "](", "![", "<", ">", "|---", "#", "`"):
        assert markup not in text


def test_markdown_keeps_a_leading_date_line_and_refuses_markup_without_words():
    text, meta = extract("date 2026-04-02 Ferry fares frozen\nThe council froze *all* fares.\n", "markdown", "f.md")
    assert (text, meta) == ("date 2026-04-02 Ferry fares frozen\nThe council froze all fares.\n", {})
    with pytest.raises(InvalidDocument, match="empty.md: no article text found in the Markdown"):
        extract("<div>only a banner</div>\n\n---\n\n![logo](l.png)\n", "markdown", "empty.md")


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


def test_a_markdown_front_matter_gives_the_metadata_and_is_not_stored():
    md = ("---\ntitle: Tide gauges replaced\ndate: 2026-05-11\noutlet: Firth Courier\n"
          "url: https://firth.example/tides\ntags: [coast, science]\n---\n\n# Gauges go digital\n\n"
          "Six tide gauges on the Firth were replaced on Monday.\n")
    text, meta = extract(md, "markdown", "tides.md")
    assert text == "Gauges go digital\n\nSix tide gauges on the Firth were replaced on Monday.\n"
    assert meta == {"title": "Tide gauges replaced", "outlet": "Firth Courier", "url": "https://firth.example/tides",
                    "published": "2026-05-11"}
    timed = extract("---\npublished: 2026-05-11T07:45:00+01:00\ndate: 2020-01-01\n---\nGauges read.\n",
                    "markdown", "t.md")
    assert timed == ("Gauges read.\n", {"published": "2026-05-11T07:45:00+01:00"})


@pytest.mark.parametrize("front,message", [
    ("title: [never closed", "t.md: the front matter is not valid YAML (line 2)"),
    ("- a list\n- not keys", "t.md: the front matter must be `key: value` lines"),
    ("title: " + "[" * 5000 + "]" * 5000, "t.md: the front matter is nested too deeply"),
])
def test_a_malformed_front_matter_is_refused_saying_why(front, message):
    with pytest.raises(InvalidDocument) as caught:
        extract(f"---\n{front}\n---\nGauges read.\n", "markdown", "t.md")
    assert str(caught.value).startswith(message)
