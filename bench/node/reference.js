// The reference toolchain: MJML's own compiler (mjml) then CSS inlining (juice), warmed up in one
// process and timed in-process, so node's start-up and the JIT's first passes are not counted.
//
// The same job as digest's: juice inlines the theme stylesheet given as `css` (extraCss) and leaves
// the page's own <style> blocks (MJML's, dark mode) in place, uninlined, as digest's inliner does.
//
// stdin:  {"documents": [{"name": "...", "mjml": "...", "css": "..."}], "warmup": 5, "repeat": 20}
// stdout: {"node": "v20...", "mjml": "5.4.1", "juice": "11.1.1",
//          "results": {"<name>": {"mjml_ms": median, "juice_ms": median, "total_ms": median, "html_bytes": n}}}
"use strict";

const mjml2html = require("mjml");
const juice = require("juice");

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;

const JUICE_OPTIONS = { applyStyleTags: false, removeStyleTags: false, preserveMediaQueries: true };

async function once(source, css) {
  // mjml 5 returns a promise; mjml 4 a plain object: await covers both.
  let start = process.hrtime.bigint();
  const compiled = await mjml2html(source, { validationLevel: "skip", keepComments: false });
  const mjmlMs = ms(start);
  start = process.hrtime.bigint();
  const inlined = juice(compiled.html, { ...JUICE_OPTIONS, extraCss: css || "" });
  const juiceMs = ms(start);
  return { mjmlMs, juiceMs, bytes: Buffer.byteLength(inlined) };
}

async function main() {
  const job = JSON.parse(await readStdin());
  const results = {};
  for (const doc of job.documents) {
    for (let i = 0; i < job.warmup; i++) await once(doc.mjml, doc.css);
    const mjmlTimes = [];
    const juiceTimes = [];
    const totals = [];
    let bytes = 0;
    for (let i = 0; i < job.repeat; i++) {
      const run = await once(doc.mjml, doc.css);
      mjmlTimes.push(run.mjmlMs);
      juiceTimes.push(run.juiceMs);
      totals.push(run.mjmlMs + run.juiceMs);
      bytes = run.bytes;
    }
    results[doc.name] = {
      mjml_ms: median(mjmlTimes),
      juice_ms: median(juiceTimes),
      total_ms: median(totals),
      html_bytes: bytes,
    };
  }
  process.stdout.write(
    JSON.stringify({
      node: process.version,
      mjml: require("mjml/package.json").version,
      juice: require("juice/package.json").version,
      results,
    })
  );
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
