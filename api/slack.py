"""The Slack bot: a thin slack-bolt wrapper over QAService. It holds no QA logic of its own.

Two ways to run it, over the same bolt app:
- HTTP events at POST /slack/events on the API, mounted by `mount()` when SLACK_BOT_TOKEN and
  SLACK_SIGNING_SECRET are set. The signature is checked here first, so a junk, stale or wrong
  signature is a 401 (bolt's own check answers a non-numeric timestamp with a 500).
- Socket Mode: `python -m api.slack` (which `qa slack` runs), with SLACK_BOT_TOKEN and SLACK_APP_TOKEN.

The answer is slow (embedding, retrieval, reading), so every listener acks at once and answers in a
lazy listener (a bolt worker thread). A question takes a slot of the API's admission control, like an
HTTP question (Socket Mode, a process of its own, has its own bound); with none free it waits up to
QA_SLACK_QUEUE_WAIT_S for one, then answers that it is busy. A channel's defaults (api/slack_state.py)
apply to its questions; the App Home tab shows a person's last questions. A question in the thread of an
answer is a follow-up, read with the thread's last question and answer (qa/followup.py), which are kept
in the same SQLite file so that a restart does not forget them. Slack's retries are recognised by event_id in a bounded, in-memory
TTL cache: one process answers an event once (a restart forgets, which Slack's retry window makes rare).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from api import slack_blocks as sb
from api.errors import error_response
from api.limits import Admission
from api.slack_state import ChannelDefaults, DefaultsError, SlackState
from qa.config import Settings, get_settings
from qa.embed import set_compute_threads
from qa.errors import IndexMissing, InvalidQuestion, QAError
from qa.feedback import Feedback, FeedbackStore
from qa.followup import Reading, Turn, read_followup
from qa.nlp import load_for_questions
from qa.serialize import result_json
from qa.service import QAService
from qa.types import Result

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLASH_COMMAND = "/ask"
MAX_SIGNATURE_AGE_S = 300  # Slack's rule: refuse requests signed more than five minutes ago
RATE_LIMIT_RETRIES = 3


def _secret(value) -> str | None:
    """A SecretStr setting's value, or None when unset or blank."""
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None


# ------------------------------------------------------------------ retries of the same event
class SeenEvents:
    """Event ids seen in the last `ttl` seconds, at most `max_size` of them (oldest dropped first)."""

    def __init__(self, ttl: float = 3600.0, max_size: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.max_size, self.clock = ttl, max_size, clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """True exactly once per key within the TTL, also when called from several threads at once."""
        now = self.clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) <= now - self.ttl or len(self._seen) >= self.max_size):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def __len__(self) -> int:
        return len(self._seen)


# ------------------------------------------------------------------ signatures
def signature_problem(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                      now: float | None = None) -> str | None:
    """Why a request's Slack signature is not acceptable, or None when it is."""
    if not timestamp or not signature:
        return "X-Slack-Request-Timestamp and X-Slack-Signature headers are required"
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        return "X-Slack-Request-Timestamp must be a Unix time in whole seconds"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_SIGNATURE_AGE_S:
        return f"the request was signed more than {MAX_SIGNATURE_AGE_S} seconds from now; send a fresh one"
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "X-Slack-Signature does not match the body signed with this app's signing secret"
    return None


# ------------------------------------------------------------------ Slack I/O
def web_client(settings: Settings, token: str | None = None) -> WebClient:
    """The Web API client, retrying Slack's 429s after their Retry-After (plus jitter)."""
    kwargs = {"base_url": settings.slack_api_base_url} if settings.slack_api_base_url else {}
    return WebClient(token=token or _secret(settings.slack_bot_token), **kwargs,
                     retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(RATE_LIMIT_RETRIES)])


def _respond(response_url: str, message: dict) -> None:
    """Post to a response_url (slash commands, button clicks), with the same 429 retries."""
    hook = WebhookClient(response_url, retry_handlers=[ConnectionErrorRetryHandler(),
                                                      RateLimitErrorRetryHandler(RATE_LIMIT_RETRIES)])
    resp = hook.send_dict(message)
    if resp.status_code != 200:
        log.error("response_url answered %s: %s", resp.status_code, resp.body)


