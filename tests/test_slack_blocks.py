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
            "*Sources*\n\u2022 *T* \u00b7 2025-05-19"}},  # the quote is the sentence just above: not repeated
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
    assert lines[2] == "\u2022 *T* \u2014 \u201cTrump spoke with Putin &amp; &lt;Zelensky&gt;.\u201d"
    assert lines[-1] == "_and 2 more_" and len(lines) == 1 + 5 + 1


def test_abstention_blocks_exact():
    passages = [{"doc_id": "d1", "chunk_id": "d1#0", "source": "d1.txt", "start": 0, "end": 9, "text": "Some\ntext & more",
                 "score": 0.1, "bm25_rank": 1, "dense_rank": None},
                {"doc_id": "d2", "chunk_id": "d2#3", "source": "d2.txt", "start": 5, "end": 9, "text": "x " * 150,
                 "score": 0.05, "bm25_rank": None, "dense_rank": 1}]
    r = result(abstained=True, answers=[], confidence=0.1234, passages=passages, question="boiling <b>point</b>?")
    articles = {"d1": SimpleNamespace(date="2025-05-19", title="Talks in Istanbul"),
                "d2": SimpleNamespace(date=None, title="Ignored", outlet="Reuters", url="https://example.test/a?b=1&c=2")}
    down = json.dumps({"v": "wrong", "q": "boiling <b>point</b>?", "a": "", "c": None}, separators=(",", ":"))
    assert sb.result_blocks(r, articles) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": ":mag: *The articles don't answer this.*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*You may be looking for:*\n"
            "\u2022 *Talks in Istanbul* \u00b7 2025-05-19 \u2014 \u201cSome text &amp; more\u201d\n"
            "\u2022 *Reuters* \u00b7 <https://example.test/a?b=1&amp;c=2|link> \u2014 \u201c" + "x " * 99 + "x\u2026\u201d"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Confidence 0.12 \u00b7 Q: boiling &lt;b&gt;point&lt;/b&gt;?"}]},
        {"type": "actions", "block_id": "qa_feedback", "elements": [
            {"type": "button", "action_id": "qa_feedback_up",
             "text": {"type": "plain_text", "text": "\U0001f44d", "emoji": True}, "value": down.replace('"wrong"', '"no_answer_expected"')},
            {"type": "button", "action_id": "qa_feedback_down",
             "text": {"type": "plain_text", "text": "\U0001f44e", "emoji": True}, "value": down},
        ]},
    ]
    assert sb.fallback_text(r) == "The articles don't answer this."


def test_long_quote_shows_a_window_of_whole_words_around_the_answer():
    before = "The delegations met for several hours in the old palace and talked about prisoners, " * 3
    after = " while the ministers waited outside for the statements that came late in the evening, " * 3
    quote = before + "Russia agreed to a memorandum on a future peace agreement" + after
    shown = sb._window(quote, "a memorandum", 100)
    assert shown.startswith("\u2026") and shown.endswith("\u2026") and "a memorandum" in shown
    inner = shown[1:-1]
    assert len(inner) <= 100 and inner in " ".join(quote.split())
    at = " ".join(quote.split()).index(inner)  # cut where words end: a space (or the quote's edge) on both sides
    assert " ".join(quote.split())[at - 1] == " " and " ".join(quote.split())[at + len(inner)] == " "
    # the answer's place given by offsets wins over a search (the same words may come earlier)
    twice = "agreement " * 40 + "AGREED agreement " + "word " * 60
    cut = sb._window(twice, "agreement", 60, at=(twice.index("AGREED") + 7, twice.index("AGREED") + 16))
    assert "AGREED agreement" in cut and cut.startswith("\u2026") and cut.endswith("\u2026")
    assert sb._window("short", "x", 100) == "short"
    assert sb._window("a" * 400 + " ANSWER " + "b" * 400, "ANSWER", 100) == "\u2026ANSWER\u2026"  # no word is cut


def test_sources_name_the_outlet_or_title_with_date_and_link_and_skip_the_repeated_sentence():
    context = "Putin said Russia was ready to work with Ukraine on a memorandum about a future peace accord."
    other = ("Moscow is ready to work on a memorandum with Ukraine on future peace talks, as well as a ceasefire, "
             "but the two countries need to find compromises that suit both sides. ") * 3
    cites = [citation(quote=context, title="Trump and Putin speak for more than two hours about the war in Ukraine"),
             citation(doc_id="d2", source="d2.txt", date=None, quote=other, start=100, end=100 + len(other),
                      answer_start=100 + other.index("a memorandum"), answer_end=100 + other.index("a memorandum") + 12,
                      outlet="RIA Novosti", url="https://ria.test/a"),
             citation(doc_id="d3", source="d3.txt", title="", url="javascript:alert(1)", quote="A memorandum.")]
    r = result(answers=[{"text": "a memorandum", "score": 0.7, "context": context, "citations": cites}])
    blocks = sb.result_blocks(r, {})
    assert blocks[1]["text"]["text"] == ("> Putin said Russia was ready to work with Ukraine on *a memorandum* about a "
                                         "future peace accord.")
    lines = blocks[2]["text"]["text"].split("\n")
    assert lines[1] == "\u2022 *Trump and Putin speak for more than two hours about the war\u2026* \u00b7 2025-05-19"
    window = sb._window(other, "a memorandum", at=(other.index("a memorandum"), other.index("a memorandum") + 12))
    assert window == ("Moscow is ready to work on a memorandum with Ukraine on future peace talks, as well as a "
                      "ceasefire, but the two countries need to find compromises that suit both sides. Moscow is ready "
                      "to work on a memorandum with Ukraine on future peace talks, as well as a ceasefire, but the two "
                      "countries need to\u2026")  # 300 characters end inside "find": cut before it
    assert lines[2] == f"\u2022 *RIA Novosti* \u00b7 <https://ria.test/a|link> \u2014 \u201c{window}\u201d"
    assert lines[3] == "\u2022 *d3.txt* \u00b7 2025-05-19 \u2014 \u201cA memorandum.\u201d"  # no title; no odd link


