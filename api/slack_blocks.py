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
QUOTE_CHARS = 300  # longer quotes are shown as a window around the answer
PASSAGE_CHARS = 200
BUTTON_VALUE_CHARS = 2000  # Slack's limit for a button's value
FEEDBACK_BLOCK = "qa_feedback"
ACTION_UP, ACTION_DOWN = "qa_feedback_up", "qa_feedback_down"
VERDICT_WORDS = {"correct": "correct", "wrong": "wrong", "no_answer_expected": "rightly unanswered"}

# Slack markup in incoming text: <@U123|name>, <#C123|general>, <!channel>, <!subteam^S1|@team>, <url|label>.
_MARKUP_RE = re.compile(r"<([@#!])([^<>|]*)(?:\|([^<>]*))?>|<((?:https?|mailto):[^<>|]*)(?:\|([^<>]*))?>")
# Broadcast words stay inert even where a client would link a bare @word.
_BROADCAST_RE = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_WORD_JOINER = "\u2060"
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")


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


def _window(quote: str, answer: str, limit: int = QUOTE_CHARS) -> str:
    """The quote, or when long a window of it around the answer, with ellipses where it was cut."""
    quote = _one_line(quote)
    if len(quote) <= limit:
        return quote
    at = max(quote.find(_one_line(answer)), 0)
    start = max(0, min(at - (limit - len(answer)) // 2, len(quote) - limit))
    end = start + limit
    return ("\u2026" if start else "") + quote[start:end].strip() + ("\u2026" if end < len(quote) else "")


def marked_sentence(context: str, answer: str) -> str:
    """The sentence as a mrkdwn quote with the answer in bold (escaped around the marks)."""
    context, answer = _one_line(context), _one_line(answer)
    at = context.find(answer) if answer else -1
    if at < 0:
        return "> " + escape(context)
    before, after = context[:at], context[at + len(answer):]
    return f"> {escape(before)}*{escape(answer)}*{escape(after)}"


def _source_line(c: Mapping[str, Any], answer: str) -> str:
    where = c.get("outlet") or c["source"]
    date = f" \u00b7 {c['date']}" if c.get("date") else ""
    return f"\u2022 *{escape(where)}*{date} \u2014 \u201c{escape(_window(c['quote'], answer))}\u201d"


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
def result_blocks(result: Mapping[str, Any], articles: Mapping[str, Any]) -> list[dict]:
    """Block Kit for a result: the best answer, or the abstention with the closest passages.
    `articles` maps doc_id to something with a `date` (an Article), for the passages' dates."""
    if result["abstained"] or not result["answers"]:
        return abstention_blocks(result, articles)
    return answer_blocks(result)


def answer_blocks(result: Mapping[str, Any]) -> list[dict]:
    best = result["answers"][0]
    question, text, citations = result["question"], best["text"], best["citations"]
    sources = [_source_line(c, text) for c in citations[:MAX_SOURCES]]
    if len(citations) > MAX_SOURCES:
        sources.append(f"_and {len(citations) - MAX_SOURCES} more_")
    first = citations[0] if citations else None
    blocks = [_section(f"*{escape(_one_line(text))}*")]
    if _one_line(best["context"]) != _one_line(text):  # the sentence only when it adds words around the answer
        blocks.append(_section(marked_sentence(best["context"], text)))
    return blocks + [
        _section("*Sources*\n" + "\n".join(sources)),
        _context(f"Confidence {best['score']:.2f} \u00b7 Q: {escape(_one_line(question))}"),
        _buttons(feedback_value("correct", question, text, first), feedback_value("wrong", question, text, first)),
    ]


def abstention_blocks(result: Mapping[str, Any], articles: Mapping[str, Any]) -> list[dict]:
    question = result["question"]
    blocks = [_section(":mag: *The articles don't answer this.*")]
    lines = []
    for p in result["passages"][:MAX_PASSAGES]:
        date = getattr(articles.get(p["doc_id"]), "date", None)
        when = f" \u00b7 {date}" if date else ""
        lines.append(f"\u2022 *{escape(p['source'])}*{when} \u2014 \u201c{escape(_clip(p['text'], PASSAGE_CHARS))}\u201d")
    if lines:
        blocks.append(_section("*You may be looking for:*\n" + "\n".join(lines)))
    blocks.append(_context(f"Confidence {result['confidence']:.2f} \u00b7 Q: {escape(_one_line(question))}"))
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


def looking_text(question: str) -> str:
    return f":eyes: Looking for an answer to \u201c{escape(_one_line(question))}\u201d\u2026"


def thanked_blocks(blocks: list[dict], verdict: str, user_id: str | None) -> list[dict]:
    """The message's blocks with the feedback buttons replaced by a thank-you."""
    who = f" <@{user_id}>" if user_id and _USER_ID_RE.match(user_id) else ""
    thanks = _context(f"Thanks{who}! Recorded as *{VERDICT_WORDS.get(verdict, escape(verdict))}*.")
    kept = [b for b in blocks if b.get("block_id") != FEEDBACK_BLOCK]
    return kept + [thanks]