def _react(client: WebClient, method: str, channel: str, ts: str) -> None:
    try:
        getattr(client, method)(channel=channel, timestamp=ts, name="eyes")
    except SlackApiError as exc:  # already_reacted, no_reaction, missing scope: cosmetic only
        log.warning("%s failed: %s", method, exc.response.get("error"))


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot posts for a question, and what the App Home lists for it (`shown`: the answer's text,
    or None when the articles did not answer). `logged` is False for replies that answer nothing (busy, errors).
    `asked`: the question as the service was asked it (a follow-up resolved), when it was asked."""

    blocks: list[dict]
    text: str
    shown: str | None = None
    logged: bool = False
    asked: str | None = None


def slack_result(service: QAService, result: Result) -> dict:
    """The result as JSON for the blocks, its citations with the article's `outlet` and `url` when the
    citation or the article has them (metadata another issue adds; absent today, so the title shows)."""
    data = result_json(result, service.index.articles)
    for answer, shown in zip(result.answers, data["answers"]):
        for c, c_json in zip(answer.citations, shown["citations"]):
            article = service.index.articles.get(c.doc_id)
            for key in ("outlet", "url"):
                value = getattr(c, key, None) or getattr(article, key, None)
                if value and not c_json.get(key):
                    c_json[key] = value
    return data


class SlackBot:
    """Questions from Slack to the service and answers back. `service` is a callable because the
    service may still be loading when the bot is built. Each question takes a slot of `admission`
    (the API's own when the bot is mounted on it), waiting up to `queue_wait_s` for one; with none
    freed by then, the bot says it is busy."""

    def __init__(self, service: Callable[[], QAService | None], feedback: FeedbackStore, admission: Admission,
                 seen: SeenEvents | None = None, state: SlackState | None = None, queue_wait_s: float = 2.0,
                 admins: tuple[str, ...] = ()):
        self._service, self.feedback, self.admission = service, feedback, admission
        self.seen = seen or SeenEvents()
        self.state = state or SlackState(feedback.path)
        self.queue_wait_s, self.admins = queue_wait_s, frozenset(admins)

    @classmethod
    def from_settings(cls, settings: Settings, service: Callable[[], QAService | None], feedback: FeedbackStore,
                      admission: Admission) -> "SlackBot":
        configured = {channel: ChannelDefaults.from_json(d) for channel, d in settings.slack_channel_defaults.items()}
        return cls(service, feedback, admission, state=SlackState(feedback.path, configured),
                   queue_wait_s=settings.slack_queue_wait_s, admins=tuple(settings.slack_admins))

    def service(self) -> QAService:
        service = self._service()
        if service is None:
            raise IndexMissing("the service is still starting; ask again in a minute")
        return service

    def reply(self, question: str, channel: str | None = None, received_at: float | None = None,
              previous: Turn | None = None) -> Reply:
        """The reply to a question asked in `channel` (whose defaults apply): the answer, the abstention,
        what to fix, or that the service is busy. A question waits for a slot until `queue_wait_s` after
        it was received (HTTP's 503 is at once; a Slack question cannot be retried by a client). With the
        `previous` turn of its thread, the question is read as a follow-up to it."""
        waited = 0.0 if received_at is None else time.monotonic() - received_at
        if not self.admission.enter(max(0.0, self.queue_wait_s - waited)):
            log.info("Slack question refused: %d questions in flight for %.1f s", self.admission.limit, self.queue_wait_s)
            return Reply(sb.error_blocks(BUSY), BUSY)
        try:
            with self.admission.turn():
                return self._answer(question, channel, previous)
        finally:
            self.admission.leave()

    def _answer(self, question: str, channel: str | None, previous: Turn | None = None) -> Reply:
        try:
            service = self.service()
            reading = self._read(service, question, previous)
            defaults = self.state.defaults(channel).defaults if channel else ChannelDefaults()
            result = service.ask(reading.text, **defaults.ask_options())
            data = slack_result(service, result)
        except QAError as exc:
            return Reply(sb.error_blocks(str(exc)), sb.escape(str(exc)))
        except Exception:
            log.exception("answering a Slack question failed")
            return Reply(sb.error_blocks("Sorry, answering failed; the error is logged."), "Answering failed.")
        note = f"channel defaults: {defaults.describe()}" if defaults.describe() else ""
        shown = None if data["abstained"] or not data["answers"] else data["answers"][0]["text"]
        blocks = sb.result_blocks(data, service.index.articles, note)
        if reading.changed:
            blocks = sb.read_as_blocks(reading.text, blocks)
        return Reply(blocks, sb.fallback_text(data), shown, True, reading.text)

    @staticmethod
    def _read(service: QAService, question: str, previous: Turn | None) -> Reading:
        """The question as it will be asked: read with the thread's last turn when there is one."""
        if previous is None:
            return Reading(question, question)
        reading = read_followup(load_for_questions(service.settings.nlp_model), question, previous)
        if reading.changed:
            log.info("follow-up %r read as %r", question, reading.text)
        return reading

    def record(self, value: str, voter: str | None = None, message: str | None = None,
               channel: str = "slack") -> Feedback:
        """Store a button click in the feedback store, with the cited quote re-read from the article: one
        vote per voter and message, the latest replacing an earlier one."""
        data = sb.parse_feedback_value(value)
        citation = data["citation"]
        if citation is not None:
            article = self.service().index.articles.get(citation["doc_id"])
            start, end = citation["start"], citation["end"]
            ok = article is not None and 0 <= start <= end <= len(article.text)
            citation = {"doc_id": citation["doc_id"], "source": article.source if article else None,
                        "start": start, "end": end, "quote": article.text[start:end] if ok else None}
        key = (voter, message) if voter and message else (None, None)
        return self.feedback.add(Feedback(data["question"], data["answer"], data["verdict"], citation, None, channel,
                                          None, None, *key))

    # -------------------------------------------------------------- the bolt app
    def build_app(self, client: WebClient, signing_secret: str | None = None, verify_token: bool = True) -> App:
        # Enough workers that questions wait in admission's bounded queue (with its deadline), not in
        # bolt's unbounded executor queue (5 workers by default).
        workers = self.admission.limit + QUEUE_THREADS
        app = App(client=client, signing_secret=signing_secret or "", name="newsqa",
                  token_verification_enabled=verify_token, request_verification_enabled=signing_secret is not None,
                  listener_executor=ThreadPoolExecutor(workers, thread_name_prefix="slack"))
        app.middleware(self._first_delivery_only)
        app.event("app_mention")(ack=_ack, lazy=[self._answer_event])
        app.event("message", matchers=[_is_direct_question])(ack=_ack, lazy=[self._answer_event])
        app.event("message")(_ack)  # other messages (edits, the bot's own, channels): acknowledged, ignored
        app.event("app_home_opened")(ack=_ack, lazy=[self._publish_home])
        app.command(SLASH_COMMAND)(ack=_ack_command, lazy=[self._answer_command])
        app.command(DEFAULTS_COMMAND)(self._defaults_command)
        app.action(re.compile(f"^({sb.ACTION_UP}|{sb.ACTION_DOWN})$"))(ack=_ack, lazy=[self._feedback_clicked])
        return app

    def _first_delivery_only(self, body: dict, context, next) -> BoltResponse | None:
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if event_id and not self.seen.first_time(event_id):
            log.info("event %s already taken; not answering it again", event_id)
            return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})
        context["received_at"] = time.monotonic()  # the queue's wait counts from here
        return next()

    def _log(self, user: str | None, channel: str, question: str, reply: Reply) -> None:
        if user and reply.logged:
            self.state.log_question(user, channel, reply.asked or question, reply.shown)

    def _answer_event(self, event: dict, client: WebClient, context) -> None:
        channel, ts = event["channel"], event["ts"]
        question = sb.question_from_slack(event.get("text", ""), context.bot_user_id)
        # The reply goes to the question's thread (a new one under a question in the channel); a question
        # already in a thread is read with the thread's last turn, when the bot answered in it.
        thread = event.get("thread_ts") or ts
        previous = self.state.last_turn(channel, thread) if event.get("thread_ts") else None
        _react(client, "reactions_add", channel, ts)
        try:
            reply = self.reply(question, channel, context.get("received_at"), previous) if question else \
                Reply(sb.error_blocks(_USAGE), _USAGE)
            if reply.logged and reply.asked:  # before posting: a follow-up to the answer can come at once
                self.state.remember_turn(channel, thread, Turn(reply.asked, reply.shown))
            client.chat_postMessage(channel=channel, thread_ts=thread, blocks=reply.blocks,
                                    text=reply.text, unfurl_links=False, unfurl_media=False)
            self._log(event.get("user"), channel, question, reply)
        finally:
            _react(client, "reactions_remove", channel, ts)

    def _answer_command(self, command: dict, context) -> None:
        question = sb.question_from_slack(command.get("text", ""))
        if not question:
            return  # the ack already showed the usage
        reply = self.reply(question, command.get("channel_id"), context.get("received_at"))
        # The private "Looking for an answer…" goes first (Slack: delete_original must be sent alone),
        # then the answer, for the channel.
        _respond(command["response_url"], {"delete_original": True})
        _respond(command["response_url"], {"response_type": "in_channel", "blocks": reply.blocks, "text": reply.text,
                                           "unfurl_links": False, "unfurl_media": False})
        self._log(command.get("user_id"), command.get("channel_id") or "", question, reply)

    def _feedback_clicked(self, body: dict, action: dict) -> None:
        user = (body.get("user") or {}).get("id")
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        message = f"{channel}/{ts}" if channel and ts else None
        try:
            saved = self.record(action["value"], user, message)
        except (ValueError, QAError) as exc:
            log.warning("feedback click not stored: %s", exc)
            return
        tally = self.feedback.tally(message) if message else {saved.verdict: 1}
        blocks = (body.get("message") or {}).get("blocks") or []
        _respond(body["response_url"], {"replace_original": True, "text": "Thanks for the feedback.",
                                        "blocks": sb.voted_blocks(blocks, tally, saved.verdict, user)})

    def _defaults_command(self, ack, command: dict) -> None:
        """/ask-defaults: show the channel's defaults; `key=value …` or `clear` (admins only) change them."""
        channel, user, text = command.get("channel_id") or "", command.get("user_id") or "", command.get("text") or ""
        words = text.strip()
        try:
            if not words:
                bound = self.state.defaults(channel)
            elif user not in self.admins:
                return ack(text=f"Only the bot's admins (QA_SLACK_ADMINS) can change channel defaults. "
                                f"{sb.defaults_text(self.state.defaults(channel))}", response_type="ephemeral")
            elif words == "clear":
                bound = self.state.unbind(channel)
            else:
                bound = self.state.bind(channel, self._checked(ChannelDefaults.parse(words)), user)
        except DefaultsError as exc:
            return ack(text=f":warning: {sb.escape(str(exc))}. {_DEFAULTS_USAGE}", response_type="ephemeral")
        ack(text=sb.defaults_text(bound), response_type="ephemeral")

    def _checked(self, defaults: ChannelDefaults) -> ChannelDefaults:
        """Defaults whose filters name what the service serves (a source that is no doc id or outlet is
        refused when it is set, not at every question)."""
        service, wanted = self._service(), defaults.ask_options().get("filters")
        if service is not None and wanted is not None:
            try:
                service.valid_filters(wanted)  # against the articles served, with the service's catalog
            except InvalidQuestion as exc:
                raise DefaultsError(str(exc)) from None
        return defaults

    def _publish_home(self, event: dict, client: WebClient) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        user = event["user"]
        view = sb.home_view(self.state.recent(user, sb.RECENT_SHOWN), self.state.all_defaults(),
                            self._default_mode())
        client.views_publish(user_id=user, view=view)

    def _default_mode(self) -> str | None:
        service = self._service()
        return service.settings.default_mode if service is not None else None


