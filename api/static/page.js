// The page to ask from: plain JavaScript over the JSON API, no build step.
// Every piece of article or question text reaches the page as a text node (textContent, createTextNode),
// never as markup. Offsets from the API count Unicode code points (Python's str), so text is sliced
// as arrays of code points, never with String.prototype.slice (UTF-16 units).
"use strict";

(() => {
  const KEY_STORE = "newsqa.apiKey";
  const KEY_HEADER = "X-API-Key";
  const REASONS = {
    not_in_corpus: "The articles do not contain the words this question asks about.",
    low_confidence: "The articles mention these words, but no sentence answers the question well enough.",
    ambiguous: "The question does not say who or what it refers to; name them and ask again.",
  };
  const $ = (id) => document.getElementById(id);
  const documents = new Map(); // doc_id -> Promise of GET /documents/{doc_id}

  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail);
      this.status = status;
      this.code = code;
    }
  }

  // ------------------------------------------------------------ small DOM helpers (text only)
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  const codePoints = (text) => Array.from(text);
  const slice = (cps, from, to) => cps.slice(from, to).join("");

  // `cps[from:to]` with `cps[markFrom:markTo]` inside it wrapped in <mark>.
  function marked(cps, from, to, markFrom, markTo) {
    const a = Math.min(Math.max(markFrom, from), to);
    const b = Math.min(Math.max(markTo, a), to);
    return [slice(cps, from, a), el("mark", {}, slice(cps, a, b)), slice(cps, b, to)];
  }

  function safeUrl(url) {
    if (!url) return null;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  const percent = (x) => `${Math.round(x * 100)}%`;

  // ------------------------------------------------------------ the API
  function headers(json) {
    const h = {Accept: "application/json"};
    if (json) h["Content-Type"] = "application/json";
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) h[KEY_HEADER] = key;
    return h;
  }

  async function call(method, path, body) {
    const init = {method, headers: headers(body !== undefined)};
    if (body !== undefined) init.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "network", "the server could not be reached; is it running?");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const detail = data && data.detail ? data.detail : `the server answered ${response.status}`;
      throw new ApiError(response.status, data && data.error ? data.error : "http_" + response.status, detail);
    }
    return data;
  }

  function documentOf(docId) {
    if (!documents.has(docId)) {
      const pending = call("GET", "/documents/" + encodeURIComponent(docId));
      pending.catch(() => documents.delete(docId)); // a failure is not remembered: the next look tries again
      documents.set(docId, pending);
    }
    return documents.get(docId);
  }

  // The request body: the question, and only the filters the user set.
  function askBody(question) {
    const body = {question};
    const sources = $("sources").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (sources.length) body.sources = sources;
    if ($("published-from").value) body.published_from = $("published-from").value;
    if ($("published-to").value) body.published_to = $("published-to").value;
    return body;
  }

  // ------------------------------------------------------------ rendering
  function sourceLine(c) {
    const outlet = c.outlet || c.title || c.source;
    const date = c.published || c.date;
    const url = safeUrl(c.url);
    return el("p", {class: "source"},
      el("span", {class: c.outlet ? "outlet" : "title"}, outlet),
      c.outlet && c.title ? el("span", {class: "title"}, " — " + c.title) : null,
      " · ",
      date ? el("time", {datetime: date}, /^\d{4}-\d{2}-\d{2}T/.test(date) ? date.slice(0, 10) : date)
        : el("span", {class: "undated"}, "undated"),
      url ? " · " : null,
      url ? el("a", {href: url, target: "_blank", rel: "noopener noreferrer"}, "read the article") : null,
      el("span", {class: "cite"}, ` ${c.source} [${c.start}:${c.end}]`));
  }

  function quote(c) {
    const cps = codePoints(c.quote);
    return el("blockquote", {class: "quote"}, ...marked(cps, 0, cps.length, c.answer_start - c.start, c.answer_end - c.start));
  }

  // The paragraph around a citation (the article's line), its sentence set off and the answer's words marked.
  function paragraph(doc, c) {
    const cps = codePoints(doc.text);
    if (slice(cps, c.start, c.end) !== c.quote) {
      return el("p", {class: "paragraph note"}, "The article has changed since this answer; its paragraph cannot be shown.");
    }
    let from = c.start;
    while (from > 0 && cps[from - 1] !== "\n") from -= 1;
    let to = c.end;
    while (to < cps.length && cps[to] !== "\n") to += 1;
    return el("p", {class: "paragraph"}, slice(cps, from, c.start),
      el("span", {class: "sentence"}, ...marked(cps, c.start, c.end, c.answer_start, c.answer_end)),
      slice(cps, c.end, to));
  }

  function paragraphToggle(c) {
    const box = el("details", {class: "more"}, el("summary", {}, "Show the paragraph"));
    box.addEventListener("toggle", async () => {
      if (!box.open || box.dataset.loaded) return;
      box.dataset.loaded = "1";
      const slot = el("p", {class: "paragraph note"}, "Loading…");
      box.append(slot);
      try {
        slot.replaceWith(paragraph(await documentOf(c.doc_id), c));
      } catch (err) {
        slot.textContent = "The paragraph could not be loaded: " + err.message;
        delete box.dataset.loaded;
      }
    });
    return box;
  }

  function citationCard(c) {
    return el("li", {class: "citation"}, quote(c), sourceLine(c), paragraphToggle(c));
  }

  function votes(question, answerText, citation, labels) {
    const status = el("span", {class: "vote-status", role: "status", "aria-live": "polite"});
    const buttons = labels.map(([symbol, label, verdict]) => {
      const b = el("button", {type: "button", class: "vote", "aria-pressed": "false"},
        el("span", {"aria-hidden": "true"}, symbol + " "), label);
      b.addEventListener("click", async () => {
        buttons.forEach((x) => (x.disabled = true));
        status.textContent = "Sending…";
        const payload = {question, answer: answerText, verdict};
        if (citation) {
          payload.citation = {doc_id: citation.doc_id, source: citation.source, start: citation.start,
                              end: citation.end, quote: citation.quote};
        }
        try {
          const saved = await call("POST", "/feedback", payload);
          b.setAttribute("aria-pressed", "true");
          status.textContent = `Thanks: recorded as feedback #${saved.id}.`;
        } catch (err) {
          buttons.forEach((x) => (x.disabled = false));
          status.textContent = "Not recorded: " + err.message;
        }
      });
      return b;
    });
    return el("div", {class: "votes", role: "group", "aria-label": "Was this right?"}, ...buttons, status);
  }

  function outletsOf(answer) {
    return [...new Set(answer.citations.map((c) => c.outlet || c.title || c.source))].join("; ");
  }

  function differs(answer, index, all) {
    const others = (answer.differs_from || []).filter((j) => all[j]);
    if (!others.length) return null;
    const column = (a, j, heading) => el("div", {class: "value"},
      el("p", {class: "value-heading"}, heading),
      el("p", {class: "value-text"}, j === index ? a.text : el("a", {href: `#answer-${j + 1}`}, a.text)),
      el("p", {class: "value-outlets"}, outletsOf(a)));
    return el("section", {class: "differs", "aria-label": "Sources differ"},
      el("h4", {}, "The sources differ"),
      el("div", {class: "side-by-side"}, column(answer, index, "This answer"),
        ...others.map((j) => column(all[j], j, `Answer ${j + 1}`))));
  }

  function answerCard(question, answer, index, all) {
    const first = answer.citations[0];
    const corroborated = answer.support_count > 1;
    return el("article", {class: "answer", id: `answer-${index + 1}`, "aria-labelledby": `answer-${index + 1}-text`},
      el("p", {class: "answer-text", id: `answer-${index + 1}-text`},
        el("span", {class: "rank"}, `${index + 1}.`), " ",
        answer.label ? el("strong", {class: "label"}, answer.label + ": ") : null,
        answer.text),
      el("p", {class: "meta"},
        `confidence ${percent(answer.score)}`,
        corroborated ? ` · reported by ${answer.support_count} outlets` : "",
        answer.resolved_date ? ` · date meant: ${answer.resolved_date}` : ""),
      answer.speaker ? el("p", {class: "speaker"}, "A claim by ", el("strong", {}, answer.speaker.text),
        el("span", {class: "cite"}, ` ${answer.speaker.citation.source} [${answer.speaker.citation.answer_start}:${answer.speaker.citation.answer_end}]`)) : null,
      answer.items ? el("ul", {class: "items"}, ...answer.items.map((m) =>
        el("li", {}, m.text, el("span", {class: "cite"}, ` ${m.citation.outlet || m.citation.title}`)))) : null,
      differs(answer, index, all),
      el("h4", {class: "sources-heading"}, corroborated ? `Corroborated by ${answer.support_count} outlets` : "Source"),
      el("ol", {class: corroborated ? "citations side-by-side" : "citations"}, ...answer.citations.map(citationCard)),
      votes(question, answer.text, first, [["👍", "Right", "correct"], ["👎", "Wrong", "wrong"]]));
  }

  function passageCard(p) {
    const source = el("p", {class: "source"}, el("span", {class: "outlet"}, p.source),
      el("span", {class: "cite"}, ` ${p.source} [${p.start}:${p.end}]`));
    // The title and date come with the article; the passage is shown at once, its source filled in after.
    documentOf(p.doc_id).then((doc) => {
      source.replaceWith(sourceLine({...doc, start: p.start, end: p.end}));
    }).catch(() => {});
    return el("li", {class: "citation"}, el("blockquote", {class: "quote"}, p.text), source);
  }

  function abstention(body) {
    const reason = REASONS[body.abstain_reason] || "The articles do not answer this question well enough.";
    return el("section", {class: "abstention", "aria-labelledby": "abstention-heading"},
      el("h3", {id: "abstention-heading"}, "No answer"),
      el("p", {class: "reason"}, reason),
      el("p", {class: "meta"}, `best evidence: confidence ${percent(body.confidence)}`),
      body.passages.length ? el("h4", {}, "The closest passages") : el("p", {}, "No passage came close."),
      el("ol", {class: "citations passages"}, ...body.passages.map(passageCard)),
      votes(body.question, "", null, [["👍", "Right not to answer", "no_answer_expected"],
                                       ["👎", "It should have answered", "wrong"]]));
  }

  function render(body) {
    const results = $("results");
    const heading = el("h2", {}, "You asked ", el("q", {class: "asked"}, body.question));
    const parts = body.abstained
      ? [abstention(body)]
      : body.answers.map((a, i, all) => answerCard(body.question, a, i, all));
    if (!body.abstained && body.passages.length) {
      parts.push(el("details", {class: "more passages-box"}, el("summary", {}, `Passages read (${body.passages.length})`),
        el("ol", {class: "citations passages"}, ...body.passages.map(passageCard))));
    }
    results.replaceChildren(heading, ...parts);
  }

  // ------------------------------------------------------------ wiring
  function showError(err) {
    const box = $("error");
    const needsKey = err.status === 401 || err.status === 403;
    box.replaceChildren(el("p", {}, needsKey
      ? "This server needs a valid API key: enter it under “API key” and ask again."
      : "The question could not be answered."), el("p", {class: "detail"}, err.message));
    box.hidden = false;
    if (needsKey) {
      $("key-box").open = true;
      $("api-key").focus();
    }
  }

  async function ask(event) {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question) {
      $("question").focus();
      return;
    }
    const button = $("ask");
    button.disabled = true;
    $("error").hidden = true;
    $("status").textContent = "Asking…";
    try {
      const body = await call("POST", "/ask", askBody(question));
      render(body);
      $("status").textContent = body.abstained
        ? `No answer (${Math.round(body.took_ms)} ms).`
        : `${body.answers.length} answer${body.answers.length === 1 ? "" : "s"} (${Math.round(body.took_ms)} ms).`;
    } catch (err) {
      $("status").textContent = "";
      showError(err);
    } finally {
      button.disabled = false;
    }
  }

  function start() {
    const key = $("api-key");
    key.value = sessionStorage.getItem(KEY_STORE) || "";
    key.addEventListener("input", () => {
      if (key.value) sessionStorage.setItem(KEY_STORE, key.value);
      else sessionStorage.removeItem(KEY_STORE);
      documents.clear();
    });
    $("ask-form").addEventListener("submit", ask);
    $("question").focus();
  }

  start();
})();
