//! Behaviour segments end to end on the native side: `vitrine train ...
//! --export --behaviour LOG` and `vitrine session segments --bundle` write a
//! BEHAVIOUR section that the engine loads, and a device history placed
//! through it (the same feature function) lands where its habit says. Bad
//! flags and logs are refused before anything is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vitrine::engine::Model;
use vitrine::shopper::segments::{segment_of, NoSegment};
use vitrine::shopper::{Event, EventKind};

const DAY_S: i64 = 86_400;

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vitrine-segments-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// 40 users over 24 items and 120 days: even users buy every 4 days until
/// the end (2 items a visit), odd users bought once at the start and left.
/// Columns for both readers: the trainer's rating, the behaviour `type`.
fn log() -> String {
    log_with(|t| t.to_string())
}

/// [`log`] with each time (seconds from 0) written by `time`.
fn log_with(time: impl Fn(i64) -> String) -> String {
    let mut s = String::from("user_id,item_id,rating,timestamp,type\n");
    for u in 0..40 {
        if u % 2 == 0 {
            for v in 0..30 {
                let t = v * 4 * DAY_S;
                for k in 0..2 {
                    let item = (u * 3 + v + k * 5) % 24;
                    s.push_str(&format!("u{u},i{item},5,{},view\n", time(t + k * 60)));
                    s.push_str(&format!(
                        "u{u},i{item},5,{},purchase\n",
                        time(t + k * 60 + 30)
                    ));
                }
            }
        } else {
            s.push_str(&format!("u{u},i{},5,{},purchase\n", u % 24, time(u)));
        }
    }
    s
}

fn train(dir: &Path, extra: &[&str]) -> Output {
    let inp = dir.join("log.csv");
    std::fs::write(&inp, log()).unwrap();
    vitrine()
        .arg("train")
        .arg(&inp)
        .args(["--quiet", "--iterations", "2", "--factors", "4"])
        .arg("-o")
        .arg(dir.join("m.vstate"))
        .arg("--export")
        .arg(dir.join("m.vtr"))
        .args(extra)
        .output()
        .unwrap()
}

