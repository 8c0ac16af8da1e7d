// KHQR throughput of the official JS SDK (bakong-khqr@1.0.20): the SDK side of `make bench`
// (scripts/bench.sh, bench/khqr/README.md). A measuring tool: it never asserts a timing.
//
// Same workload and rows as bank-adapters/examples/khqr_bench.rs: every `kind: "generate"`
// record of the vector file, read at run time. `Date.now()` is frozen to the record's
// `clock_ms` before each SDK call that reads it (generate writes it in tag 99/00 and compares
// the expiry with it; verify compares the expiry with it), as when the vectors were made.
// Only the valid strings the SDK itself generated are decoded (some SDK decode paths loop
// forever on malformed input).
//
// Usage: node sdk-bench.mjs --sdk DIR [--vectors PATH] [--seconds N] [--warmup-ms N]
//                           [--ours PATH]
//   --sdk   the folder `npm install --prefix` installed into (holds node_modules/bakong-khqr)
//   --ours  the JSON lines khqr_bench --dump wrote: compare QR, md5 and decode output per record
// Prints JSON lines: a header with the record count and mismatch counts, then one line per row
// {"side":"sdk","row":...,"ops":...,"ns":...,"ops_per_s":...}, ops_per_s being the median of
// 0.5 s samples (also mean_, min_, max_ops_per_s).

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import path from "node:path";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 && index + 1 < args.length ? args[index + 1] : fallback;
};
const sdkDir = option("--sdk", null);
const vectorsPath = option("--vectors", "bank-adapters/tests/data/khqr-vectors.json");
const runForNs = BigInt(option("--seconds", "3")) * 1_000_000_000n;
const warmupNs = BigInt(option("--warmup-ms", "500")) * 1_000_000n;
const oursPath = option("--ours", null);
if (!sdkDir) {
  console.error("usage: node sdk-bench.mjs --sdk DIR [--vectors PATH] [--seconds N] [--ours PATH]");
  process.exit(2);
}

const require = createRequire(path.resolve(sdkDir, "package.json"));
const sdkVersion = require("bakong-khqr/package.json").version;
const { BakongKHQR, IndividualInfo, MerchantInfo } = require("bakong-khqr");

const realNow = Date.now;
const freeze = (ms) => {
  Date.now = () => ms;
};

const cases = JSON.parse(readFileSync(vectorsPath, "utf8"))
  .filter((record) => record.kind === "generate")
  .map((record) => ({
    id: record.id,
    type: record.type,
    input: record.input,
    clockMs: record.clock_ms,
    expectedQr: record.expected.qr,
    qr: null,
  }));
if (cases.length === 0) {
  console.error(`sdk-bench: ${vectorsPath} has no generate records`);
  process.exit(1);
}

const sdk = new BakongKHQR();

// One SDK generation, exactly as the vectors were made.
function generate(c) {
  const i = c.input;
  freeze(c.clockMs);
  if (c.type === "merchant") {
    return sdk.generateMerchant(
      new MerchantInfo(i.bakongAccountID, i.merchantName, i.merchantCity, i.merchantID, i.acquiringBank, i.optional),
    );
  }
  return sdk.generateIndividual(new IndividualInfo(i.bakongAccountID, i.merchantName, i.merchantCity, i.optional));
}

// Check pass (not timed): every record generates, verifies, and matches the vector file.
let qrVsVectors = 0;
for (const c of cases) {
  const response = generate(c);
  if (response.status.code !== 0) {
    console.error(`sdk-bench: ${c.id}: SDK refused it: ${JSON.stringify(response.status)}`);
    process.exit(1);
  }
  c.qr = response.data.qr;
  c.md5 = response.data.md5;
  c.decoded = BakongKHQR.decode(c.qr).data;
  if (!BakongKHQR.verify(c.qr).isValid) {
    console.error(`sdk-bench: ${c.id}: SDK verify refuses its own QR at clock_ms`);
    process.exit(1);
  }
  if (c.qr !== c.expectedQr) qrVsVectors += 1;
}
Date.now = realNow;

