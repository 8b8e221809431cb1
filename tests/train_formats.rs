//! Storefront exports through `vitrine train`: ISO-8601 and millisecond
//! timestamps give the same sessions (the neighbour evidence) as the same
//! log in seconds, and `--stock-col` reaches the bundle's FLAGS, which
//! `in_stock_only` then filters on, also after `vitrine export`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vitrine::engine::{Model, RecommendOptions};

fn bin() -> PathBuf {
    std::env::var_os("VITRINE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vitrine")))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "vitrine-train-formats-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Trains `log` (written to DIR/NAME.csv) with an f32 export carrying 4
/// neighbours per item; returns the bundle bytes and stderr.
fn train(dir: &Path, name: &str, log: impl AsRef<[u8]>, extra: &[&str]) -> (Vec<u8>, String) {
    let inp = dir.join(format!("{name}.csv"));
    std::fs::write(&inp, log).unwrap();
    let vtr = dir.join(format!("{name}.vtr"));
    let o = run(Command::new(bin())
        .arg("train")
        .arg(&inp)
        .args(["--value-col", "none", "--factors", "4", "--iterations", "2"])
        .args(["--threads", "1", "--neighbours", "4", "--dtype", "f32"])
        .arg("-o")
        .arg(dir.join(format!("{name}.vstate")))
        .arg("--export")
        .arg(&vtr)
        .args(extra));
    (
        std::fs::read(&vtr).unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every item's neighbour list, by id: what the sessions produced.
fn neighbours(bytes: &[u8]) -> Vec<(String, Vec<(String, f32)>)> {
    let m = Model::from_bytes(bytes).unwrap();
    let v = m.view();
    let nb = v.neighbours.expect("a NEIGHBOURS section");
    let id = |i: usize| v.ids.get(i).unwrap().to_string();
    (0..m.n_items())
        .map(|i| (id(i), nb.of(i).map(|(j, w)| (id(j as usize), w)).collect()))
        .collect()
}

/// 2024-03-10T09:00:00Z, a Sunday with no DST change in the offsets used.
const T0: i64 = 1_710_061_200;

/// (user, item, seconds since T0). Per user two visits 3 hours apart, events
/// within a visit 1 to 20 minutes apart: with a 30-minute gap each visit
/// is one session. Read as seconds, a millisecond log has every event
/// apart from the next by more than 30 "minutes": no sessions at all.
fn events() -> Vec<(String, String, i64)> {
    let visits: [&[&str]; 8] = [
        &["a", "b", "c"],
        &["d", "e"],
        &["a", "b"],
        &["e", "f", "d"],
        &["b", "c"],
        &["f", "g"],
        &["c", "a", "h"],
        &["g", "h", "e"],
    ];
    let mut out = Vec::new();
    for u in 0..4 {
        for v in 0..2 {
            let mut t = u as i64 * 86_400 + v as i64 * 3 * 3600;
            for (k, item) in visits[u * 2 + v].iter().enumerate() {
                t += 60 * (1 + 7 * k as i64);
                out.push((format!("u{u}"), item.to_string(), t));
            }
        }
    }
    out
}

fn log(f: impl Fn(i64, usize) -> String) -> String {
    let mut s = String::from("user_id,item_id,timestamp\n");
    for (k, (u, i, t)) in events().into_iter().enumerate() {
        s.push_str(&format!("{u},{i},{}\n", f(T0 + t, k)));
    }
    s
}

/// `secs` as ISO-8601, in one of several spellings exports use.
fn iso(secs: i64, k: usize) -> String {
    let days = secs.div_euclid(86_400);
    let (h, mi, s) = (
        secs.rem_euclid(86_400) / 3600,
        secs.rem_euclid(3600) / 60,
        secs.rem_euclid(60),
    );
    // 2024-03-10 is day 19792 since the epoch; the log spans 4 days of March.
    let d = 10 + (days - 19_792);
    match k % 4 {
        0 => format!("2024-03-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        1 => format!("2024-03-{d:02} {h:02}:{mi:02}:{s:02}.250"),
        // Two hours east of UTC, so the wall clock reads later.
        2 => format!("2024-03-{d:02}T{:02}:{mi:02}:{s:02}+02:00", h + 2),
        _ => format!("2024-03-{d:02}T{h:02}:{mi:02}:{s:02}.123456+0000"),
    }
}

/// A log saved as "Unicode text" (UTF-16LE with a byte-order mark, as
/// Excel and Notepad write it) trains the model its UTF-8 twin trains.
#[test]
fn a_utf16_log_trains_as_its_utf8_twin() {
    let d = tmpdir("utf16");
    let text = log(|t, _| t.to_string()).replace(",a,", ",Café,");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let (b8, _) = train(&d, "utf8", &text, &["--quiet"]);
    let (b16, _) = train(&d, "utf16", &utf16, &["--quiet"]);
    let nb = neighbours(&b16);
    assert!(nb.iter().any(|(id, _)| id == "Café"), "{nb:?}");
    assert_eq!(nb, neighbours(&b8));
}

#[test]
fn ms_and_iso_logs_give_the_sessions_of_the_seconds_log() {
    let d = tmpdir("sessions");
    let (b_s, _) = train(&d, "seconds", log(|t, _| t.to_string()), &["--quiet"]);
    // Milliseconds with sub-second parts, unit found by `auto`.
    let (b_ms, err) = train(
        &d,
        "ms",
        log(|t, k| (t * 1000 + (k as i64 * 37) % 1000).to_string()),
        &[],
    );
    assert!(
        err.contains("timestamps in milliseconds (--time-unit auto: 20 of 20 values"),
        "{err}"
    );
    let (b_iso, err) = train(&d, "iso", log(iso), &[]);
    assert!(err.contains("timestamps ISO-8601"), "{err}");
    assert!(err.contains("without a UTC offset taken as UTC"), "{err}");

    let want = neighbours(&b_s);
    // The evidence is there and follows the 30-minute gap: h and e meet in
    // u3's second visit; d and a never share a visit, though u0 and u1 see
    // both three hours apart. (A pair is one interaction at its latest
    // time: u3's h counts in its second visit only.)
    let of = |id: &str| &want.iter().find(|x| x.0 == id).unwrap().1;
    assert!(of("a").iter().any(|x| x.0 == "b"), "{want:?}");
    assert!(of("h").iter().any(|x| x.0 == "e"), "{want:?}");
    assert!(!of("d").iter().any(|x| x.0 == "a"), "{want:?}");
    assert_eq!(neighbours(&b_ms), want, "ms log");
    assert_eq!(neighbours(&b_iso), want, "ISO log");

    // The old reading (ms taken as seconds) is what this guards against:
    // forced, it loses every session.
    let (b_wrong, _) = train(
        &d,
        "ms-as-s",
        log(|t, _| (t * 1000).to_string()),
        &["--quiet", "--time-unit", "s"],
    );
    assert!(neighbours(&b_wrong).iter().all(|x| x.1.is_empty()));
    assert_ne!(neighbours(&b_wrong), want);
}

#[test]
fn a_log_mixing_units_counts_the_odd_rows() {
    let d = tmpdir("mixed");
    let mut text = log(|t, _| (t * 1000).to_string());
    text.push_str(&format!("u9,a,{T0}\n"));
    let (_, err) = train(&d, "mixed", &text, &["--max-bad-rows", "10%"]);
    assert!(
        err.contains("1 malformed")
            && err.contains("line 22: timestamp \"1710061200\" looks like seconds"),
        "{err}"
    );
    let inp = d.join("mixed.csv");
    let o = Command::new(bin())
        .arg("train")
        .arg(&inp)
        .args(["--value-col", "none", "--factors", "4", "--iterations", "2"])
        .args(["--strict", "-o"])
        .arg(d.join("strict.vstate"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!d.join("strict.vstate").exists());
}

#[test]
fn stock_reaches_the_bundle_and_in_stock_only_filters() {
    let d = tmpdir("stock");
    // A Google Merchant Center style feed: availability words, prices with
    // their ISO code, a product_type path. Item h is not in the feed.
    let feed = "id\tprice\tavailability\tproduct_type\n\
        a\t12.99 USD\tin stock\tHome > Kitchen > Mugs\n\
        b\t1,299.00 USD\tout of stock\tHome > Kitchen > Pans\n\
        c\t5 USD\tpreorder\tHome > Garden\n\
        d\t7.50 USD\t3\tToys\n\
        e\t8 USD\t0\tToys > Blocks\n\
        f\t9 USD\tbackorder\tToys\n\
        g\t10 USD\tin_stock\tToys\n";
    let items = d.join("feed.tsv");
    std::fs::write(&items, feed).unwrap();
    let meta_flags = [
        "--items",
        items.to_str().unwrap(),
        "--item-id-col",
        "id",
        "--price-col",
        "price",
        "--stock-col",
        "availability",
        "--category-col",
        "product_type",
        "--category-level",
        "2",
    ];
    let (bytes, err) = train(&d, "log", log(|t, _| t.to_string()), &meta_flags);
    assert!(
        err.contains("stock for 7 items (4 out of stock; items not listed stay in stock)")
            && err.contains("prices in USD"),
        "{err}"
    );
    // `vitrine export` from the state carries the same flags.
    let exported = d.join("exported.vtr");
    run(Command::new(bin())
        .arg("export")
        .arg(d.join("log.vstate"))
        .args(["--dtype", "f32", "--quiet", "-o"])
        .arg(&exported));
    for b in [bytes, std::fs::read(&exported).unwrap()] {
        let m = Model::from_bytes(&b).unwrap();
        let v = m.view();
        let idx = |id: &str| m.item_index(id).unwrap();
        let flags = v.flags.expect("FLAGS");
        let stocked: Vec<bool> = ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .map(|id| flags[idx(id)] & 1 == 1)
            .collect();
        assert_eq!(
            stocked,
            [true, false, false, true, false, false, true, true]
        );
        assert_eq!(v.price_at(idx("b")), Some(1299.0));
        assert_eq!(v.price_at(idx("d")), Some(7.5));
        assert!(m.meta().contains(&("currency".into(), "USD".into())));
        let cat = |id: &str| {
            let c = v.category.unwrap()[idx(id)];
            v.category_names.get(c as usize).unwrap().to_string()
        };
        assert_eq!(cat("a"), "Home > Kitchen");
        assert_eq!(cat("b"), "Home > Kitchen");
        assert_eq!(cat("e"), "Toys > Blocks");
        assert_eq!(cat("d"), "Toys");

        let all = RecommendOptions {
            k: 8,
            ..Default::default()
        };
        let only = RecommendOptions {
            k: 8,
            in_stock_only: true,
            ..Default::default()
        };
        let ids = |r: Vec<vitrine::engine::Scored>| -> Vec<String> {
            let mut v: Vec<String> = r
                .iter()
                .map(|s| m.view().ids.get(s.index as usize).unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(ids(m.popular(&all).unwrap()).len(), 8);
        assert_eq!(ids(m.popular(&only).unwrap()), ["a", "d", "g", "h"]);
        let user = vec![0.1f32; m.dim()];
        assert_eq!(
            ids(m.recommend(&user, &only).unwrap()),
            ["a", "d", "g", "h"]
        );
    }
}

#[test]
fn bad_feed_values_are_malformed_rows_with_reasons() {
    let d = tmpdir("badfeed");
    let feed = "item_id,price,stock\na,12.99 USD,in stock\nb,12.99 EUR,in stock\nc,1 USD,someday\n";
    let items = d.join("feed.csv");
    std::fs::write(&items, feed).unwrap();
    let flags = [
        "--items",
        items.to_str().unwrap(),
        "--price-col",
        "price",
        "--stock-col",
        "stock",
    ];
    let inp = d.join("log.csv");
    std::fs::write(&inp, log(|t, _| t.to_string())).unwrap();
    let o = Command::new(bin())
        .arg("train")
        .arg(&inp)
        .args([
            "--value-col",
            "none",
            "--factors",
            "4",
            "--iterations",
            "2",
            "-o",
        ])
        .arg(d.join("m.vstate"))
        .args(flags)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "2 of 3 bad rows must fail: {err}");
    assert!(
        err.contains("line 3: price \"12.99 EUR\" is in EUR, the file's prices are in USD")
            && err.contains("line 4: stock \"someday\" is not a known availability"),
        "{err}"
    );
    assert!(!d.join("m.vstate").exists());
}

/// `vitrine placements build --baskets`: numeric times in milliseconds are
/// days as the same log in seconds and in dates gives them (cadence and
/// trending count days); a number of another magnitude is a bad row.
#[test]
fn basket_times_in_ms_are_the_days_of_the_same_log_in_seconds() {
    use vitrine::placements::eval::{read_baskets, BasketReadOptions};
    let d = tmpdir("baskets");
    let days = [19_792i64, 19_799, 19_811];
    let write = |name: &str, f: &dyn Fn(i64) -> String, extra: &str| {
        let mut s = String::from("user_id,basket_id,item_id,ts\n");
        for (k, day) in days.iter().enumerate() {
            s.push_str(&format!("u1,o{k},a,{}\nu1,o{k},b,{}\n", f(*day), f(*day)));
        }
        s.push_str(extra);
        let p = d.join(name);
        std::fs::write(&p, s).unwrap();
        read_baskets(
            &p,
            None,
            &BasketReadOptions {
                max_bad_share: 0.5,
                ..Default::default()
            },
        )
        .unwrap()
        .0
    };
    let times = |l: &vitrine::placements::eval::BasketLog| -> Vec<f64> {
        l.baskets.iter().map(|b| b.time).collect()
    };
    let s = write("s.csv", &|day| (day * 86_400).to_string(), "");
    let ms = write(
        "ms.csv",
        &|day| (day * 86_400_000).to_string(),
        "u2,o9,a,1710061200\n",
    );
    let dates = write(
        "dates.csv",
        &|day| format!("2024-03-{:02}", 10 + day - 19_792),
        "",
    );
    assert_eq!(times(&s), days.map(|d| d as f64));
    assert_eq!(times(&ms), times(&s));
    assert_eq!(ms.bad_rows, 1);
    assert_eq!(times(&dates), times(&s));
}

/// Order exports as stores write them go through the CLI's one CSV reader:
/// quoted fields with the delimiter inside, semicolons, CRLF, ISO-8601
/// times with offsets (a time of day is a fraction of a day), calendar
/// checks; too many bad rows fail and name the first ones.
#[test]
fn basket_logs_read_as_exported() {
    use vitrine::placements::eval::{read_baskets, BasketReadOptions};
    let d = tmpdir("baskets-export");
    let read = |name: &str, text: &str, share: f64| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        read_baskets(
            &p,
            None,
            &BasketReadOptions {
                max_bad_share: share,
                ..Default::default()
            },
        )
    };
    let (log, _) = read(
        "quoted.csv",
        "order_id,customer_id,product_id,date\r\n\
         1001,c1,\"Mug, large\",2024-03-10T18:00:00+02:00\r\n\
         1001,c1,plate,2024-03-10T18:00:00+02:00\r\n\
         1002,c1,\"Mug, large\",2024-03-11 06:00:00Z\r\n",
        0.0,
    )
    .unwrap();
    assert_eq!(log.items, ["Mug, large", "plate"]);
    assert_eq!(log.baskets.len(), 2);
    let day = 19_792.0; // 2024-03-10
    assert_eq!(
        log.baskets[0].time,
        day + 16.0 / 24.0,
        "18:00 at +02:00 is 16:00 UTC"
    );
    assert_eq!(log.baskets[1].time, day + 1.25);
    assert_eq!(log.bad_rows, 0);
    assert!(
        log.times.as_deref().unwrap().contains("ISO-8601"),
        "{:?}",
        log.times
    );

    let (log, _) = read(
        "semicolon.csv",
        "user_id;basket_id;item_id;ts\nu1;1;a;1710028800\nu1;1;b;1710028800\nu1;2;a;1710115200\n",
        0.0,
    )
    .unwrap();
    assert_eq!(
        log.baskets.iter().map(|b| b.time).collect::<Vec<_>>(),
        [day, day + 1.0]
    );

    // No 2024-02-30 and no empty item: bad rows, counted under the limit,
    // an error naming them above it.
    let text = "user_id,basket_id,item_id,date\nu1,1,a,2024-02-30\nu1,2,,2024-03-01\n\
                u1,3,a,2024-03-01\nu2,4,b,2024-03-02\n";
    let (log, _) = read("bad.csv", text, 0.5).unwrap();
    assert_eq!((log.bad_rows, log.baskets.len()), (2, 2));
    // An empty time is its basket's (order fields on the first row only);
    // a basket with none at all is two bad rows, the others stay.
    let (log, _) = read(
        "untimed.csv",
        "user_id,basket_id,item_id,date\nu1,1,a,\nu1,1,b,2024-03-10\nu1,2,a,\nu1,2,b,\n\
         u1,3,c,2024-03-11\nu1,3,d,\n",
        0.5,
    )
    .unwrap();
    assert_eq!(log.bad_rows, 2);
    assert_eq!(
        log.baskets
            .iter()
            .map(|b| (b.time, b.items.len()))
            .collect::<Vec<_>>(),
        [(day, 2), (day + 1.0, 2)]
    );
    let err = read("bad.csv", text, 0.05).unwrap_err();
    assert!(
        err.contains("2 of 4 rows are malformed")
            && err.contains("line 2: timestamp \"2024-02-30\": no such day")
            && err.contains("line 3: needs a user_id"),
        "{err}"
    );
}