def test_channel_defaults_are_stated_under_the_answer():
    blocks = sb.result_blocks(result(), {}, note="channel defaults: mode=bm25")
    assert blocks[3] == {"type": "context", "elements": [{"type": "mrkdwn", "text":
        f"Confidence 0.81 \u00b7 Q: Who spoke with &lt;Trump&gt; @{WJ}here? \u00b7 channel defaults: mode=bm25"}]}


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


def test_voted_blocks_keep_the_buttons_and_count_the_votes():
    blocks = sb.result_blocks(result(), {})
    voted = sb.voted_blocks(blocks, {"correct": 2, "wrong": 1, "no_answer_expected": 1}, "correct", "U123ABC")
    votes = {"type": "context", "block_id": "qa_votes", "elements": [{"type": "mrkdwn", "text":
             "\U0001f44d 3 \u00b7 \U0001f44e 1 \u2014 Thanks <@U123ABC>! Recorded as *correct*; click again to change your vote."}]}
    assert voted == blocks[:-1] + [votes, blocks[-1]]
    again = sb.voted_blocks(voted, {"correct": 1, "wrong": 2}, "no_answer_expected", "<!channel>")
    assert again[:-2] == blocks[:-1] and again[-1] == blocks[-1]  # one votes line, replaced
    assert again[-2]["elements"][0]["text"] == ("\U0001f44d 1 \u00b7 \U0001f44e 2 \u2014 Thanks! Recorded as "
                                                "*rightly unanswered*; click again to change your vote.")


def test_error_and_looking_texts_are_escaped():
    assert sb.error_blocks("question is <blank>") == [
        {"type": "section", "text": {"type": "mrkdwn", "text": ":warning: question is &lt;blank&gt;"}}]
    assert sb.looking_text("<!channel> @here x") == f":eyes: Looking for an answer to \u201c&lt;!channel&gt; @{WJ}here x\u201d\u2026"


def test_a_follow_up_says_how_it_was_read_above_the_answer():
    blocks = sb.answer_blocks(result(question="what did the <harbour> board say in\nDunmore?"))
    assert sb.read_as_blocks("what did the <harbour> board say in\nDunmore?", blocks) == [
        {"type": "context", "block_id": "qa_read_as", "elements": [{"type": "mrkdwn", "text":
            "Read as: \u201cwhat did the &lt;harbour&gt; board say in Dunmore?\u201d "
            "(a follow-up to this thread's last question)"}]}] + blocks


def test_defaults_text_and_home_view_exact():
    bound = SimpleNamespace(channel="C0TEST", defaults=SimpleNamespace(describe=lambda: "mode=bm25"), set_by="U0ADMIN")
    assert sb.defaults_text(bound) == "Questions in <#C0TEST> use *mode=bm25* (set by <@U0ADMIN>)."
    assert sb.defaults_text(SimpleNamespace(**{**vars(bound), "set_by": None})) == \
        "Questions in <#C0TEST> use *mode=bm25* (from the bot's settings)."
    none = SimpleNamespace(channel="C0TEST", defaults=SimpleNamespace(describe=lambda: ""), set_by=None)
    assert sb.defaults_text(none) == "This channel has no defaults: questions use the service's."
    asked = [SimpleNamespace(question="Who <spoke>?", answer="Trump & Putin", channel="C0TEST", asked_at="2026-01-02T03:04:05Z"),
             SimpleNamespace(question="Boiling point?", answer=None, channel="D0DM", asked_at="2026-01-01T00:00:00Z")]
    view = sb.home_view(asked, [bound], "hybrid")
    assert view == {"type": "home", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "News QA"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*How to ask*\n" + sb.HOW_TO_ASK}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Channel defaults*\n\u2022 <#C0TEST>: mode=bm25\n"
            "Other channels use the service's defaults (retrieval mode `hybrid`).\n"
            "An admin sets a channel's with `/ask-defaults mode=bm25` in it."}},
        {"type": "divider"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Your last questions*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\u201cWho &lt;spoke&gt;?\u201d\n*Trump &amp; Putin*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "<#C0TEST> \u00b7 2026-01-02T03:04:05Z"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\u201cBoiling point?\u201d\n_The articles don't answer this._"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "<#D0DM> \u00b7 2026-01-01T00:00:00Z"}]},
    ]}
    empty = sb.home_view([], [], None)
    assert empty["blocks"][2]["text"]["text"] == ("*Channel defaults*\nNo channel has defaults; every question uses the "
                                                   "service's.\nAn admin sets a channel's with `/ask-defaults mode=bm25` in it.")
    assert empty["blocks"][-1]["text"]["text"] == "*Your last questions*\nNone yet: ask one and it shows here with its answer."
