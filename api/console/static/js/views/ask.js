// Ask: a grounded answer streams in; its citations open the passage they cite. An abstention
// says so. Analyst mode sends a JSON schema and shows the validated object it got back.

import { request, kbPath } from "../api.js";
import {
  errorBox,
  field,
  fmtPage,
  h,
  highlighted,
  replace,
  screenTitle,
  select,
  statusLine,
} from "../dom.js";
import { partialString } from "../partial.js";
import { readEvents } from "../sse.js";

export const title = "Ask";
const EXAMPLE_SCHEMA = new URL("../../examples/analyst-schema.json", import.meta.url);
const ABSTAINED = {
  no_relevant_passages:
    "No passage of the knowledge base was relevant enough, or none names what the question names.",
  model_abstained: "The model read the passages below and found no answer in them.",
};

export function render(root, ctx) {
  if (!ctx.kb) {
    replace(root, screenTitle(title), ctx.noKb());
    return;
  }
  const question = h("textarea", {
    id: "ask-question",
    name: "question",
    rows: 2,
    required: true,
    maxlength: 4000,
  });
  const mode = select(
    "ask-mode",
    [
      ["hybrid", "hybrid"],
      ["dense", "dense"],
      ["bm25", "BM25"],
    ],
    "hybrid",
  );
  const k = h("input", {
    id: "ask-k",
    type: "number",
    name: "k",
    min: 1,
    max: 50,
    placeholder: "default",
  });
  const maxTokens = h("input", {
    id: "ask-max-tokens",
    type: "number",
    name: "max_tokens",
    min: 16,
    max: 8192,
    placeholder: "default",
  });
  const analyst = h("input", { id: "ask-analyst", type: "checkbox", name: "analyst" });
  const schema = h("textarea", {
    id: "ask-schema",
    name: "schema",
    rows: 10,
    spellcheck: "false",
    class: "mono",
  });
  const schemaField = h(
    "div",
    { class: "schema-field", hidden: true },
    field(
      "JSON schema of the answer's data",
      schema,
      "an object schema; the answer is validated against it and still cites its passages",
    ),
  );
  analyst.addEventListener("change", async () => {
    schemaField.hidden = !analyst.checked;
    if (analyst.checked && !schema.value) schema.value = await exampleSchema();
  });
  const ask = h("button", { type: "submit" }, "Ask");
  const stop = h("button", { type: "button", class: "secondary", disabled: true }, "Stop");
  const output = h("div", { class: "ask-output" });
  const form = h(
    "form",
    { class: "card", "aria-label": `Ask ${ctx.kb}` },
    field("Question", question),
    h(
      "div",
      { class: "grid" },
      field("Retrieval mode", mode),
      field("Passages (k)", k),
      field("Max tokens", maxTokens),
    ),
    h(
      "div",
      { class: "check" },
      analyst,
      h("label", { for: "ask-analyst" }, "Analyst mode: answer as JSON following a schema"),
    ),
    schemaField,
    h("div", { class: "actions" }, ask, stop),
  );
  let running = null;
  stop.addEventListener("click", () => running?.abort());
  ctx.signal.addEventListener("abort", () => running?.abort());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { question: question.value, mode: mode.value, stream: true };
    if (k.value) body.k = Number(k.value);
    if (maxTokens.value) body.max_tokens = Number(maxTokens.value);
    if (analyst.checked) {
      try {
        body.schema = JSON.parse(schema.value);
      } catch (err) {
        replace(output, errorBox(new Error(`the schema is not valid JSON: ${err.message}`)));
        return;
      }
    }
    running = new AbortController();
    ask.disabled = true;
    stop.disabled = false;
    try {
      await stream(ctx, body, output, running.signal);
    } finally {
      ask.disabled = false;
      stop.disabled = true;
      running = null;
    }
  });
  replace(
    root,
    screenTitle(title, ctx.kb),
    form,
    output,
  );
}

async function exampleSchema() {
  const response = await fetch(EXAMPLE_SCHEMA, { cache: "no-cache" });
  return response.ok ? response.text() : "";
}