fn history(model: &Model, ids: &[(&str, f64, EventKind)]) -> Vec<Event> {
    ids.iter()
        .map(|&(id, day, kind)| Event {
            kind,
            item: u32::try_from(model.item_index(id).expect("item in the bundle")).unwrap(),
            ts: day * 86_400_000.0,
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS+01:00` for `secs` since the epoch (UTC), written an
/// hour ahead as a shop's local time would be.
fn iso_plus_one_hour(secs: i64) -> String {
    let local = secs + 3600;
    let (days, sod) = (local.div_euclid(DAY_S), local.rem_euclid(DAY_S));
    let (y, m, d) = vitrine::train::values::civil_from_days(days);
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+01:00")
}

/// The behaviour log's timestamps are durations on the device (30-minute
/// sessions, recency in days): the same events in milliseconds or as ISO-8601
/// local times give the segments the seconds give, and the summary says how
/// the column was read.
#[test]
fn behaviour_log_in_ms_or_iso_gives_the_segments_of_seconds() {
    let dir = tmpdir("units");
    let base = 1_700_000_000; // November 2023: the magnitude `auto` reads
    let logs = [
        (
            "s",
            log_with(|t| (base + t).to_string()),
            "timestamps in seconds (--time-unit auto",
        ),
        (
            "ms",
            log_with(|t| ((base + t) * 1000).to_string()),
            "timestamps in milliseconds (--time-unit auto",
        ),
        (
            "iso",
            log_with(|t| iso_plus_one_hour(base + t)),
            "timestamps ISO-8601",
        ),
    ];
    let mut sections = Vec::new();
    for (name, text, said) in &logs {
        let events = dir.join(format!("events-{name}.csv"));
        std::fs::write(&events, text).unwrap();
        let o = train(
            &dir,
            &[
                "--behaviour",
                events.to_str().unwrap(),
                "--behaviour-segments",
                "2",
            ],
        );
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let model = Model::from_bytes(&std::fs::read(dir.join("m.vtr")).unwrap()).unwrap();
        let o = vitrine()
            .args(["session", "segments", "--bundle"])
            .arg(dir.join("m.vtr"))
            .arg("--bundle-out")
            .arg(dir.join(format!("seg-{name}.vtr")))
            .arg("--events")
            .arg(&events)
            .args(["--k", "2"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(said), "{name}: {}", stderr(&o));
        let seg = vitrine::format::behaviour::decode(model.view().behaviour.unwrap()).unwrap();
        assert_eq!(
            seg.sizes,
            vec![20, 20],
            "{name}: the two habits are two segments"
        );
        sections.push((name, seg));
    }
    for (name, seg) in &sections[1..] {
        assert_eq!(seg.centroids, sections[0].1.centroids, "{name} vs s");
        assert_eq!(seg.labels, sections[0].1.labels, "{name} vs s");
    }
    // Forced to seconds, the millisecond log's visits are 1000× apart: the
    // regular shoppers no longer look like one habit with the others.
    let o = train(
        &dir,
        &[
            "--behaviour",
            dir.join("events-ms.csv").to_str().unwrap(),
            "--behaviour-segments",
            "2",
            "--behaviour-time-unit",
            "s",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let model = Model::from_bytes(&std::fs::read(dir.join("m.vtr")).unwrap()).unwrap();
    let seg = vitrine::format::behaviour::decode(model.view().behaviour.unwrap()).unwrap();
    assert_ne!(
        seg.centroids, sections[0].1.centroids,
        "the unit must matter"
    );
}

#[test]
fn export_behaviour_from_the_training_log() {
    let dir = tmpdir("export");
    let log_path = dir.join("log.csv");
    let o = train(
        &dir,
        &[
            "--behaviour",
            log_path.to_str().unwrap(),
            "--behaviour-segments",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let model = Model::from_bytes(&std::fs::read(dir.join("m.vtr")).unwrap()).unwrap();
    let seg = vitrine::format::behaviour::decode(model.view().behaviour.unwrap()).unwrap();
    assert_eq!(seg.centroids.len(), 2);
    assert_eq!(seg.sizes.iter().sum::<u32>(), 40);
    assert_eq!(seg.sizes, vec![20, 20], "the two habits are two segments");
    // Labels are generated from the centroids: one of the two says "frequent".
    assert!(
        seg.labels.iter().any(|l| l.contains("frequent visitors")),
        "{:?}",
        seg.labels
    );
    // A device with the regular habit (its last 15 visits, the same item
    // rule as user 2 of the log) and one that bought once long ago.
    let end = 116.0;
    let regular: Vec<(String, f64)> = (15..30)
        .flat_map(|v| {
            (0..2).map(move |k| {
                (
                    format!("i{}", (6 + v + k * 5) % 24),
                    4.0 * v as f64 + 0.001 * k as f64,
                )
            })
        })
        .collect();
    let regular: Vec<(&str, f64, EventKind)> = regular
        .iter()
        .map(|(i, d)| (i.as_str(), *d, EventKind::Purchase))
        .collect();
    let now = (end + 1.0) * 86_400_000.0;
    let gap = 30.0 * 60_000.0;
    let a = segment_of(&model, &history(&model, &regular), now, gap).unwrap();
    let b = segment_of(
        &model,
        &history(&model, &[("i3", 0.0, EventKind::Purchase)]),
        now,
        gap,
    )
    .unwrap();
    assert_ne!(a.id, b.id, "{a:?} {b:?}");
    assert!(a.label.contains("frequent visitors"), "{a:?}");
    // No prices in this bundle: monetary and cheaper_share are missing (NaN).
    assert!(a.features[2].is_nan() && a.features[5].is_nan(), "{a:?}");
    assert_eq!(
        segment_of(&model, &[], now, gap),
        Err(NoSegment::EmptyHistory)
    );
}

#[test]
fn bad_behaviour_flags_and_logs_are_refused_before_writing() {
    let dir = tmpdir("bad");
    let log_path = dir.join("log.csv");
    for k in ["0", "65", "many"] {
        let o = train(
            &dir,
            &[
                "--behaviour",
                log_path.to_str().unwrap(),
                "--behaviour-segments",
                k,
            ],
        );
        assert!(!o.status.success(), "--behaviour-segments {k} accepted");
        assert!(stderr(&o).contains("auto"), "{}", stderr(&o));
    }
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "who,what\nu1,i1\n").unwrap();
    let o = train(&dir, &["--behaviour", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no user_id column") && stderr(&o).contains("--behaviour-user-col"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("m.vtr").exists() && !dir.join("m.vstate").exists());
    let unknown = dir.join("unknown.csv");
    std::fs::write(
        &unknown,
        "user_id,item_id,timestamp\nu1,nope,1\nu2,nada,2\n",
    )
    .unwrap();
    let o = train(&dir, &["--behaviour", unknown.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no event has an item of this bundle"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn session_segments_adds_behaviour_to_an_existing_bundle() {
    let dir = tmpdir("bundle");
    let base = dir.join("base.vtr");
    let o = vitrine()
        .args([
            "session", "synth", "--items", "400", "--dim", "8", "--seed", "7", "--out",
        ])
        .arg(&base)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.join("seg.vtr");
    let o = vitrine()
        .args([
            "session",
            "segments",
            "--synthetic-users",
            "800",
            "--k",
            "4",
            "--bundle",
        ])
        .arg(&base)
        .arg("--bundle-out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(&base).unwrap();
    let model = Model::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    let old = Model::from_bytes(&before).unwrap();
    assert_eq!(model.n_items(), old.n_items());
    assert!(old.view().behaviour.is_none());
    let seg = vitrine::format::behaviour::decode(model.view().behaviour.unwrap()).unwrap();
    assert_eq!(seg.centroids.len(), 4);
    // The simulated habits (big spenders, deal seekers, lapsed, occasional)
    // are found and named from the centroids alone.
    let all = seg.labels.join(" | ");
    for want in [
        "discount seekers",
        "inactive for a while",
        "frequent visitors",
    ] {
        assert!(all.contains(want), "{want:?} not in {all}");
    }
    // `inspect` shows them as a merchant reads them: label, size, feature means.
    let o = vitrine().arg("inspect").arg(&out).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("behaviour  4 segments"), "{text}");
    assert!(text.contains(&seg.labels[0]), "{text}");
    assert!(
        text.contains(&format!("shrunk by a prior of {:.2} visits", seg.shrink)),
        "{text}"
    );
    // Adding it again replaces the section instead of duplicating it.
    let again = dir.join("again.vtr");
    let o = vitrine()
        .args([
            "session",
            "segments",
            "--synthetic-users",
            "200",
            "--k",
            "2",
            "--bundle",
        ])
        .arg(&out)
        .arg("--bundle-out")
        .arg(&again)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m2 = Model::from_bytes(&std::fs::read(&again).unwrap()).unwrap();
    let s2 = vitrine::format::behaviour::decode(m2.view().behaviour.unwrap()).unwrap();
    assert_eq!(s2.centroids.len(), 2);
    // Without a source of histories: refused.
    let o = vitrine()
        .args(["session", "segments", "--bundle"])
        .arg(&base)
        .arg("--bundle-out")
        .arg(dir.join("none.vtr"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--events LOG or --synthetic-users N"),
        "{}",
        stderr(&o)
    );
}

/// A bundle whose BEHAVIOUR section was written before the shrink field
/// existed (tests/fixtures/v1.3-behaviour-unshrunk.vtr, exported by the
/// previous build from `log()`): it still loads, its histories are placed
/// unshrunk as its centroids were fitted, and a one-visit lapsed shopper is
/// still "inactive for a while".
#[test]
fn behaviour_section_without_shrink_still_loads_unshrunk() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1.3-behaviour-unshrunk.vtr");
    let model = Model::from_bytes(&std::fs::read(path).unwrap()).unwrap();
    let seg =
        vitrine::format::behaviour::decode(model.view().behaviour.expect("BEHAVIOUR")).unwrap();
    assert_eq!(seg.shrink, 0.0);
    let now = 200.0;
    let lapsed = segment_of(
        &model,
        &history(&model, &[("i3", 0.0, EventKind::Purchase)]),
        now * 86_400_000.0,
        1_800_000.0,
    )
    .unwrap();
    assert!(
        lapsed.label.contains("inactive for a while"),
        "{}",
        lapsed.label
    );
    let regular: Vec<(&str, f64, EventKind)> = (0..30)
        .map(|v| {
            (
                ["i1", "i2", "i3"][v % 3],
                now - 1.0 - v as f64 * 4.0,
                EventKind::Purchase,
            )
        })
        .rev()
        .collect();
    let r = segment_of(
        &model,
        &history(&model, &regular),
        now * 86_400_000.0,
        1_800_000.0,
    )
    .unwrap();
    assert_ne!(r.id, lapsed.id, "{} vs {}", r.label, lapsed.label);
}

/// `--shrink` / `--behaviour-shrink`: a given prior strength is written into
/// the section; a bad one is refused before anything is written.
#[test]
fn shrink_flag_sets_the_prior_or_is_refused() {
    let dir = tmpdir("shrink");
    let o = train(
        &dir,
        &[
            "--behaviour",
            dir.join("log.csv").to_str().unwrap(),
            "--behaviour-shrink",
            "2.5",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let model = Model::from_bytes(&std::fs::read(dir.join("m.vtr")).unwrap()).unwrap();
    let seg = vitrine::format::behaviour::decode(model.view().behaviour.unwrap()).unwrap();
    assert_eq!(seg.shrink, 2.5);
    let _ = std::fs::remove_file(dir.join("m.vtr"));
    let _ = std::fs::remove_file(dir.join("m.vstate"));
    for bad in ["-1", "nan", "many"] {
        let flag = format!("--behaviour-shrink={bad}");
        let o = train(
            &dir,
            &["--behaviour", dir.join("log.csv").to_str().unwrap(), &flag],
        );
        assert!(!o.status.success(), "{bad}");
        assert!(stderr(&o).contains("prior strength"), "{}", stderr(&o));
        assert!(!dir.join("m.vtr").exists());
    }
}

/// A store's own export names its columns its own way (`Email`, `Lineitem
/// sku`, `Created at`): the column flags read it as the usual header is
/// read, by name or by index, for `export --behaviour` and `session
/// segments --events` alike. Without them, or with a column the file does
/// not have, the error names the flag to use and nothing is written.
#[test]
fn event_log_columns_are_named_by_flags() {
    let dir = tmpdir("columns");
    let standard = dir.join("events.csv");
    std::fs::write(&standard, log()).unwrap();
    let renamed = dir.join("export.csv");
    let text = log().replacen(
        "user_id,item_id,rating,timestamp,type",
        "Email,Lineitem sku,Rating,Created at,Kind",
        1,
    );
    std::fs::write(&renamed, text).unwrap();
    let section = |dir: &Path| {
        let model = Model::from_bytes(&std::fs::read(dir.join("m.vtr")).unwrap()).unwrap();
        vitrine::format::behaviour::decode(model.view().behaviour.unwrap()).unwrap()
    };
    let o = train(
        &dir,
        &[
            "--behaviour",
            standard.to_str().unwrap(),
            "--behaviour-segments",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let want = section(&dir);
    let o = train(
        &dir,
        &[
            "--behaviour",
            renamed.to_str().unwrap(),
            "--behaviour-segments",
            "2",
            "--behaviour-user-col",
            "Email",
            "--behaviour-item-col",
            "lineitem SKU",
            "--behaviour-time-col",
            "Created at",
            "--behaviour-type-col",
            "Kind",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = section(&dir);
    assert_eq!(got.centroids, want.centroids);
    assert_eq!(got.labels, want.labels);
    assert_eq!(got.sizes, want.sizes);

    // `session segments --events`, columns by index; the type column left
    // out (`none`): every row a purchase, a different population.
    let segments = |events: &Path, extra: &[&str], out: &str| {
        vitrine()
            .args(["session", "segments", "--bundle"])
            .arg(dir.join("m.vtr"))
            .arg("--bundle-out")
            .arg(dir.join(out))
            .arg("--events")
            .arg(events)
            .args(["--k", "2"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = segments(&standard, &[], "std.vtr");
    assert!(o.status.success(), "{}", stderr(&o));
    // The export's columns by index; `type_col` 4 is its `Kind`.
    let by_index = |type_col: &str, out: &str| {
        segments(
            &renamed,
            &[
                "--user-col",
                "0",
                "--item-col",
                "1",
                "--time-col",
                "3",
                "--type-col",
                type_col,
            ],
            out,
        )
    };
    let o = by_index("4", "idx.vtr");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.join("idx.vtr")).unwrap(),
        std::fs::read(dir.join("std.vtr")).unwrap(),
        "the same events by index give the same bundle"
    );
    let o = by_index("none", "none.vtr");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(
        std::fs::read(dir.join("none.vtr")).unwrap(),
        std::fs::read(dir.join("std.vtr")).unwrap(),
        "every row a purchase is another log"
    );

    // No flags on the export: the error says which flag names the column.
    let o = segments(&renamed, &[], "bad1.vtr");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no user_id column"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--user-col"), "{}", stderr(&o));
    assert!(!dir.join("bad1.vtr").exists());
    let _ = std::fs::remove_file(dir.join("m.vtr"));
    let _ = std::fs::remove_file(dir.join("m.vstate"));
    let o = train(
        &dir,
        &[
            "--behaviour",
            renamed.to_str().unwrap(),
            "--behaviour-user-col",
            "Email",
            "--behaviour-item-col",
            "SKU",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--behaviour-item-col"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("no column named \"SKU\""),
        "{}",
        stderr(&o)
    );
    assert!(
        !dir.join("m.vtr").exists() && !dir.join("m.vstate").exists(),
        "nothing written"
    );
    // A column flag without its log is refused by the parser.
    let o = train(&dir, &["--behaviour-user-col", "Email"]);
    assert!(!o.status.success());
}

/// The basket evaluation (`session segments --data`) reads a basket log the
/// way every other log is read: a quoted, comma-separated UTF-16 export
/// gives the report of its tab-separated UTF-8 twin, and the report names
/// the data from the input, not from the dataset the defaults point at.
#[test]
fn basket_logs_are_read_by_the_table_reader_and_named_from_the_input() {
    let dir = tmpdir("baskets");
    // Frequent small-basket users and rare big-basket users.
    let mut rows = Vec::new();
    for u in 0..40 {
        let (baskets, size) = if u % 2 == 0 { (12, 1) } else { (4, 9) };
        for b in 0..baskets {
            for s in 0..size {
                rows.push((
                    format!("u{u}"),
                    b * (48 / baskets),
                    (u * 7 + b * 3 + s) % 50,
                ));
            }
        }
    }
    let mut tsv = String::from("user_id\tbasket_id\titem_id\n");
    let mut csv = String::from("\"customer_id\",\"basket_id\",\"product_id\",\"note\"\r\n");
    for (u, b, i) in &rows {
        tsv.push_str(&format!("{u}\t{b}\ti{i}\n"));
        csv.push_str(&format!("\"{u}\",{b},\"i{i}\",\"a, b\"\r\n"));
    }
    let shop = dir.join("shop");
    std::fs::create_dir_all(&shop).unwrap();
    let (a, b) = (dir.join("tafeng-like.tsv"), shop.join("train.csv"));
    std::fs::write(&a, &tsv).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(csv.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&b, utf16).unwrap();
    let segments = |data: &Path, out: &Path, extra: &[&str]| {
        vitrine()
            .args(["session", "segments"])
            .args(extra)
            .arg("--data")
            .arg(data)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let run = |data: &Path, out: &Path| {
        let o = segments(data, out, &["--k", "2"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
        j
    };
    let (ja, jb) = (run(&a, &dir.join("a.json")), run(&b, &dir.join("b.json")));
    assert_eq!(ja["dataset"], "tafeng-like");
    assert_eq!(
        jb["dataset"], "shop/train",
        "a split's generic file name takes its folder"
    );
    assert_eq!(ja["users"], 40);
    for k in ["users", "k", "segments", "stability"] {
        assert_eq!(ja[k], jb[k], "{k}");
    }
    // A log without the columns is a layout error naming them; a bad
    // basket id is a counted bad row.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "session,item\n1,2\n").unwrap();
    let o = segments(&bad, &dir.join("bad.json"), &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("BAD_LAYOUT") && stderr(&o).contains("basket_id"),
        "{}",
        stderr(&o)
    );
    let mut some_bad = tsv.clone();
    some_bad.push_str("u1\tyesterday\ti3\n");
    std::fs::write(&bad, some_bad).unwrap();
    let o = segments(&bad, &dir.join("bad.json"), &["--max-bad-share", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("TOO_MANY_BAD_LINES"), "{}", stderr(&o));
    assert!(!dir.join("bad.json").exists() && !stderr(&o).contains("panicked"));
}
