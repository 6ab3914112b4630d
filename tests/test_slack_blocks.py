"""Block Kit rendering and Slack text handling: pure functions, exact structures."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from api import slack_blocks as sb

WJ = "\u2060"  # the word joiner that keeps @channel inert


def citation(**over) -> dict:
    c = {"doc_id": "d1", "source": "d1.txt", "title": "T", "date": "2025-05-19", "start": 10, "end": 45,
         "quote": "Trump spoke with Putin & <Zelensky>."}
    return {**c, **over}


def result(**over) -> dict:
    r = {"question": "Who spoke with <Trump> @here?", "mode": "hybrid", "abstained": False, "confidence": 0.81,
         "answers": [{"text": "Putin & <Zelensky>", "score": 0.8123, "context": "Trump spoke with Putin & <Zelensky>.",
                      "citations": [citation()], "label": "PERSON", "support_count": 2}],
         "passages": [], "took_ms": 12.5}
    return {**r, **over}


def test_escape_entities_and_broadcast_words():
    assert sb.escape("a & b <!channel> <@U1> > c") == "a &amp; b &lt;!channel&gt; &lt;@U1&gt; &gt; c"
    assert sb.escape("@channel @Here @everyone @channels x@here.") == f"@{WJ}channel @{WJ}Here @{WJ}everyone @channels x@{WJ}here."
    assert sb.escape("&amp;") == "&amp;amp;"  # text is escaped once, as given


@pytest.mark.parametrize("raw, plain", [
    ("<@UBOT> what did Putin agree to?", "what did Putin agree to?"),
    ("<@UBOT|newsqa>   why?", "why?"),
    ("<!channel> &lt;script&gt;alert(1)&lt;/script&gt; hi", "@channel <script>alert(1)</script> hi"),
    ("ask <@U123|bob> and <@W999> in <#C1|general> or <#C2>", "ask @bob and @W999 in #general or #C2"),
    ("<!here> <!everyone> <!subteam^S1|@team> <!date^1392734382^{date}|Feb 18>", "@here @everyone @team Feb 18"),
    ("see <https://x.test/a?b=1&amp;c=2|the story> and <https://y.test>", "see the story and https://y.test"),
    ("Q&amp;A: 1 &lt; 2 &amp;&amp; 3 &gt; 2", "Q&A: 1 < 2 && 3 > 2"),
    ("&amp;lt;", "&lt;"),  # decoded once: a user who typed "&lt;" keeps it
])
def test_question_from_slack(raw, plain):
    assert sb.question_from_slack(raw, "UBOT") == plain


def test_answer_blocks_exact():
    r = result()
    up = json.dumps({"v": "correct", "q": r["question"], "a": "Putin & <Zelensky>",
                     "c": {"doc_id": "d1", "start": 10, "end": 45}}, ensure_ascii=False, separators=(",", ":"))
    assert sb.result_blocks(r, {}) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Putin &amp; &lt;Zelensky&gt;*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "> Trump spoke with *Putin &amp; &lt;Zelensky&gt;*."}},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "*Sources*\n\u2022 *d1.txt* \u00b7 2025-05-19 \u2014 \u201cTrump spoke with Putin &amp; &lt;Zelensky&gt;.\u201d"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text":
            f"Confidence 0.81 \u00b7 Q: Who spoke with &lt;Trump&gt; @{WJ}here?"}]},
        {"type": "actions", "block_id": "qa_feedback", "elements": [
            {"type": "button", "action_id": "qa_feedback_up",
             "text": {"type": "plain_text", "text": "\U0001f44d", "emoji": True}, "value": up},
            {"type": "button", "action_id": "qa_feedback_down",
             "text": {"type": "plain_text", "text": "\U0001f44e", "emoji": True}, "value": up.replace('"correct"', '"wrong"')},
        ]},
    ]
    assert sb.fallback_text(r) == "Putin &amp; &lt;Zelensky&gt;"


def test_whole_sentence_answer_is_not_repeated_and_sources_stop_at_five():
    cites = [citation(source=f"s{i}.txt", date=None, outlet="Reuters" if i == 0 else None) for i in range(7)]
    r = result(answers=[{"text": "A whole sentence.", "score": 0.5, "context": "A  whole\nsentence.", "citations": cites}])
    blocks = sb.result_blocks(r, {})
    assert [b["type"] for b in blocks] == ["section", "section", "context", "actions"]
    lines = blocks[1]["text"]["text"].split("\n")
    assert lines[0] == "*Sources*"
    assert lines[1] == "\u2022 *Reuters* \u2014 \u201cTrump spoke with Putin &amp; &lt;Zelensky&gt;.\u201d"
    assert lines[2].startswith("\u2022 *s1.txt* \u2014")
    assert lines[-1] == "_and 2 more_" and len(lines) == 1 + 5 + 1


def test_abstention_blocks_exact():
    passages = [{"doc_id": "d1", "chunk_id": "d1#0", "source": "d1.txt", "start": 0, "end": 9, "text": "Some\ntext & more",
                 "score": 0.1, "bm25_rank": 1, "dense_rank": None},
                {"doc_id": "d2", "chunk_id": "d2#3", "source": "d2.txt", "start": 5, "end": 9, "text": "x " * 150,
                 "score": 0.05, "bm25_rank": None, "dense_rank": 1}]
    r = result(abstained=True, answers=[], confidence=0.1234, passages=passages, question="boiling <b>point</b>?")
    articles = {"d1": SimpleNamespace(date="2025-05-19"), "d2": SimpleNamespace(date=None)}
    down = json.dumps({"v": "wrong", "q": "boiling <b>point</b>?", "a": "", "c": None}, separators=(",", ":"))
    assert sb.result_blocks(r, articles) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": ":mag: *The articles don't answer this.*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*You may be looking for:*\n"
            "\u2022 *d1.txt* \u00b7 2025-05-19 \u2014 \u201cSome text &amp; more\u201d\n"
            "\u2022 *d2.txt* \u2014 \u201c" + "x " * 99 + "x\u2026\u201d"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Confidence 0.12 \u00b7 Q: boiling &lt;b&gt;point&lt;/b&gt;?"}]},
        {"type": "actions", "block_id": "qa_feedback", "elements": [
            {"type": "button", "action_id": "qa_feedback_up",
             "text": {"type": "plain_text", "text": "\U0001f44d", "emoji": True}, "value": down.replace('"wrong"', '"no_answer_expected"')},
            {"type": "button", "action_id": "qa_feedback_down",
             "text": {"type": "plain_text", "text": "\U0001f44e", "emoji": True}, "value": down},
        ]},
    ]
    assert sb.fallback_text(r) == "The articles don't answer this."


def test_long_quote_shows_a_window_around_the_answer():
    quote = "a" * 400 + " ANSWER " + "b" * 400
    shown = sb._window(quote, "ANSWER", 100)
    assert "ANSWER" in shown and shown.startswith("\u2026") and shown.endswith("\u2026")
    assert len(shown) == 102
    assert sb._window("short", "x", 100) == "short"


def test_marked_sentence():
    assert sb.marked_sentence("He said <no> to it.", "<no>") == "> He said *&lt;no&gt;* to it."
    assert sb.marked_sentence("Not found here.", "elsewhere") == "> Not found here."


def test_feedback_value_round_trip_and_limit():
    value = sb.feedback_value("correct", "q?", "ans", citation())
    assert sb.parse_feedback_value(value) == {"verdict": "correct", "question": "q?", "answer": "ans",
                                              "citation": {"doc_id": "d1", "start": 10, "end": 45}}
    long = sb.feedback_value("wrong", "\u00e9" * 3000, "a", None)
    assert len(long) <= sb.BUTTON_VALUE_CHARS
    parsed = sb.parse_feedback_value(long)
    assert parsed["question"].startswith("\u00e9" * 100) and parsed["question"].endswith("\u2026")
    for bad in ('{"v": "correct"}', "[1]", '{"v":"x","q":"q","a":"","c":{"doc_id":1,"start":0,"end":1}}'):
        with pytest.raises(ValueError):
            sb.parse_feedback_value(bad)


def test_thanked_blocks_replace_the_buttons():
    blocks = sb.result_blocks(result(), {})
    thanked = sb.thanked_blocks(blocks, "correct", "U123ABC")
    assert thanked[:-1] == blocks[:-1]
    assert thanked[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Thanks <@U123ABC>! Recorded as *correct*."}]}
    assert sb.thanked_blocks(blocks, "no_answer_expected", "<!channel>")[-1]["elements"][0]["text"] == \
        "Thanks! Recorded as *rightly unanswered*."


def test_error_and_looking_texts_are_escaped():
    assert sb.error_blocks("question is <blank>") == [
        {"type": "section", "text": {"type": "mrkdwn", "text": ":warning: question is &lt;blank&gt;"}}]
    assert sb.looking_text("<!channel> @here x") == f":eyes: Looking for an answer to \u201c&lt;!channel&gt; @{WJ}here x\u201d\u2026"
