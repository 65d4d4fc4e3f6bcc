// Search playground: a query, a mode, k and metadata filters; each hit with its document,
// page, score and text, the query's words marked.

import { call, kbPath } from "../api.js";
import {
  errorBox,
  field,
  fmtPage,
  fmtScore,
  h,
  highlighted,
  replace,
  screenTitle,
  select,
  statusLine,
} from "../dom.js";
import { parseFilters } from "../filters.js";

export const title = "Search";

export function render(root, ctx) {
  if (!ctx.kb) {
    replace(root, screenTitle(title), ctx.noKb());
    return;
  }
  const query = h("input", {
    id: "search-query",
    type: "search",
    name: "query",
    required: true,
    maxlength: 4000,
    autocomplete: "off",
  });
  const mode = select(
    "search-mode",
    [
      ["hybrid", "hybrid (BM25 + dense)"],
      ["dense", "dense (meaning)"],
      ["bm25", "BM25 (words)"],
    ],
    "hybrid",
  );
  const k = h("input", {
    id: "search-k",
    type: "number",
    name: "k",
    min: 1,
    max: 100,
    value: "10",
    required: true,
  });
  const filters = h("textarea", {
    id: "search-filters",
    name: "filters",
    rows: 2,
    spellcheck: "false",
    placeholder: "year=2023",
  });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Search");
  const form = h(
    "form",
    { class: "card", role: "search", "aria-label": `Search ${ctx.kb}` },
    h(
      "div",
      { class: "grid wide-first" },
      field("Query", query),
      field("Mode", mode),
      field("Results (k)", k),
    ),
    field(
      "Metadata filters",
      filters,
      "one key=value per line, all must match; numbers and true/false are typed, " +
        "quote to match text",
    ),
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { query: query.value, mode: mode.value, k: Number(k.value) };
    try {
      const parsed = parseFilters(filters.value);
      if (parsed) body.filters = parsed;
    } catch (err) {
      replace(results, errorBox(err));
      return;
    }
    button.disabled = true;
    replace(results, statusLine("Searching…"));
    try {
      const started = performance.now();
      const found = await call("POST", kbPath(ctx.kb, "/search"), {
        json: body,
        signal: ctx.signal,
      });
      const ms = Math.round(performance.now() - started);
      replace(
        results,
        statusLine(`${found.data.length} hit(s) for “${body.query}” (${found.mode}, ${ms} ms)`),
        found.data.length
          ? h(
              "ol",
              { class: "hits" },
              found.data.map((hit) => hitCard(hit, body.query)),
            )
          : null,
      );
    } catch (err) {
      if (err.name !== "AbortError") replace(results, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  replace(
    root,
    screenTitle(title, ctx.kb),
    form,
    results,
  );
}

function hitCard(hit, query) {
  const where = [hit.title, ...hit.heading_path].filter(
    (part, i, all) => part && all.indexOf(part) === i,
  );
  const meta = Object.entries(hit.metadata ?? {});
  return h(
    "li",
    { class: "hit" },
    h(
      "div",
      { class: "hit-head" },
      h("strong", { class: "mono" }, hit.doc_id),
      h("span", { class: "page" }, fmtPage(hit.page)),
      h("span", { class: "score" }, `score ${fmtScore(hit.score)}`),
    ),
    where.length ? h("p", { class: "hint" }, where.join(" › ")) : null,
    h("p", { class: "chunk-text" }, highlighted(hit.text, query)),
    meta.length
      ? h(
          "p",
          { class: "hint mono" },
          meta.map(([key, value]) => `${key}=${JSON.stringify(value)}`).join("  "),
        )
      : null,
  );
}
