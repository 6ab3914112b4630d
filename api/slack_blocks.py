"""Slack messages as pure functions: Slack markup in, Block Kit out. No slack-bolt, no I/O.

Results come in the one JSON shape of `qa.serialize.result_json`; fields this module does not know
are ignored. Every piece of question or article text goes through `escape` before it reaches mrkdwn.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

MAX_SOURCES = 5  # citations listed under an answer
MAX_PASSAGES = 3  # passages offered when the service abstains
QUOTE_CHARS = 300  # longer quotes are shown as a window of whole words around the answer
PASSAGE_CHARS = 200
TITLE_CHARS = 60  # an article named by its title (no outlet yet): its first words
RECENT_SHOWN = 5  # questions listed on the App Home tab
BUTTON_VALUE_CHARS = 2000  # Slack's limit for a button's value
FEEDBACK_BLOCK = "qa_feedback"
VOTES_BLOCK = "qa_votes"
READ_AS_BLOCK = "qa_read_as"
ACTION_UP, ACTION_DOWN = "qa_feedback_up", "qa_feedback_down"
VERDICT_WORDS = {"correct": "correct", "wrong": "wrong", "no_answer_expected": "rightly unanswered"}

# Slack markup in incoming text: <@U123|name>, <#C123|general>, <!channel>, <!subteam^S1|@team>, <url|label>.
_MARKUP_RE = re.compile(r"<([@#!])([^<>|]*)(?:\|([^<>]*))?>|<((?:https?|mailto):[^<>|]*)(?:\|([^<>]*))?>")
# Broadcast words stay inert even where a client would link a bare @word.
_BROADCAST_RE = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_WORD_JOINER = "\u2060"
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_LINKABLE_RE = re.compile(r"^https?://[^\s<>|]+$")


def escape(text: str) -> str:
    """Text made safe for mrkdwn: `&`, `<`, `>` as entities, so nothing becomes a link or a mention,
    and `@channel`/`@here`/`@everyone` broken by an invisible word joiner."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST_RE.sub("@" + _WORD_JOINER, text)


def question_from_slack(text: str, bot_user_id: str | None = None) -> str:
    """The plain question in a Slack message: the bot's own mention dropped, other markup turned into
    the words a reader sees (`<!channel>` -> `@channel`, `<url|label>` -> `label`), entities decoded."""

    def plain(m: re.Match) -> str:
        sigil, ident, label, url, url_label = m.groups()
        if url is not None:
            return url_label or url
        if sigil == "@":
            return "" if ident == bot_user_id else "@" + (label or ident)
        if sigil == "#":
            return "#" + (label or ident)
        if label:  # <!subteam^S1|@team>, <!date^...|fallback>
            return label
        return "@" + ident.split("^")[0]

    text = _MARKUP_RE.sub(plain, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


# ------------------------------------------------------------------ pieces
def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, limit: int) -> str:
    text = _one_line(text)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut + "\u2026"


