// Ingestion: upload files (drag and drop or a file picker), watch each job's stages, cancel a
// job, and the KB's documents with delete.

import { call, kbPath, request } from "../api.js";
import {
  confirmAction,
  errorBox,
  field,
  fmtTime,
  h,
  replace,
  screenTitle,
  statusLine,
  table,
} from "../dom.js";

export const title = "Ingestion";
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
// Polls quickly while a job moves, slower while nothing changes: a key's request budget
// (RAG_API_RATE_REQUESTS a minute) must last through a long job.
const POLL_MS = 700;
const POLL_MAX_MS = 3000;
const PAGE = 50;

export async function render(root, ctx) {
  if (!ctx.kb) {
    replace(root, screenTitle(title), ctx.noKb());
    return;
  }
  const jobsArea = h("div", { class: "jobs" }, statusLine("Loading jobs…"));
  const docsArea = h("div", { class: "documents" }, statusLine("Loading documents…"));
  const view = {
    ctx,
    jobsArea,
    docsArea,
    offset: 0,
    timer: null,
    delay: POLL_MS,
    last: "",
    known: new Map(),
    errorsOpen: new Map(),
  };
  ctx.signal.addEventListener("abort", () => clearTimeout(view.timer));
  replace(
    root,
    screenTitle(title, ctx.kb),
    uploader(view),
    h(
      "section",
      { "aria-labelledby": "jobs-title" },
      h("h3", { id: "jobs-title" }, "Jobs"),
      jobsArea,
    ),
    h(
      "section",
      { "aria-labelledby": "docs-title" },
      h("h3", { id: "docs-title" }, "Documents"),
      docsArea,
    ),
  );
  await Promise.all([pollJobs(view), showDocuments(view)]);
}

function uploader(view) {
  const { ctx } = view;
  let chosen = [];
  const input = h("input", { id: "upload-files", type: "file", multiple: true, name: "files" });
  const list = h("ul", { class: "chosen", "aria-live": "polite" });
  const result = h("div", { class: "form-result" });
  const button = h("button", { type: "submit", disabled: true }, "Upload");
  const zone = h(
    "div",
    { class: "dropzone" },
    h("p", { class: "drop-hint", "aria-hidden": "true" }, "Drop files here"),
    field(
      "Files to ingest",
      input,
      "txt, md, html, pdf, docx, csv or jsonl; several at once; " +
        "each file name becomes its document id",
    ),
    list,
  );
  const choose = (files) => {
    chosen = [...files];
    replace(
      list,
      chosen.map((f) => h("li", {}, `${f.name} `, h("small", {}, `(${size(f.size)})`))),
    );
    button.disabled = chosen.length === 0;
    button.textContent = chosen.length > 1 ? `Upload ${chosen.length} files` : "Upload";
  };
  input.addEventListener("change", () => choose(input.files));
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"])
    zone.addEventListener(type, () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer?.files?.length) choose(event.dataTransfer.files);
  });
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "upload-title" },
    h("h3", { id: "upload-title" }, "Upload"),
    zone,
    h("div", { class: "actions" }, button),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chosen.length) return;
    const body = new FormData();
    for (const file of chosen) body.append("files", file, file.name);
    button.disabled = true;
    replace(result, statusLine(`Uploading ${chosen.length} file(s)…`));
    try {
      const job = await call("POST", kbPath(ctx.kb, "/documents"), { body });
      replace(result, statusLine(`Submitted job ${job.id}: its progress is below.`));
      view.known.set(job.id, false); // so its end refreshes the documents
      input.value = "";
      choose([]);
      await pollJobs(view);
    } catch (err) {
      replace(result, errorBox(err));
      button.disabled = false;
    }
  });
  return form;
}

const size = (bytes) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1048576
      ? `${(bytes / 1024).toFixed(0)} KB`
      : `${(bytes / 1048576).toFixed(1)} MB`;

