#!/usr/bin/env node
// README figures that cannot drift.
//
// The tables between `<!-- numbers:NAME:begin -->` and `<!-- numbers:NAME:end -->`
// in README.md are generated from JSON snapshots committed under docs/numbers/
// (target/ is not committed, so the snapshots are what a reader can check).
//
//   node scripts/readme-numbers.mjs            copy fresh target/{bench,eval}/*.json
//                                              into docs/numbers/, rewrite the blocks
//   node scripts/readme-numbers.mjs --render   rewrite the blocks from docs/numbers/ only
//   node scripts/readme-numbers.mjs --check    fail if a block differs from what the
//                                              snapshots give, or if any figure in a
//                                              block is not a value of its snapshot
//
// Every table names the date and host of its run (the `run` / `environment`
// fields the writers add). Only values found in the JSON are printed: no
// ratios or sums computed here, so the check can trace each figure back.
// No dependencies beyond Node.

import { existsSync, readFileSync, writeFileSync, copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const README = join(ROOT, 'README.md');
const SNAP = join(ROOT, 'docs', 'numbers');

/** Snapshot name → where `make bench` / `make eval` writes it. */
const SOURCES = {
  'scoring.json': 'target/bench/scoring.json',
  'shopper.json': 'target/bench/shopper.json',
  'intent-bench.json': 'target/bench/intent.json',
  'eval-ml-1m.json': 'target/eval/metrics.json',
  'session.json': 'target/eval/session.json',
  'ranker.json': 'target/eval/ranker.json',
  'neural.json': 'target/eval/neural.json',
  'intent.json': 'target/eval/intent.json',
  'ttfr.json': 'target/bench/ttfr.json',
  'simd_ab.json': 'target/bench/simd_ab.json',
  'ort_ab.json': 'target/bench/ort_ab.json',
  'segments.json': 'target/eval/segments.json',
};

// ------------------------------------------------------------ formatting
/** Fixed decimals; the check accepts a figure if some JSON value prints to it. */
const fx = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const pct = (v, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(d)}%` : 'n/a');

function provenance(run, what) {
  if (!run || !run.date) return `_${what}: date and host of the run not recorded in the snapshot._`;
  const host = [run.host, run.cpu ?? run.cpu_model, run.chromium ? `Chromium ${run.chromium}` : null]
    .filter(Boolean)
    .join(', ');
  return `_${what}: run of ${run.date} on ${host || 'an unnamed host'}._`;
}

const missing = (name, how) =>
  `_No committed snapshot (docs/numbers/${name}): these figures are not published until ${how} writes one ` +
  'and `make readme-numbers` copies it here._';

// ------------------------------------------------------------ renderers

// `make eval-intent` (tests/eval/intent_merge.py): each data set tuned against
// tuned, closed-set (no rejection), with how each side chose its settings.
function renderIntentTuned(j) {
  const out = [provenance(j.run, 'Intent, vitrine tuned vs scikit-learn tuned (closed set, no rejection; test files scored once)'), ''];
  out.push('| data set | classes | train / test | vitrine acc. | vitrine macro-F1 | scikit-learn acc. | scikit-learn macro-F1 | McNemar p | vitrine bytes | vitrine chose by | train CPU s, vitrine / scikit-learn |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|');
  for (const r of [...(j.closed_set ?? []), ...(j.mood ?? [])]) {
    const v = r.vitrine ?? {};
    const sk = r.sklearn ?? {};
    const how = v.selection ? `${v.selection.folds}-fold CV on train` : 'flags chosen on a validation split of train';
    // Selection + final fit on both sides, process CPU; blank when a side's
    // selection was not run or not measured in this run.
    const measured = sk.measured_in_this_run !== false && typeof sk.train_cpu_seconds_with_selection === 'number' && typeof v.train_cpu_seconds_with_cv === 'number';
    const cpu = measured ? `${fx(v.train_cpu_seconds_with_cv, 1)} / ${fx(sk.train_cpu_seconds_with_selection, 1)}` : '';
    out.push(`| ${r.dataset} (${r.label_column}) | ${r.classes} | ${r.n_train} / ${r.n_test} | ${fx(v.accuracy, 3)} | ${fx(v.macro_f1, 3)} | ${fx(sk.accuracy, 3)} | ${fx(sk.macro_f1, 3)} | ${fx(r.mcnemar?.p, 2)} | ${v.model_bytes ?? ''} | ${how} | ${cpu} |`);
  }
  return [...out, ...renderIntentOpen(j.open_set ?? [])];
}

// The open-set block (tests/eval/intent_sklearn.py): rejection figures, apart
// from the closed-set table. Entries written before it had this shape
// (no `n_test_oos`) are not rendered.
function renderIntentOpen(open) {
  const rows = open.filter((o) => typeof o.n_test_oos === 'number');
  if (!rows.length) return [];
  // Entries before multi-draw calibration carry no `calibration_draws`: one draw.
  const draws = rows[0].sklearn?.calibration_draws ?? 1;
  const how = draws > 1
    ? `each side's threshold maximizes the mean objective over the same ${draws} draws of pseudo-out-of-scope classes of the training part`
    : 'threshold calibrated on pseudo-out-of-scope classes of the training part';
  const out = ['', provenance(rows[0].run, `Open set (rejection; reported apart from the closed-set table): classes withheld from training must be rejected, ${how}`), ''];
  out.push('| data set | classes trained | test in-scope / out-of-scope | system | threshold | in-scope accepted and correct | out-of-scope rejected | in-scope acc. without rejection |',
    '|---|---:|---|---|---:|---:|---:|---:|');
  for (const o of rows) {
    for (const [name, s] of [['vitrine', o.vitrine ?? {}], [`scikit-learn (C ${s2(o.sklearn?.c)}, char_wb ${(o.sklearn?.ngram ?? []).join('–')})`, o.sklearn ?? {}]]) {
      out.push(`| ${o.dataset} | ${o.classes_trained} | ${o.n_test_in_scope} / ${o.n_test_oos} | ${name} | ${fx(s.threshold, 3)} | ${fx(s.in_scope_accuracy, 3)} | ${fx(s.oos_recall, 3)} | ${fx(s.closed_set_accuracy_on_in_scope, 3)} |`);
    }
    const d = o.default_set;
    if (d) {
      const langs = Object.entries(d.by_lang ?? {}).map(([l, m]) => `${l} ${fx(m.in_scope_accuracy, 3)} / ${fx(m.oos_recall, 3)}`).join(', ');
      out.push('', `${d.dataset} (vitrine only; trained with its calibration out-of-scope rows): ${d.n_in_scope} in-scope / ${d.n_oos} out-of-scope test rows, threshold ${fx(d.threshold, 3)}, in-scope accepted and correct ${fx(d.in_scope_accuracy, 3)}, out-of-scope rejected ${fx(d.oos_recall, 3)} (by language, accepted and correct / rejected: ${langs}).`);
    }
  }
  return out;
}
/** A C value as scikit-learn was given it (30, 0.3). */
const s2 = (v) => (typeof v === 'number' ? String(v) : 'n/a');
/** Each renderer: snapshot JSON → markdown lines. */
const BLOCKS = {
  scoring: {
    file: 'scoring.json',
    how: '`make bench` on an otherwise idle host',
    render(rows) {
      const env = rows.find((r) => r.metric === 'environment');
      const timed = rows.filter((r) => !r.metric && typeof r.median_ms === 'number' && r.k === 10);
      const shapes = [...new Set(timed.filter((r) => r.d === 64).map((r) => r.n))].sort((a, b) => b - a);
      const keys = [];
      for (const r of timed) if (!keys.some((k) => k.engine === r.engine && k.dtype === r.dtype)) keys.push({ engine: r.engine, dtype: r.dtype });
      const out = [provenance(env, 'Top-10 scoring, median ms per query, d = 64'), ''];
      out.push(`| engine | dtype | ${shapes.map((n) => `n = ${n}`).join(' | ')} |`);
      out.push(`|---|---|${shapes.map(() => '---:').join('|')}|`);
      for (const { engine, dtype } of keys) {
        const cells = shapes.map((n) => {
          const r = timed.find((x) => x.engine === engine && x.dtype === dtype && x.n === n && x.d === 64);
          return r ? fx(r.median_ms, 2) : '';
        });
        out.push(`| ${engine} | ${dtype} | ${cells.join(' | ')} |`);
      }
      const extra = [];
      for (const r of rows.filter((r) => r.metric === 'load_ms')) extra.push(`- load ${r.n} × ${r.d} ${r.dtype} (${r.bytes} bytes, ${r.engine}): ${fx(r.median_ms, 2)} ms median`);
      for (const r of rows.filter((r) => r.metric === 'wasm_size')) extra.push(`- wasm ${r.variant}: ${r.raw_bytes} bytes raw, ${r.gzip_bytes} gzip`);
      for (const r of rows.filter((r) => /agreement|same_items/.test(r.metric ?? ''))) extra.push(`- ${r.metric} ${r.n} × ${r.d} (${r.engine}): ${pct(r.value)}`);
      // onnxruntime-web rows (tests/bench/run.mjs): which operator, and what its session creation cost.
      for (const r of timed.filter((r) => r.ort_route && r.d === 64)) extra.push(`- ${r.engine} ${r.dtype} ${r.n} × ${r.d}: onnxruntime-web ${r.ort_version} ${r.ort_route}, threads ${r.threads}, session created in ${fx(r.session_ms, 0)} ms`);
      for (const r of rows.filter((r) => r.metric === 'paired_bound_ratio')) extra.push(`- paired ${r.engine} ${r.dtype} ${r.n} × ${r.d} / bound: ${fx(r.value, 2)} × (median of ${r.rounds} rounds)`);
      if (extra.length) out.push('', ...extra);
      return out;
    },
  },
  trainer: {
    file: 'eval-ml-1m.json',
    how: '`make eval`',
    render(m) {
      const out = [
        provenance(m.run, `Trainer on ${m.dataset}: ${m.factors} factors, α = ${m.alpha}, λ = ${m.lambda}, ${m.iterations} iterations, seed ${m.seed}; ${m.test_users} test users`),
        '',
        '| model | Recall@10 | NDCG@10 | MAP@10 | HitRate@10 | coverage | peak RSS MiB |',
        '|---|---:|---:|---:|---:|---:|---:|',
      ];
      for (const r of m.models ?? []) {
        const x = r.metrics ?? {};
        const rss = typeof r.peak_rss_bytes === 'number' ? fx(r.peak_rss_bytes / 1048576, 0) : '';
        out.push(`| ${r.name} | ${fx(x.recall, 4)} | ${fx(x.ndcg, 4)} | ${fx(x.map, 4)} | ${fx(x.hit_rate, 4)} | ${fx(x.coverage, 3)} | ${rss} |`);
      }
      const notes = (m.models ?? []).filter((r) => typeof r.note === 'string' && r.note);
      if (notes.length) out.push('', ...notes.map((r) => `- ${r.name}: ${r.note}`));
      return out;
    },
  },
  session: {
    file: 'session.json',
    how: '`make eval`',
    render(s) {
      const out = [provenance(s.run, `Session next-item prediction on ${s.dataset}; ${s.test_sessions} test sessions, ${s.n_items} items`), ''];
      out.push('| method | HR@20 | MRR@20 | NDCG@20 | Precision@20 | F1@20 |', '|---|---:|---:|---:|---:|---:|');
      for (const [name, r] of Object.entries(s.results ?? {})) {
        const hr = r['hr@20'] ?? r.hr ?? r.hit_rate;
        const mrr = r['mrr@20'] ?? r.mrr;
        out.push(`| ${name} | ${fx(hr, 4)} | ${fx(mrr, 4)} | ${fx(r['ndcg@20'], 4)} | ${fx(r['precision@20'], 4)} | ${fx(r['f1@20'], 4)} |`);
      }
      return out;
    },
  },
  ranker: {
    file: 'ranker.json',
    how: '`make eval`',
    render(j) {
      const out = [provenance(j.run, 'Learned ranker vs the grid-tuned blend and the baselines, next-item prediction from each session prefix')];
      for (const d of j.datasets ?? []) {
        // Reports before `co_purchase` and `trend` have no feature list: the 15 of then.
        const nf = d.features?.length ?? 15;
        const when = d.run?.date ? `, run of ${d.run.date}` : '';
        out.push('', `**${d.dataset}**: ${d.test_sessions} test sessions; ranker over ${nf} features${when}; L2 ${fx(d.ranker?.l2, 3)} and the ${d.ranker?.negatives} negative sample chosen on valid.`, '');
        out.push('| method | HR@20 | MRR@20 | NDCG@20 | Precision@20 | F1@20 |', '|---|---:|---:|---:|---:|---:|');
        for (const [name, r] of Object.entries(d.results ?? {})) {
          out.push(`| ${name} | ${fx(r['hr@20'], 4)} | ${fx(r['mrr@20'], 4)} | ${fx(r['ndcg@20'], 4)} | ${fx(r['precision@20'], 4)} | ${fx(r['f1@20'], 4)} |`);
        }
      }
      return out;
    },
  },
  neural: {
    file: 'neural.json',
    how: '`make eval-neural`',
    render(j) {
      const out = [provenance(j.run, `${j.dataset}, one split: RecBole models trained on train.csv and early-stopped on valid.csv, every row scored by vitrine's next-item code`), ''];
      out.push('| method | HR@20 | MRR@20 | P@20 | F₁@20 | how |', '|---|---:|---:|---:|---:|---|');
      const row = (name, r, how) =>
        `| ${name} | ${fx(r['hr@20'], 4)} | ${fx(r['mrr@20'], 4)} | ${fx(r['precision@20'], 4)} | ${fx(r['f1@20'], 4)} | ${how} |`;
      for (const [name, r] of Object.entries(j.results ?? {})) {
        const m = j.models?.[name] ?? {};
        out.push(row(`${name} (RecBole ${m.library?.recbole ?? 'n/a'})`, r,
          `${m.epochs_run} epoch${m.epochs_run === 1 ? '' : 's'}, ${fx(m.minutes?.train, 0)} min training (this run on ${m.library?.torch_threads} torch thread${m.library?.torch_threads === 1 ? '' : 's'}${m.resumed_from ? ', resumed from an earlier run' : ''})`));
      }
      for (const [name, r] of Object.entries(j.vitrine_same_split ?? {})) out.push(row(name, r, j.vitrine_how?.[name] ?? ''));
      return out;
    },
  },
  intent: {
    file: 'intent.json',
    how: '`make eval`',
    render(j) {
      if (Array.isArray(j.closed_set)) return renderIntentTuned(j);
      const v = j.vitrine ?? {};
      const sk = j.sklearn ?? {};
      const out = [provenance(j.run, `Intent on CrossWOZ: ${j.classes} classes, ${j.n_train} training and ${j.n_test} test utterances`), ''];
      out.push('| | accuracy | macro-F1 | model bytes | OOS recall | in-scope acc. |', '|---|---:|---:|---:|---:|---:|');
      out.push(`| vitrine | ${fx(v.accuracy, 3)} | ${fx(v.macro_f1, 3)} | ${v.model_bytes ?? ''} | ${fx(v.oos?.oos_recall, 3)} | ${fx(v.oos?.in_scope_accuracy, 3)} |`);
      const skOos = sk.oos ?? {};
      out.push(`| scikit-learn | ${fx(sk.accuracy, 3)} | ${fx(sk.macro_f1, 3)} | ${sk.model_bytes ?? ''} | ${fx(skOos.oos_recall, 3)} | ${fx(skOos.in_scope_accuracy, 3)} |`);
      const d = j.default_set;
      if (d) {
        const langs = Object.entries(d.by_lang ?? {}).map(([l, m]) => `${l} ${pct(m.accuracy)}`).join(', ');
        out.push('', `Default intent set, held-out file: ${pct(d.accuracy)} (${langs}); out-of-scope recall ${pct(d.oos_recall)}.`);
      }
      return out;
    },
  },
  segments: {
    file: 'segments.json',
    how: '`make eval`',
    render(j) {
      const st = j.stability ?? {};
      const used = j.features_used ?? [];
      const out = [provenance(j.run, `Behaviour segments on ${j.dataset}${j.layout ? ` (${j.layout})` : ''}; ${j.users} users, k = ${j.k} (${j.k_chosen_by})`), ''];
      out.push(`| segment | users | ${used.join(' | ')} |`, `|---|---:|${used.map(() => '---:').join('|')}|`);
      for (const s of j.segments ?? []) out.push(`| ${s.label} | ${s.users} | ${used.map((f) => fx(s.feature_means?.[f], 3)).join(' | ')} |`);
      out.push('', `Stability, same segment for both halves of a user's baskets (${st.users_with_enough_baskets} users with at least ${st.min_baskets} baskets${j.users_reporting ? ', none of whom fitted the segments' : ''}): ` +
        `${pct(st.same_segment_share)}, by chance ${pct(st.same_segment_by_chance)}${st.kappa != null ? ` (Cohen's κ ${fx(st.kappa, 2)})` : ''}; goal ${pct(j.goal_same_segment_share, 0)}. ` +
        `Correlation of the two halves' features: ${Object.entries(st.halves_feature_correlation ?? {}).map(([f, r]) => `${f} ${fx(r, 2)}`).join(', ')}.`);
      if (j.shrink != null) out.push('', `Short histories shrunk toward the average shopper: prior strength ${fx(j.shrink, 2)} visits (${j.shrink_how}).`);
      const hasSil = (j.stability_by_k ?? []).some((r) => r.silhouette_tuning != null);
      out.push('', `| k |${hasSil ? ' silhouette |' : ''} same segment | by chance |${hasSil ? ' κ |' : ''}`, `|---:|${hasSil ? '---:|' : ''}---:|---:|${hasSil ? '---:|' : ''}`);
      for (const r of j.stability_by_k ?? []) out.push(`| ${r.k} |${hasSil ? ` ${fx(r.silhouette_tuning, 3)} |` : ''} ${pct(r.same_segment_share)} | ${pct(r.same_segment_by_chance)} |${hasSil ? ` ${fx(r.kappa, 2)} |` : ''}`);
      if (j.stability_by_min_visits) {
        out.push('', `By history length: ${j.stability_by_min_visits.map((r) => `≥ ${r.min_visits} visit days ${pct(r.same_segment_share)} of ${r.users} (chance ${pct(r.same_segment_by_chance)})`).join('; ')}.`);
      }
      if (j.stability_by_shrink) {
        out.push('', '| prior strength (visits) | same segment | by chance | κ |', '|---:|---:|---:|---:|');
        for (const r of j.stability_by_shrink) out.push(`| ${fx(r.shrink, 0)} | ${pct(r.same_segment_share)} | ${pct(r.same_segment_by_chance)} | ${fx(r.kappa, 2)} |`);
      }
      const o = (j.protocols ?? []).find((p) => p.protocol === 'ordinal_days');
      if (o) out.push('', `Basket ordinals taken as days (recency and frequency too): ${pct(o.stability.same_segment_share)}, by chance ${pct(o.stability.same_segment_by_chance)}.`);
      return out;
    },
  },
  shopper: {
    file: 'shopper.json',
    how: '`make bench` on an otherwise idle host',
    render(s) {
      const out = [provenance(s.run ?? (s.date ? s : null), `Shopper calls in Chromium, median ms (${s.cpu ?? 'CPU not recorded'})`), ''];
      const rows = s.rows ?? [];
      const keys = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => k.endsWith('_ms'))))];
      out.push(`| items | d | ${keys.join(' | ')} |`, `|---:|---:|${keys.map(() => '---:').join('|')}|`);
      for (const r of rows) out.push(`| ${r.n} | ${r.d ?? ''} | ${keys.map((k) => fx(r[k], 3)).join(' | ')} |`);
      return out;
    },
  },
};

