"""qa/metadata.py: metadata fields are checked, `published` normalized, sidecars read."""

from __future__ import annotations

import pytest

from qa import metadata
from qa.errors import InvalidDocument


def test_fields_are_checked_and_published_normalized():
    given = {"title": " Keepers strike ", "outlet": "Harbour News", "url": "https://harbour.example/k?id=1",
             "published": "2025-06-01T09:30Z", "language": "en-GB", "title_extra": None}
    with pytest.raises(InvalidDocument, match=r"unknown metadata field\(s\) 'title_extra'; allowed: title, outlet"):
        metadata.check(given)
    del given["title_extra"]
    assert metadata.check(given) == {"title": "Keepers strike", "outlet": "Harbour News",
                                     "url": "https://harbour.example/k?id=1",
                                     "published": "2025-06-01T09:30:00+00:00", "language": "en-GB"}
    assert metadata.check({"published": "2025-06-01", "url": None}) == {"published": "2025-06-01"}


@pytest.mark.parametrize("field,value,message", [
    ("published", "2025-02-30", "published '2025-02-30' is not a real date; use YYYY-MM-DD"),
    ("published", "June 1, 2025", "published 'June 1, 2025' is not a date; use YYYY-MM-DD"),
    ("published", "2025-06-01T09:30", "published '2025-06-01T09:30' has a time but no zone"),
    ("url", "harbour.example/k", "url must be an absolute http:// or https:// address without spaces"),
    ("url", "ftp://harbour.example/k", "url must be an absolute http:// or https:// address"),
    ("language", "English", "language must be a BCP 47 tag such as 'en' or 'en-GB'"),
    ("outlet", "   ", "outlet must be a non-blank string"),
    ("title", 7, "title must be a non-blank string"),
    ("title", "x" * 501, "title is 501 characters; the limit is 500"),
])
def test_bad_metadata_is_refused_naming_the_field(field, value, message):
    with pytest.raises(InvalidDocument) as caught:
        metadata.check({field: value})
    assert str(caught.value).startswith(message)


def test_a_sidecar_is_read_and_checked(tmp_path):
    text = tmp_path / "a.txt"
    assert metadata.read_sidecar(text) == {}
    (tmp_path / "a.meta.json").write_text('{"outlet": "Harbour News", "published": "2025-06-01"}')
    assert metadata.read_sidecar(text) == {"outlet": "Harbour News", "published": "2025-06-01"}
    (tmp_path / "a.meta.json").write_text('{"published": "soon"}')
    with pytest.raises(InvalidDocument, match="metadata file 'a.meta.json': published 'soon' is not a date"):
        metadata.read_sidecar(text)