// Per-record comparison with our output (khqr_bench --dump), on identical inputs.
const header = {
  side: "sdk",
  sdk_version: sdkVersion,
  node: process.version,
  records: cases.length,
  first_id: cases[0].id,
  last_id: cases[cases.length - 1].id,
  qr_mismatches_vs_vectors: qrVsVectors,
};
if (oursPath) {
  const ours = new Map(
    readFileSync(oursPath, "utf8")
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line))
      .map((record) => [record.id, record]),
  );
  let qr = 0;
  let md5 = 0;
  let decode = 0;
  let missing = 0;
  for (const c of cases) {
    const mine = ours.get(c.id);
    if (!mine) {
      missing += 1;
      continue;
    }
    if (mine.qr !== c.qr) {
      qr += 1;
      console.error(`sdk-bench: ${c.id}: QR differs\n  sdk  ${c.qr}\n  ours ${mine.qr}`);
    }
    if (mine.md5 !== c.md5) md5 += 1;
    if (!isDeepStrictEqual(mine.decode, c.decoded)) {
      decode += 1;
      console.error(`sdk-bench: ${c.id}: decode output differs`);
    }
  }
  Object.assign(header, {
    ours_records: ours.size,
    ours_missing: missing,
    qr_mismatches_vs_ours: qr,
    md5_mismatches_vs_ours: md5,
    decode_mismatches_vs_ours: decode,
  });
}
console.log(JSON.stringify(header));

// Timed rows. Each pass runs every case once; `sink` keeps results observable.
let sink = 0;
const rows = [
  [
    "encode+decode",
    () => {
      for (const c of cases) {
        const qr = generate(c).data.qr;
        sink ^= BakongKHQR.decode(qr).data.merchantName.length;
      }
    },
  ],
  [
    "encode",
    () => {
      for (const c of cases) sink ^= generate(c).data.qr.length;
    },
  ],
  [
    "decode",
    () => {
      for (const c of cases) sink ^= BakongKHQR.decode(c.qr).data.merchantName.length;
    },
  ],
  [
    "verify",
    () => {
      for (const c of cases) {
        freeze(c.clockMs);
        if (!BakongKHQR.verify(c.qr).isValid) throw new Error(`${c.id}: does not verify`);
      }
    },
  ],
];

function run(pass, atLeastNs) {
  const start = process.hrtime.bigint();
  let ops = 0;
  for (;;) {
    pass();
    ops += cases.length;
    const elapsed = process.hrtime.bigint() - start;
    if (elapsed >= atLeastNs) return [ops, elapsed];
  }
}

// Samples of 0.5 s; the median sample rate is the row's ops_per_s (as khqr_bench does).
const sampleNs = 500_000_000n;
const samples = runForNs / sampleNs > 0n ? runForNs / sampleNs : 1n;
const perSecond = (ops, ns) => Number((BigInt(ops) * 1_000_000_000n) / (ns > 0n ? ns : 1n));

for (const [row, pass] of rows) {
  run(pass, warmupNs);
  let ops = 0;
  let ns = 0n;
  const rates = [];
  for (let i = 0n; i < samples; i += 1n) {
    const [sampleOps, sampleNs_] = run(pass, sampleNs);
    ops += sampleOps;
    ns += sampleNs_;
    rates.push(perSecond(sampleOps, sampleNs_));
  }
  Date.now = realNow;
  rates.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      side: "sdk",
      row,
      ops,
      ns: Number(ns),
      ops_per_s: rates[Math.floor(rates.length / 2)],
      mean_ops_per_s: perSecond(ops, ns),
      min_ops_per_s: rates[0],
      max_ops_per_s: rates[rates.length - 1],
    }),
  );
}
if (sink === 0.5) console.error("unreachable");