async function stream(ctx, body, output, signal) {
  const status = statusLine("Retrieving passages…");
  const live = h("div", { class: "answer-live", "aria-busy": "true" });
  const cited = h("aside", {
    class: "cited",
    tabindex: "-1",
    hidden: true,
    "aria-labelledby": "cited-title",
  });
  const passagesArea = h("div");
  replace(output, status, live, cited, passagesArea);
  let text = "";
  let answered = false;
  try {
    const response = await request("POST", kbPath(ctx.kb, "/answer"), {
      json: body,
      signal,
      accept: "text/event-stream",
    });
    for await (const { event, data } of readEvents(response, signal)) {
      const payload = JSON.parse(data);
      if (event === "passages") {
        status.textContent = `Generating from ${payload.passages.length} passage(s)…`;
        replace(passagesArea, passageList(payload.passages, body.question));
      } else if (event === "delta") {
        text += payload.text;
        replace(
          live,
          body.schema
            ? h("pre", { class: "stream mono" }, text)
            : h("p", { class: "answer-text" }, partialString(text, "answer") ?? ""),
        );
      } else if (event === "answer") {
        answered = true;
        status.textContent = describe(payload);
        replace(live, finalAnswer(payload, body, cited));
      } else if (event === "error") {
        replace(live, errorBox(payload.error));
        status.textContent = "The answer failed.";
      }
    }
    if (!answered && !signal.aborted && status.textContent !== "The answer failed.") {
      replace(live, errorBox(new Error("the stream ended before the answer arrived")));
    }
  } catch (err) {
    if (err.name === "AbortError" || signal.aborted) {
      status.textContent = "Stopped.";
    } else {
      status.textContent = "The question was refused.";
      replace(live, errorBox(err));
    }
  } finally {
    live.setAttribute("aria-busy", "false");
  }
}

function describe(answer) {
  const secs = answer.timings.total.toFixed(1);
  const tokens = answer.usage.completion_tokens;
  const outcome = answer.outcome.replaceAll("_", " ");
  return `${outcome} in ${secs} s · ${tokens} tokens · ${answer.model} (${answer.profile})`;
}

function finalAnswer(answer, body, cited) {
  const citations = new Map(answer.citations.map((c) => [c.passage, c]));
  const show = (c) => showCitation(c, body.question, cited);
  if (!answer.answerable) {
    return h(
      "div",
      { class: "abstention", role: "note" },
      h("h3", {}, "Not in the knowledge base"),
      h("p", {}, answer.answer),
      h("p", { class: "hint" }, ABSTAINED[answer.outcome] ?? ""),
    );
  }
  return h(
    "div",
    { class: "final" },
    body.schema
      ? [
          h("h3", {}, "Validated object"),
          h("pre", { class: "data mono" }, JSON.stringify(answer.data, null, 2)),
        ]
      : [
          h("h3", {}, answer.quoted ? "Quoted from the passages" : "Answer"),
          answer.quoted
            ? h(
                "p",
                { class: "hint quoted-note" },
                `Sentences quoted verbatim from the cited passages by profile ${answer.profile}; ` +
                  "no model wrote this.",
              )
            : null,
          h("p", { class: "answer-text" }, withMarkers(answer.answer, citations, show)),
        ],
    answer.confidence !== null
      ? h("p", { class: "hint" }, `model confidence ${answer.confidence}`)
      : null,
    h("h3", {}, "Citations"),
    answer.citations.length
      ? h(
          "ul",
          { class: "citations" },
          answer.citations.map((c) =>
            h(
              "li",
              {},
              h(
                "button",
                { type: "button", class: "citation", onclick: () => show(c) },
                `[${c.passage}] ${c.doc_id} · ${fmtPage(c.page)}`,
              ),
            ),
          ),
        )
      : h("p", { class: "hint" }, "The answer cites no passage."),
  );
}

/** The answer text with its [n] markers as buttons that open the cited passage. */
function withMarkers(text, citations, show) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const citation = citations.get(Number(match[1]));
    if (!citation) continue;
    parts.push(text.slice(last, match.index));
    parts.push(
      h(
        "button",
        {
          type: "button",
          class: "marker",
          "aria-label": `citation ${match[1]}: ${citation.doc_id}, ${fmtPage(citation.page)}`,
          onclick: () => show(citation),
        },
        match[0],
      ),
    );
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function showCitation(c, question, cited) {
  replace(
    cited,
    h("h3", { id: "cited-title" }, `Cited passage [${c.passage}]`),
    h(
      "p",
      { class: "hit-head" },
      h("strong", { class: "mono" }, c.doc_id),
      h("span", { class: "page" }, fmtPage(c.page)),
      c.title ? h("span", {}, c.title) : null,
    ),
    h("blockquote", { class: "chunk-text" }, highlighted(c.text, question)),
  );
  cited.hidden = false;
  cited.focus();
}

function passageList(passages, question) {
  if (!passages.length) return null;
  return h(
    "details",
    { class: "passages" },
    h("summary", {}, `Passages given to the model (${passages.length})`),
    h(
      "ol",
      {},
      passages.map((p) =>
        h(
          "li",
          { value: p.number },
          h(
            "p",
            { class: "hit-head" },
            h("strong", { class: "mono" }, p.doc_id),
            h("span", { class: "page" }, fmtPage(p.page)),
            h("span", { class: "score" }, `relevance ${p.relevance}`),
          ),
          h("p", { class: "chunk-text" }, highlighted(p.text, question)),
        ),
      ),
    ),
  );
}