BUSY = "Busy answering other questions right now; try again in a few seconds."
QUEUE_THREADS = 12  # bolt workers beyond the admission limit: questions waiting for a slot
DEFAULTS_COMMAND = "/ask-defaults"
_USAGE = f"Ask a question in plain words, e.g. `{SLASH_COMMAND} what did Putin agree to?`"
_DEFAULTS_USAGE = (f"Use `{DEFAULTS_COMMAND}` to see this channel's defaults, `{DEFAULTS_COMMAND} mode=bm25 "
                   f"sources=DOC_OR_OUTLET,… since=YYYY-MM-DD until=YYYY-MM-DD` to set them, `{DEFAULTS_COMMAND} clear` "
                   f"to go back to the service's.")


def _ack(ack) -> None:
    ack()


def _ack_command(ack, command: dict) -> None:
    question = sb.question_from_slack(command.get("text", ""))
    ack(text=sb.looking_text(question) if question else _USAGE, response_type="ephemeral")


def _is_direct_question(event: dict) -> bool:
    return event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id")


# ------------------------------------------------------------------ HTTP mode
def mount(app: FastAPI, settings: Settings) -> bool:
    """Serve Slack's HTTP events at /slack/events when the bot token and signing secret are set."""
    token, secret = _secret(settings.slack_bot_token), _secret(settings.slack_signing_secret)
    if not (token and secret):
        log.info("Slack HTTP events are off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to serve %s", EVENTS_PATH)
        return False
    bot = SlackBot.from_settings(settings, lambda: app.state.service, app.state.feedback, app.state.admission)
    # No auth.test at start-up: it runs on the first event, so the API starts without reaching Slack.
    bolt = bot.build_app(web_client(settings, token), signing_secret=secret, verify_token=False)
    router = APIRouter()

    @router.post(EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        h = request.headers
        problem = signature_problem(secret, body, h.get("x-slack-request-timestamp"), h.get("x-slack-signature"))
        if problem:
            return error_response(request, 401, "invalid_signature", problem)
        try:
            bolt_request = to_bolt_request(request, body)
        except (UnicodeDecodeError, ValueError):
            return error_response(request, 400, "invalid_slack_payload",
                                  "the body is not a Slack payload (UTF-8 JSON or form with a JSON `payload`)")
        # dispatch blocks (auth.test on the first event, then the ack): keep it off the event loop.
        return to_starlette_response(await asyncio.to_thread(bolt.dispatch, bolt_request))

    app.include_router(router)
    app.state.slack = bot
    return True


# ------------------------------------------------------------------ Socket Mode
class SlackSetupError(Exception):
    """The Slack settings cannot work; the message says which variable to fix."""


def socket_mode_tokens(settings: Settings) -> tuple[str, str]:
    bot, app_token = _secret(settings.slack_bot_token), _secret(settings.slack_app_token)
    missing = [name for name, v in (("SLACK_BOT_TOKEN", bot), ("SLACK_APP_TOKEN", app_token)) if not v]
    if missing:
        raise SlackSetupError(f"set {' and '.join(missing)} to run the Slack bot in Socket Mode "
                              "(bot token xoxb-..., app-level token xapp-... with connections:write); see docs/slack.md")
    if not bot.startswith("xoxb-"):
        raise SlackSetupError("SLACK_BOT_TOKEN must be the bot token starting with xoxb- (OAuth & Permissions page)")
    if not app_token.startswith("xapp-"):
        raise SlackSetupError("SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic Information page)")
    return bot, app_token


def socket_mode_handler(settings: Settings, bot: SlackBot) -> SocketModeHandler:
    """The bolt app over a Socket Mode connection; checks the bot token with auth.test first."""
    token, app_token = socket_mode_tokens(settings)
    try:
        app = bot.build_app(web_client(settings, token), signing_secret=None, verify_token=True)
    except BoltError as exc:
        raise SlackSetupError(f"SLACK_BOT_TOKEN was refused by Slack: {exc}") from None
    return SocketModeHandler(app, app_token)


def run_socket_mode(settings: Settings, open_service: Callable[[Settings], QAService] = QAService.open) -> int:
    """Check the tokens, load the service, connect and serve until stopped. 0 on a clean stop, 2 on setup errors."""
    holder: dict[str, QAService] = {}
    try:
        socket_mode_tokens(settings)  # before anything is loaded or created
        # Its own process: its own bound, the same size as the API's.
        admission = Admission(settings.max_in_flight, settings.max_computing)
        bot = SlackBot.from_settings(settings, lambda: holder.get("service"), FeedbackStore(settings.feedback_db),
                                     admission)
        handler = socket_mode_handler(settings, bot)
        set_compute_threads(settings.torch_threads)
        holder["service"] = open_service(settings)
        log.info("ready: %s", holder["service"].readiness())
        handler.connect()
    except SlackSetupError as exc:
        print(f"qa slack: error: {exc}", file=sys.stderr)
        return 2
    except (SlackApiError, SlackClientError) as exc:
        print(f"qa slack: error: cannot open a Socket Mode connection with SLACK_APP_TOKEN: {exc}", file=sys.stderr)
        return 2
    except QAError as exc:
        print(f"qa slack: error: {exc}", file=sys.stderr)
        return 2
    log.info("connected to Slack in Socket Mode; Ctrl-C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return run_socket_mode(get_settings())


if __name__ == "__main__":
    sys.exit(main())