async function pollJobs(view) {
  const { ctx } = view;
  clearTimeout(view.timer);
  let jobs;
  try {
    jobs = (await call("GET", kbPath(ctx.kb, "/jobs?limit=20"), { signal: ctx.signal })).data;
  } catch (err) {
    if (err.name === "AbortError") return;
    if (err.status === 429) {
      // Over the key's rate limit: keep what is shown, ask again when the service says.
      view.timer = setTimeout(() => pollJobs(view), (err.retryAfter ?? 5) * 1000);
      return;
    }
    replace(view.jobsArea, errorBox(err));
    return;
  }
  if (ctx.signal.aborted) return;
  const snapshot = JSON.stringify(jobs);
  view.delay = snapshot === view.last ? Math.min(view.delay * 1.5, POLL_MAX_MS) : POLL_MS;
  if (snapshot !== view.last) {
    view.last = snapshot;
    // A job that just finished changed the documents: list them again.
    const finishedNow = jobs.some(
      (job) => FINAL.has(job.state) && view.known.get(job.id) === false,
    );
    view.known = new Map(jobs.map((job) => [job.id, FINAL.has(job.state)]));
    keepingFocus(view.jobsArea, () =>
      replace(
        view.jobsArea,
        jobs.length
          ? h(
              "ol",
              { class: "job-list" },
              jobs.map((job) => jobCard(job, view)),
            )
          : h("p", { class: "empty" }, "No ingestion job yet."),
      ),
    );
    if (finishedNow) showDocuments(view);
  }
  if (jobs.some((job) => !FINAL.has(job.state)))
    view.timer = setTimeout(() => pollJobs(view), view.delay);
}

/** Re-render `area` with `render`; a control focused inside it stays focused (keyboard users). */
function keepingFocus(area, render) {
  const focused = area.contains(document.activeElement) ? document.activeElement : null;
  const job = focused?.closest("[data-job]")?.dataset.job;
  const action = focused?.dataset.action;
  render();
  if (job && action) {
    area.querySelector(`[data-job="${CSS.escape(job)}"] [data-action="${action}"]`)?.focus();
  }
}

function jobCard(job, view) {
  const c = job.counts;
  const running = job.state === "running";
  const done = FINAL.has(job.state);
  // Documents are parsed out of the uploaded files; chunks then go through three stages.
  const parseTotal = c.files || c.parsed + c.failed;
  const stages = [
    [
      "parsed",
      c.parsed,
      parseTotal,
      `${c.parsed} document(s)${c.files ? ` from ${c.files} file(s)` : ""}`,
      Math.min(c.parsed + c.failed, parseTotal),
    ],
    [
      "chunked",
      c.chunked,
      done || c.parsed + c.failed >= parseTotal ? c.chunked : null,
      `${c.chunked} chunk(s)`,
      c.chunked,
    ],
    ["embedded", c.embedded, c.chunked, `${c.embedded} of ${c.chunked} chunk(s)`, c.embedded],
    ["indexed", c.indexed, c.chunked, `${c.indexed} of ${c.chunked} chunk(s)`, c.indexed],
  ];
  const extra = [];
  if (c.unchanged) extra.push(`${c.unchanged} unchanged`);
  if (c.deleted) extra.push(`${c.deleted} stale row(s) deleted`);
  if (c.failed) extra.push(`${c.failed} failed`);
  const cancel = !done
    ? h(
        "button",
        {
          type: "button",
          class: "small",
          "data-action": "cancel",
          onclick: () => cancelJob(job, view),
        },
        "Cancel",
        h("span", { class: "sr-only" }, ` job ${job.id}`),
      )
    : null;
  return h(
    "li",
    { class: `job ${job.state}`, "data-job": job.id },
    h(
      "div",
      { class: "job-head" },
      h("span", { class: `badge ${job.state}` }, job.state),
      h("span", { class: "mono" }, job.id),
      h("time", { datetime: job.created_at }, fmtTime(job.created_at)),
      cancel,
    ),
    h(
      "dl",
      { class: "stages", "aria-busy": running ? "true" : "false" },
      stages.map(([name, , max, text, value]) => [
        h("dt", {}, name),
        h("dd", {}, progress(name, value, max, done), h("span", { class: "stage-text" }, text)),
      ]),
    ),
    extra.length ? h("p", { class: "hint" }, extra.join(" · ")) : null,
    job.message ? h("p", { class: job.state === "failed" ? "error" : "hint" }, job.message) : null,
    job.errors.length
      ? h(
          "details",
          {
            class: "file-errors",
            open: view.errorsOpen.get(job.id) ?? true,
            ontoggle: (event) => view.errorsOpen.set(job.id, event.target.open),
          },
          h("summary", { "data-action": "errors" }, `${job.errors.length} file error(s)`),
          h(
            "ul",
            {},
            job.errors.map((e) => h("li", {}, h("strong", {}, e.file), `: ${e.error}`)),
          ),
        )
      : null,
    done ? h("p", { class: "hint" }, timings(job.timings)) : null,
  );
}