def _window(quote: str, answer: str, limit: int = QUOTE_CHARS, at: tuple[int, int] | None = None) -> str:
    """The quote on one line, or when long a window of whole words around the answer (at `at`, offsets
    into `quote`, else where the answer's text is found), with ellipses where it was cut."""
    if len(_one_line(quote)) <= limit:
        return _one_line(quote)
    if at is None or not 0 <= at[0] <= at[1] <= len(quote):
        found = quote.find(answer) if answer else -1
        at = (found, found + len(answer)) if found >= 0 else (0, 0)
    a0, a1 = at
    start = max(0, min(a0 - (limit - (a1 - a0)) // 2, len(quote) - limit))
    end = max(start + limit, a1)
    if start > 0 and not quote[start - 1].isspace():  # in a word: start at the next one, never past the answer
        space = next((i for i in range(start, a0) if quote[i].isspace()), a0)
        start = space if space < a0 else _word_start(quote, a0)
    if end < len(quote) and not quote[end].isspace():  # in a word: end at the previous one, never before the answer
        space = next((i for i in range(end, a1, -1) if quote[i].isspace()), a1)
        end = space if space > a1 else _word_end(quote, a1)
    return ("\u2026" if start else "") + _one_line(quote[start:end]) + ("\u2026" if end < len(quote) else "")


def _word_start(text: str, at: int) -> int:
    while at > 0 and not text[at - 1].isspace():
        at -= 1
    return at


def _word_end(text: str, at: int) -> int:
    while at < len(text) and not text[at].isspace():
        at += 1
    return at


def marked_sentence(context: str, answer: str) -> str:
    """The sentence as a mrkdwn quote with the answer in bold (escaped around the marks)."""
    context, answer = _one_line(context), _one_line(answer)
    at = context.find(answer) if answer else -1
    if at < 0:
        return "> " + escape(context)
    before, after = context[:at], context[at + len(answer):]
    return f"> {escape(before)}*{escape(answer)}*{escape(after)}"


def source_name(item: Mapping[str, Any]) -> str:
    """Who published it: the outlet when known, else the article's title (its first words), else the file."""
    return item.get("outlet") or _clip(item.get("title") or "", TITLE_CHARS) or item["source"]


def _link(url: Any) -> str:
    """A mrkdwn link to the article, or "" when there is no URL fit to link (http(s), no spaces or markup)."""
    if not isinstance(url, str) or not _LINKABLE_RE.match(url):
        return ""
    return f"<{url.replace('&', '&amp;')}|link>"


def _source_line(c: Mapping[str, Any], answer: str, shown: str) -> str:
    """outlet (or title) · date · link, then the quoted words unless they are the sentence shown above."""
    parts = [f"*{escape(source_name(c))}*"] + [p for p in (c.get("date"), _link(c.get("url"))) if p]
    line = "\u2022 " + " \u00b7 ".join(parts)
    quote = _one_line(c["quote"])
    if quote in shown:
        return line
    at = None
    if isinstance(c.get("answer_start"), int) and isinstance(c.get("answer_end"), int):
        at = (c["answer_start"] - c["start"], c["answer_end"] - c["start"])
    return line + f" \u2014 \u201c{escape(_window(c['quote'], answer, at=at))}\u201d"


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def feedback_value(verdict: str, question: str, answer: str, citation: Mapping[str, Any] | None) -> str:
    """What a feedback button carries back: the verdict, the question, the answer and where it came from.
    The quote is not carried (it is re-read from the article); a long question is cut to fit Slack's limit."""
    c = None if citation is None else {"doc_id": citation["doc_id"], "start": citation["start"], "end": citation["end"]}
    payload = {"v": verdict, "q": question, "a": answer, "c": c}
    while True:
        value = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        if len(value) <= BUTTON_VALUE_CHARS:
            return value
        over = len(value) - BUTTON_VALUE_CHARS + 1
        key = "q" if len(payload["q"]) > 1 else "a"
        payload[key] = payload[key][: max(1, len(payload[key]) - over)] + "\u2026"


def parse_feedback_value(value: str) -> dict:
    """The button's value back as {verdict, question, answer, citation}; ValueError when it is not ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or not {"v", "q", "a", "c"} <= data.keys():
        raise ValueError("not a feedback button value")
    c = data["c"]
    if c is not None and not (isinstance(c, dict) and isinstance(c.get("doc_id"), str)
                              and isinstance(c.get("start"), int) and isinstance(c.get("end"), int)):
        raise ValueError("feedback citation is malformed")
    return {"verdict": data["v"], "question": data["q"], "answer": data["a"], "citation": c}


def _buttons(up: str, down: str) -> dict:
    return {"type": "actions", "block_id": FEEDBACK_BLOCK, "elements": [
        {"type": "button", "action_id": ACTION_UP, "text": {"type": "plain_text", "text": "\U0001f44d", "emoji": True},
         "value": up},
        {"type": "button", "action_id": ACTION_DOWN, "text": {"type": "plain_text", "text": "\U0001f44e", "emoji": True},
         "value": down},
    ]}


# ------------------------------------------------------------------ messages
def result_blocks(result: Mapping[str, Any], articles: Mapping[str, Any], note: str = "") -> list[dict]:
    """Block Kit for a result: the best answer, or the abstention with the closest passages.
    `articles` maps doc_id to something with a `date` and `title` (an Article), for the passages;
    `note` (e.g. the channel defaults used) ends the confidence line."""
    if result["abstained"] or not result["answers"]:
        return abstention_blocks(result, articles, note)
    return answer_blocks(result, note)


def _about(confidence: float, question: str, note: str) -> dict:
    extra = f" \u00b7 {escape(note)}" if note else ""
    return _context(f"Confidence {confidence:.2f} \u00b7 Q: {escape(_one_line(question))}{extra}")


def answer_blocks(result: Mapping[str, Any], note: str = "") -> list[dict]:
    best = result["answers"][0]
    question, text, citations = result["question"], best["text"], best["citations"]
    blocks = [_section(f"*{escape(_one_line(text))}*")]
    shown = _one_line(text)
    if _one_line(best["context"]) != shown:  # the sentence only when it adds words around the answer
        blocks.append(_section(marked_sentence(best["context"], text)))
        shown = _one_line(best["context"])
    sources = [_source_line(c, text, shown) for c in citations[:MAX_SOURCES]]
    if len(citations) > MAX_SOURCES:
        sources.append(f"_and {len(citations) - MAX_SOURCES} more_")
    first = citations[0] if citations else None
    return blocks + [
        _section("*Sources*\n" + "\n".join(sources)),
        _about(best["score"], question, note),
        _buttons(feedback_value("correct", question, text, first), feedback_value("wrong", question, text, first)),
    ]


def abstention_blocks(result: Mapping[str, Any], articles: Mapping[str, Any], note: str = "") -> list[dict]:
    question = result["question"]
    blocks = [_section(":mag: *The articles don't answer this.*")]
    lines = []
    for p in result["passages"][:MAX_PASSAGES]:
        article = articles.get(p["doc_id"])
        about = {"source": p["source"], **{k: getattr(article, k, None) for k in ("outlet", "title", "url")}}
        parts = [f"*{escape(source_name(about))}*"] + [x for x in (getattr(article, "date", None), _link(about["url"])) if x]
        words = escape(_clip(p["text"], PASSAGE_CHARS))
        lines.append("\u2022 " + " \u00b7 ".join(parts) + f" \u2014 \u201c{words}\u201d")
    if lines:
        blocks.append(_section("*You may be looking for:*\n" + "\n".join(lines)))
    blocks.append(_about(result["confidence"], question, note))
    blocks.append(_buttons(feedback_value("no_answer_expected", question, "", None),
                           feedback_value("wrong", question, "", None)))
    return blocks


def fallback_text(result: Mapping[str, Any]) -> str:
    """The notification text that goes with the blocks."""
    if result["abstained"] or not result["answers"]:
        return "The articles don't answer this."
    return escape(_one_line(result["answers"][0]["text"]))


def error_blocks(message: str) -> list[dict]:
    return [_section(f":warning: {escape(message)}")]


def read_as_blocks(question: str, blocks: list[dict]) -> list[dict]:
    """A follow-up's reply: how the bot read the question (with the thread's last question and answer)
    above the reply's blocks."""
    read = _context(f"Read as: \u201c{escape(_one_line(question))}\u201d (a follow-up to this thread's last question)")
    read["block_id"] = READ_AS_BLOCK
    return [read] + blocks


def looking_text(question: str) -> str:
    return f":eyes: Looking for an answer to \u201c{escape(_one_line(question))}\u201d\u2026"


def voted_blocks(blocks: list[dict], tally: Mapping[str, int], verdict: str, user_id: str | None) -> list[dict]:
    """The message's blocks with the vote count and the voter's thanks just above the buttons, which stay:
    a voter may change their vote (the latest counts, one per person)."""
    who = f" <@{user_id}>" if user_id and _USER_ID_RE.match(user_id) else ""
    up = tally.get("correct", 0) + tally.get("no_answer_expected", 0)
    votes = _context(f"\U0001f44d {up} \u00b7 \U0001f44e {tally.get('wrong', 0)} \u2014 Thanks{who}! "
                     f"Recorded as *{VERDICT_WORDS.get(verdict, escape(verdict))}*; click again to change your vote.")
    votes["block_id"] = VOTES_BLOCK
    kept = [b for b in blocks if b.get("block_id") != VOTES_BLOCK]
    at = next((i for i, b in enumerate(kept) if b.get("block_id") == FEEDBACK_BLOCK), len(kept))
    return kept[:at] + [votes] + kept[at:]


# ------------------------------------------------------------------ channel defaults and the App Home
def _channel(channel_id: str) -> str:
    return f"<#{channel_id}>" if _CHANNEL_ID_RE.match(channel_id) else escape(channel_id)


def defaults_text(bound: Any) -> str:
    """What a channel's defaults are and who set them. `bound` has channel, defaults (with describe()), set_by."""
    described = bound.defaults.describe()
    if not described:
        return "This channel has no defaults: questions use the service's."
    if bound.set_by is None:
        origin = " (from the bot's settings)"
    elif _USER_ID_RE.match(bound.set_by):
        origin = f" (set by <@{bound.set_by}>)"
    else:
        origin = ""
    return f"Questions in {_channel(bound.channel)} use *{escape(described)}*{origin}."


HOW_TO_ASK = ("Mention me in a channel (`@newsqa what did Putin agree to?`), send me a direct message, or type "
              "`/ask what did Putin agree to?` anywhere. I answer with the articles' own words and cite them; "
              "\U0001f44d / \U0001f44e on an answer tell us whether it was right (click again to change your vote).")


def home_view(recent: list[Any], bound: list[Any], default_mode: str | None) -> dict:
    """The App Home tab: how to ask, the channels' defaults, and the person's last questions with their answers.
    `recent` items have question, answer (None: not answered), channel, asked_at."""
    service = f" (retrieval mode `{default_mode}`)" if default_mode else ""
    if bound:
        channels = "\n".join(f"\u2022 {_channel(b.channel)}: {escape(b.defaults.describe())}" for b in bound)
        channels += f"\nOther channels use the service's defaults{service}."
    else:
        channels = f"No channel has defaults; every question uses the service's{service}."
    channels += "\nAn admin sets a channel's with `/ask-defaults mode=bm25` in it."
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "News QA"}},
              _section(f"*How to ask*\n{HOW_TO_ASK}"),
              _section(f"*Channel defaults*\n{channels}"),
              {"type": "divider"}]
    if not recent:
        blocks.append(_section("*Your last questions*\nNone yet: ask one and it shows here with its answer."))
        return {"type": "home", "blocks": blocks}
    blocks.append(_section("*Your last questions*"))
    for asked in recent[:RECENT_SHOWN]:
        answer = f"*{escape(_clip(asked.answer, PASSAGE_CHARS))}*" if asked.answer else "_The articles don't answer this._"
        blocks.append(_section(f"\u201c{escape(_clip(asked.question, PASSAGE_CHARS))}\u201d\n{answer}"))
        blocks.append(_context(f"{_channel(asked.channel)} \u00b7 {escape(asked.asked_at)}"))
    return {"type": "home", "blocks": blocks}
