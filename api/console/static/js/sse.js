// Server-sent events from a fetch Response. EventSource cannot POST a body or send an
// Authorization header, so the answer stream is read here: about forty lines of the
// WHATWG event-stream format (fields `event` and `data`; comments and `id`/`retry` ignored).

/** Each event of the stream as {event, data}, in order; ends with the stream. */
export async function* readEvents(response, signal) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", stop, { once: true });
  let buffer = "";
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      buffer += value;
      // A "\r" at the very end may be half of a "\r\n" split across reads: keep it for later.
      const keep = buffer.endsWith("\r") ? 1 : 0;
      let text = buffer.slice(0, buffer.length - keep).replace(/\r\n?/g, "\n");
      let end;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const parsed = parseBlock(text.slice(0, end));
        text = text.slice(end + 2);
        if (parsed) yield parsed;
      }
      buffer = text + buffer.slice(buffer.length - keep);
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    // A reader that stops early (an error, `break`) closes the connection: the server then
    // stops generating instead of writing to nobody.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  // A block without its closing blank line is incomplete: the format says to drop it.
}

/** One event block's fields; null when it carries no data. */
export function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}