// Time to first recommendation (tests/bench/ttfr.mjs) and the SIMD build A/B
// (tests/bench/simd-ab.mjs): issue #19.
BLOCKS.ttfr = {
  file: 'ttfr.json',
  how: '`make bench` (bench-ttfr)',
  render(j) {
    const prof = Object.entries(j.profiles ?? {})
      .map(([name, p]) => `${name} = ${p.latency} ms latency, ${p.downloadThroughput} B/s down`)
      .join('; ');
    const out = [provenance({ date: j.date, host: j.host, cpu: j.cpu_model, chromium: j.chromium }, `Time to first recommendation, median ms of ${j.reps} visits (${prof})`), ''];
    out.push('| bundle (bytes) | connection | glue | visit | navigation → first rec | load() → first rec | download | compile | validate | query | cache |');
    out.push('|---|---|---|---|---:|---:|---:|---:|---:|---:|---|');
    for (const r of j.rows ?? []) {
      out.push(
        `| ${r.n} × ${r.d} ${r.dtype} (${r.bytes}) | ${r.profile} | ${r.glue} | ${r.visit} | ${fx(r.nav_to_first_ms, 1)} | ${fx(r.load_call_to_first_ms, 1)} | ${fx(r.download_ms, 1)} | ${r.compile_ms === null ? '' : fx(r.compile_ms, 1)} | ${r.validate_ms === null ? '' : `${fx(r.validate_ms, 1)} ${r.validation}`} | ${fx(r.query_ms, 1)} | ${r.cache} |`,
      );
    }
    const la = j.load_average?.before;
    if (Array.isArray(la)) out.push('', `Load average of the host when the run started: ${la.map((x) => fx(x, 2)).join(', ')}.`);
    return out;
  },
};
BLOCKS['simd-ab'] = {
  file: 'simd_ab.json',
  how: '`make bench` (bench-simd-ab)',
  render(j) {
    const out = [provenance({ ...j.run, cpu: j.run?.cpu_model }, `Relaxed-SIMD vs simd build, interleaved in one page, median ms per top-10 over ${j.rounds} rounds`), ''];
    out.push('| dtype | items | d | relaxed | simd | simd ÷ relaxed | best round relaxed | best round simd | same top-10 |', '|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const r of j.rows ?? []) out.push(`| ${r.dtype} | ${r.n} | ${r.d} | ${fx(r.relaxed_ms, 3)} | ${fx(r.simd_ms, 3)} | ${fx(r.simd_over_relaxed, 2)} | ${fx(r.relaxed_min_ms, 3)} | ${fx(r.simd_min_ms, 3)} | ${r.same_top10 ? 'yes' : 'no'} |`);
    if (j.auto) out.push('', `\`simd: 'auto'\` in that browser: ${j.auto.variant} (${j.auto.reason}).`);
    const la = j.run?.load_average?.[0];
    if (Array.isArray(la)) out.push('', `Load average of the host when the run started: ${la.map((x) => fx(x, 2)).join(', ')}.`);
    return out;
  },
};

// vitrine vs onnxruntime-web interleaved in one page (tests/bench/ort-ab.mjs,
// `make bench-ort`): issue #19 item 6.
BLOCKS['ort-ab'] = {
  file: 'ort_ab.json',
  how: '`make bench` (bench-ort)',
  render(j) {
    const rounds = j.rows?.[0]?.rounds;
    const out = [provenance({ ...j.run, cpu: j.run?.cpu_model }, `vitrine (one thread) vs onnxruntime-web, interleaved in one page, median ms per top-10 over ${rounds} rounds; wall time, and the page thread's CPU time`), ''];
    out.push(
      '| dtype | items | ORT route | ORT threads | vitrine | ORT | wasm-read | ORT ÷ vitrine | vitrine CPU | ORT CPU | wasm-read CPU | ORT ÷ vitrine CPU |',
      '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of j.rows ?? []) {
      const w = r.median_ms ?? {};
      const c = r.cpu_median_ms ?? {};
      out.push(
        `| ${r.dtype} | ${r.n} | ${r.ort_route} | ${r.ort_threads} | ${fx(w.vitrine, 3)} | ${fx(w.ort, 3)} | ${fx(w['wasm-read'], 3)} | ${fx(r.ort_over_vitrine_median, 2)} | ${fx(c.vitrine, 3)} | ${fx(c.ort, 3)} | ${fx(c['wasm-read'], 3)} | ${fx(r.ort_over_vitrine_cpu_median, 2)} |`,
      );
    }
    const v = j.rows?.[0]?.ort_version;
    if (v) out.push('', `onnxruntime-web ${v}, wasm execution provider.`);
    const la = j.run?.load_average?.[0];
    if (Array.isArray(la)) out.push('', `Load average of the host when the run started: ${la.map((x) => fx(x, 2)).join(', ')}.`);
    return out;
  },
};

// ------------------------------------------------------------ blocks
const begin = (n) => `<!-- numbers:${n}:begin -->`;
const end = (n) => `<!-- numbers:${n}:end -->`;

function renderBlock(name) {
  const b = BLOCKS[name];
  const p = join(SNAP, b.file);
  if (!existsSync(p)) return { lines: [missing(b.file, b.how)], json: null };
  const json = JSON.parse(readFileSync(p, 'utf8'));
  return { lines: b.render(json), json };
}

/** README text with every known block regenerated; unknown names are an error. */
function regenerate(text) {
  const found = [];
  const re = /<!-- numbers:([a-z0-9-]+):begin -->\n[\s\S]*?<!-- numbers:\1:end -->/g;
  const out = text.replace(re, (_, name) => {
    if (!BLOCKS[name]) throw new Error(`README.md: unknown numbers block ${name}`);
    found.push(name);
    return `${begin(name)}\n${renderBlock(name).lines.join('\n')}\n${end(name)}`;
  });
  return { out, found };
}

function blockText(text, name) {
  const i = text.indexOf(begin(name));
  const j = text.indexOf(end(name));
  return i < 0 || j < 0 ? null : text.slice(i + begin(name).length, j);
}

/** Every printed rendering of a JSON value: each number at 0–6 decimals, as a
 *  percentage at 0–3 decimals, and MiB; strings as they are. */
function sources(json) {
  const nums = new Set();
  const strs = new Set();
  const walk = (v) => {
    if (typeof v === 'number' && Number.isFinite(v)) {
      for (let d = 0; d <= 6; d++) nums.add(v.toFixed(d));
      for (let d = 0; d <= 3; d++) nums.add((v * 100).toFixed(d));
      for (let d = 0; d <= 1; d++) nums.add((v / 1048576).toFixed(d));
      nums.add(String(v));
    } else if (typeof v === 'string') strs.add(v);
    else if (v && typeof v === 'object') {
      // Field names printed as column heads (`foldin_100_events_ms`) are
      // labels, not figures; a bare numeric key is not taken as a label.
      if (!Array.isArray(v)) for (const k of Object.keys(v)) if (/[a-z]_|_[a-z]/i.test(k)) strs.add(k);
      Object.values(v).forEach(walk);
    }
  };
  walk(json);
  return { nums, strs };
}

/** Figures in a block that no value of its snapshot prints to. */
function unsourced(block, json) {
  if (!json) {
    // A block without a snapshot may hold no figure at all.
    const stripped = block.replace(/docs\/numbers\/[\w.-]+/g, '');
    return stripped.match(/\d+(?:\.\d+)?/g) ?? [];
  }
  const { nums, strs } = sources(json);
  const bad = [];
  for (const line of block.split('\n')) {
    // The provenance line's date and host are JSON strings: compare whole.
    // `Recall@10`, `HR@20`: metric names, not figures.
    let rest = line.replace(/@\d+/g, '@');
    for (const s of [...strs].sort((a, b) => b.length - a.length)) if (s && rest.includes(s)) rest = rest.split(s).join(' ');
    for (const tok of rest.match(/\d+(?:\.\d+)?/g) ?? []) {
      if (!nums.has(tok)) bad.push(`${tok} (in: ${line.trim().slice(0, 80)})`);
    }
  }
  return bad;
}

// ------------------------------------------------------------ main
const mode = process.argv[2] ?? '--update';
if (!['--update', '--render', '--check', '--self-test'].includes(mode)) {
  console.error('usage: readme-numbers.mjs [--update | --render | --check | --self-test]');
  process.exit(2);
}

if (mode === '--update') {
  mkdirSync(SNAP, { recursive: true });
  for (const [name, src] of Object.entries(SOURCES)) {
    const from = join(ROOT, src);
    const to = join(SNAP, name);
    if (!existsSync(from)) continue;
    if (existsSync(to) && statSync(to).mtimeMs >= statSync(from).mtimeMs) continue;
    JSON.parse(readFileSync(from, 'utf8')); // refuse to snapshot a broken file
    copyFileSync(from, to);
    console.error(`readme-numbers: ${src} → docs/numbers/${name}`);
  }
}

const text = readFileSync(README, 'utf8');
const { out, found } = regenerate(text);
const problems = [];
for (const name of Object.keys(BLOCKS)) if (!found.includes(name)) problems.push(`README.md has no numbers:${name} block`);

if (mode === '--update' || mode === '--render') {
  if (out !== text) writeFileSync(README, out);
  console.error(`readme-numbers: ${found.length} blocks written (${found.join(', ')})`);
} else {
  if (out !== text) problems.push('README.md numbers blocks differ from docs/numbers/*.json: regenerate them with `node scripts/readme-numbers.mjs --render` (or `make readme-numbers`) and commit');
  for (const name of found) {
    const { json } = renderBlock(name);
    for (const f of unsourced(blockText(text, name) ?? '', json)) problems.push(`numbers:${name}: figure ${f} has no source in docs/numbers/${BLOCKS[name].file}`);
  }
  if (mode === '--self-test') {
    // The check must catch a hand-edited figure: change one digit in the
    // first block that has a snapshot and expect both checks to fail.
    const name = found.find((n) => existsSync(join(SNAP, BLOCKS[n].file)));
    if (!name) throw new Error('self-test needs one committed snapshot');
    const block = blockText(out, name);
    // The first figure whose one-digit change prints to no value of the
    // snapshot (in a large snapshot, 7.00 → 7.10 may well be another value).
    const { nums } = sources(renderBlock(name).json);
    let tampered = block;
    for (const m of block.matchAll(/(\d+)\.(\d)(\d*)(?=\s*\|)/g)) {
      const changed = `${m[1]}.${(Number(m[2]) + 1) % 10}${m[3]}`;
      if (nums.has(changed)) continue;
      tampered = block.slice(0, m.index) + changed + block.slice(m.index + m[0].length);
      break;
    }
    if (tampered === block) throw new Error(`self-test: no figure to tamper with in ${name}`);
    if (unsourced(tampered, renderBlock(name).json).length === 0) problems.push(`self-test: a tampered figure in numbers:${name} passed the source check`);
    if (regenerate(out.replace(block, tampered)).out === out.replace(block, tampered)) problems.push('self-test: a tampered block was not regenerated');
  }
  if (problems.length) {
    console.error(problems.map((p) => `readme-numbers: ${p}`).join('\n'));
    process.exit(1);
  }
  console.error(`readme-numbers: ${found.length} blocks match their snapshots; every figure has a source`);
}