function timings(t) {
  const s = (seconds) => seconds.toFixed(1);
  return `took ${s(t.total)} s (parse ${s(t.parse)}, embed ${s(t.embed)}, index ${s(t.index)})`;
}

function progress(name, value, max, done) {
  const bar = h("progress", { "aria-label": name });
  // An unknown total (still parsing) leaves the bar indeterminate rather than guessing.
  if (max !== null && max > 0) {
    bar.max = max;
    bar.value = Math.min(value, max);
  } else if (done || max === 0) {
    bar.max = 1;
    bar.value = done ? 1 : 0;
  }
  return bar;
}

async function cancelJob(job, view) {
  try {
    await call("POST", `/jobs/${encodeURIComponent(job.id)}/cancel`);
    view.ctx.notify(`Cancelling job ${job.id}.`);
  } catch (err) {
    view.ctx.fail(err);
  }
  await pollJobs(view);
}

async function showDocuments(view) {
  const { ctx } = view;
  let page;
  try {
    page = await call("GET", kbPath(ctx.kb, `/documents?offset=${view.offset}&limit=${PAGE}`), {
      signal: ctx.signal,
    });
  } catch (err) {
    if (err.name !== "AbortError") replace(view.docsArea, errorBox(err));
    return;
  }
  if (!page.total) {
    replace(
      view.docsArea,
      h("p", { class: "empty" }, "No documents yet: upload some files above."),
    );
    return;
  }
  const columns = [
    ["Document", (d) => h("span", { class: "mono" }, d.id)],
    ["Title", (d) => d.title],
    ["Chunks", (d) => d.chunk_count],
    ["Source", (d) => d.source],
    [
      "Actions",
      (d) =>
        h(
          "button",
          { type: "button", class: "danger small", onclick: () => deleteDocument(d, view) },
          "Delete",
          h("span", { class: "sr-only" }, ` ${d.id}`),
        ),
    ],
  ];
  const last = Math.min(page.offset + page.data.length, page.total);
  const pager = h(
    "div",
    { class: "pager" },
    h("span", { role: "status" }, `${page.offset + 1}–${last} of ${page.total}`),
    h(
      "button",
      {
        type: "button",
        class: "small secondary",
        disabled: page.offset === 0,
        onclick: () => turn(view, -PAGE),
      },
      "Previous",
    ),
    h(
      "button",
      {
        type: "button",
        class: "small secondary",
        disabled: last >= page.total,
        onclick: () => turn(view, PAGE),
      },
      "Next",
    ),
  );
  replace(view.docsArea, table("Documents", columns, page.data), pager);
}

function turn(view, delta) {
  view.offset = Math.max(0, view.offset + delta);
  showDocuments(view);
}

async function deleteDocument(doc, view) {
  const ok = await confirmAction(
    `Delete ${doc.id}?`,
    `This removes the document and its ${doc.chunk_count} chunk(s) from ${view.ctx.kb}.`,
    "Delete document",
  );
  if (!ok) return;
  try {
    await request("DELETE", kbPath(view.ctx.kb, `/documents/${encodeURIComponent(doc.id)}`));
    view.ctx.notify(`Deleted ${doc.id}.`);
  } catch (err) {
    view.ctx.fail(err);
  }
  await showDocuments(view);
}
