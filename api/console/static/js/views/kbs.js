// Knowledge bases: the caller's KBs with their counts and settings; create one; drop one.

import { ApiError, call, kbPath } from "../api.js";
import {
  confirmAction,
  errorBox,
  field,
  fmtTime,
  h,
  replace,
  screenTitle,
  select,
  statusLine,
  table,
} from "../dom.js";

export const title = "Knowledge bases";

export async function render(root, ctx) {
  const listArea = h("div", { class: "list-area" }, statusLine("Loading knowledge bases…"));
  const form = createForm(ctx);
  replace(
    root,
    screenTitle(title),
    h(
      "section",
      { "aria-labelledby": "kb-list-title" },
      h("h3", { id: "kb-list-title" }, "Your knowledge bases"),
      listArea,
    ),
    form,
  );
  await showList(listArea, ctx);
}

// Counts need each KB opened (GET /v1/kbs/{kb}); a few at a time, so a long list neither
// floods the service nor spends the key's request budget in one burst.
const COUNT_CONCURRENCY = 4;

async function showList(area, ctx) {
  let kbs;
  try {
    kbs = (await call("GET", "/kbs", { signal: ctx.signal })).data;
  } catch (err) {
    if (err.name !== "AbortError") replace(area, errorBox(err));
    return;
  }
  ctx.syncKbs(kbs);
  if (!kbs.length) {
    replace(area, h("p", { class: "empty" }, "No knowledge base yet: create one below."));
    return;
  }
  const cells = new Map(kbs.map((kb) => [kb.name, { documents: pending(), chunks: pending() }]));
  const columns = [
    ["Name", (kb) => h("a", { href: ctx.link("ingest", kb.name) }, kb.name)],
    ["Documents", (kb) => cells.get(kb.name).documents],
    ["Chunks", (kb) => cells.get(kb.name).chunks],
    ["Engine", (kb) => kb.engine],
    ["Index", (kb) => kb.index],
    ["Embedder", (kb) => h("span", { class: "mono" }, `${kb.embedder} (${kb.dim})`)],
    ["Domain", (kb) => kb.domain],
    ["Created", (kb) => h("time", { datetime: kb.created_at }, fmtTime(kb.created_at))],
    [
      "Actions",
      (kb) =>
        ctx.admin
          ? h(
              "button",
              { type: "button", class: "danger small", onclick: () => drop(kb, ctx) },
              "Drop",
              h("span", { class: "sr-only" }, ` ${kb.name}`),
            )
          : "",
    ],
  ];
  replace(area, table("Knowledge bases", columns, kbs));
  const queue = [...kbs];
  const worker = async () => {
    for (let kb = queue.shift(); kb && !ctx.signal.aborted; kb = queue.shift()) {
      const { documents, chunks } = cells.get(kb.name);
      try {
        const full = await call("GET", kbPath(kb.name), { signal: ctx.signal });
        Object.assign(kb, { documents: full.documents, chunks: full.chunks });
        documents.textContent = count(full.documents);
        chunks.textContent = count(full.chunks);
      } catch (err) {
        if (err.name === "AbortError") return;
        documents.textContent = chunks.textContent = "unavailable";
        documents.title = chunks.title = err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: COUNT_CONCURRENCY }, worker));
}

const pending = () => h("span", { class: "count" }, "…");
const count = (n) => (n === null || n === undefined ? "unavailable" : n.toLocaleString());

async function drop(kb, ctx) {
  const what =
    kb.documents === null || kb.documents === undefined
      ? "and everything in it"
      : `with its ${count(kb.documents)} documents and ${count(kb.chunks)} chunks`;
  const ok = await confirmAction(
    `Drop ${kb.name}?`,
    `This deletes knowledge base ${kb.name} ${what}. It cannot be undone.`,
    "Drop knowledge base",
  );
  if (!ok) return;
  try {
    await call("DELETE", kbPath(kb.name));
    ctx.notify(`Dropped ${kb.name}.`);
    await ctx.refreshKbs(kb.name === ctx.kb ? null : ctx.kb);
  } catch (err) {
    ctx.fail(err);
  }
}

function createForm(ctx) {
  const name = h("input", {
    id: "kb-name",
    name: "name",
    required: true,
    maxlength: 63,
    autocomplete: "off",
    pattern: "[a-z0-9][a-z0-9_\\-]*",
    spellcheck: "false",
  });
  const engine = select(
    "kb-engine",
    [
      ["local", "local (FAISS + SQLite)"],
      ["elasticsearch", "Elasticsearch"],
    ],
    "local",
  );
  const index = select(
    "kb-index",
    [
      ["", "service default"],
      ["flat", "flat (exact)"],
      ["hnsw", "HNSW (fast)"],
      ["ivfpq", "IVF-PQ (compact)"],
    ],
    "",
  );
  const domain = h("input", {
    id: "kb-domain",
    name: "domain",
    value: "general",
    maxlength: 64,
    pattern: "[a-z0-9][a-z0-9_\\-]*",
  });
  const result = h("div", { class: "form-result" });
  const button = h("button", { type: "submit" }, "Create knowledge base");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "kb-create-title" },
    h("h3", { id: "kb-create-title" }, "Create a knowledge base"),
    h(
      "div",
      { class: "grid" },
      field("Name", name, "lower-case letters, digits, '-' or '_'"),
      field("Engine", engine),
      field("Vector index", index),
      field("Domain", domain, "picks the generator profile"),
    ),
    h("div", { class: "actions" }, button),
    result,
  );
  if (!ctx.admin) {
    for (const el of form.querySelectorAll("input, select, button")) el.disabled = true;
    result.append(
      h("p", { class: "hint" }, "Creating a knowledge base needs a key with the admin scope."),
    );
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    replace(result, statusLine(`Creating ${name.value}…`));
    const body = {
      name: name.value.trim(),
      engine: engine.value,
      domain: domain.value.trim() || "general",
    };
    if (index.value) body.index = index.value;
    try {
      const kb = await call("POST", "/kbs", { json: body });
      ctx.notify(`Created ${kb.name}.`);
      await ctx.refreshKbs(kb.name);
    } catch (err) {
      replace(result, errorBox(err instanceof ApiError ? err : new ApiError(0, String(err))));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
