//! `vitrine placements` end to end on a tiny synthetic order log: build adds
//! the three sections to a bundle, bad input is refused with a message, and
//! the evaluation runs and writes its report.

use std::fmt::Write as _;
use std::process::Command;

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-placements-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(c: &mut Command) -> (bool, String, String) {
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// 60 users × 4 baskets over item-0..item-29: items 2k and 2k+1 go together,
/// every user rebuys item-0 each basket.
fn baskets(dates: bool) -> String {
    let mut s = String::from(if dates {
        "user_id,basket_id,item_id,date\n"
    } else {
        "user_id\tbasket_id\titem_id\n"
    });
    for u in 0..60 {
        for b in 0..4 {
            let pair = (u * 7 + b * 3) % 15;
            let date = format!("2024-03-{:02}", 1 + b * 7);
            for item in [0, 2 * pair, 2 * pair + 1] {
                if dates {
                    writeln!(s, "u{u},{u}-{b},item-{item},{date}").unwrap();
                } else {
                    writeln!(s, "u{u}\t{b}\titem-{item}").unwrap();
                }
            }
        }
    }
    s
}

#[test]
fn build_adds_sections_and_eval_reports() {
    let base = tmp("base.vtr");
    let (ok, _, err) = run(vitrine()
        .args(["synth", "--items", "40", "--dim", "8", "--out"])
        .arg(&base));
    assert!(ok, "{err}");
    let csv = tmp("orders.csv");
    // Rows for an item the bundle lacks are skipped and counted.
    std::fs::write(&csv, baskets(true) + "u1,1-9,no-such-item,2024-03-30\n").unwrap();
    let out = tmp("with.vtr");
    let (ok, stdout, err) = run(vitrine()
        .args([
            "placements",
            "build",
            "--trending-half-life",
            "7",
            "--bundle",
        ])
        .arg(&base)
        .arg("--baskets")
        .arg(&csv)
        .arg("--out")
        .arg(&out));
    assert!(ok, "{err}");
    assert!(stdout.contains("240 baskets"), "{stdout}");
    assert!(stdout.contains("skipped 1 rows"), "{stdout}");
    assert!(stdout.contains("time in days"), "{stdout}");
    let (ok, json, err) = run(vitrine().args(["inspect", "--json"]).arg(&out));
    assert!(ok, "{err}");
    for s in ["CO_PURCHASE", "CADENCE", "TRENDING"] {
        assert!(json.contains(s), "{s} missing: {json}");
    }

    // Bad input: a non-positive half-life, a file without the columns.
    let (ok, _, err) = run(vitrine()
        .args([
            "placements",
            "build",
            "--trending-half-life",
            "0",
            "--bundle",
        ])
        .arg(&base)
        .arg("--baskets")
        .arg(&csv)
        .arg("--out")
        .arg(tmp("x.vtr")));
    assert!(!ok && err.contains("--trending-half-life"), "{err}");
    let bad = tmp("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n").unwrap();
    let (ok, _, err) = run(vitrine()
        .args(["placements", "build", "--bundle"])
        .arg(&base)
        .arg("--baskets")
        .arg(&bad)
        .arg("--out")
        .arg(tmp("y.vtr")));
    assert!(!ok && err.contains("user_id"), "{err}");

    // Evaluation: train on baskets 0..2, test on basket 3, without dates.
    let all = baskets(false);
    let (mut train, mut test) = (String::new(), String::new());
    for (i, line) in all.lines().enumerate() {
        if i == 0 {
            train.push_str(line);
            train.push('\n');
            test.push_str(line);
            test.push('\n');
        } else if line.split('\t').nth(1) == Some("3") {
            test.push_str(line);
            test.push('\n');
        } else {
            train.push_str(line);
            train.push('\n');
        }
    }
    let (tr, te, rep) = (tmp("train.tsv"), tmp("test.tsv"), tmp("eval.json"));
    std::fs::write(&tr, train).unwrap();
    std::fs::write(&te, test).unwrap();
    let (ok, stdout, err) = run(vitrine()
        .args(["placements", "eval", "--quick", "--factors", "8", "--train"])
        .arg(&tr)
        .arg("--test")
        .arg(&te)
        .arg("--out")
        .arg(&rep));
    assert!(ok, "{err}");
    assert!(stdout.contains("raw co-occurrence"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&rep).unwrap()).unwrap();
    let bt = v["bought_together"]["test"].as_array().unwrap();
    assert_eq!(bt.len(), 5);
    assert_eq!(bt[0]["n"], 60, "one held-out case per test basket");
    // The pairs are deterministic: co-purchase finds the partner every time.
    assert!(bt[0]["hr"].as_f64().unwrap() > 0.6, "{}", bt[0]);
    let nb = v["next_basket"]["test"].as_array().unwrap();
    assert_eq!(nb[0]["n"], 60);
    // item-0 is in every basket: buy-again recalls at least that third.
    assert!(nb[0]["recall"].as_f64().unwrap() >= 0.33, "{}", nb[0]);
}

/// An order export with its own column names (Shopify's layout: one row per
/// line item, `Name` the order, `Created at` with a UTC offset on the
/// order's first row only, quoted text with commas) builds with the column
/// flags; the same orders under the
/// usual names give the same sections.
#[test]
fn build_reads_an_export_by_its_own_column_names() {
    let base = tmp("export-base.vtr");
    let (ok, _, err) = run(vitrine()
        .args(["synth", "--items", "40", "--dim", "8", "--out"])
        .arg(&base));
    assert!(ok, "{err}");
    let mut shop = String::from("Name,Email,Created at,Lineitem name,Lineitem sku\n");
    let mut plain = String::from("user_id,basket_id,item_id,date\n");
    for u in 0..30 {
        for b in 0..3 {
            let day = 1 + b * 7;
            for (k, item) in [0, 2 * ((u + b) % 10) + 1].into_iter().enumerate() {
                // The order's own fields only on its first row.
                let created = if k == 0 {
                    format!("2024-03-{day:02} 23:00:00 -0100")
                } else {
                    String::new()
                };
                writeln!(
                    shop,
                    "#{u}{b},c{u}@example.com,{created},\"Mug, large \"\"blue\"\"\",item-{item}"
                )
                .unwrap();
                writeln!(
                    plain,
                    "c{u}@example.com,#{u}{b},item-{item},2024-03-{:02}",
                    day + 1
                )
                .unwrap();
            }
        }
    }
    let (shop_csv, plain_csv) = (tmp("shopify.csv"), tmp("plain.csv"));
    std::fs::write(&shop_csv, shop).unwrap();
    std::fs::write(&plain_csv, plain).unwrap();
    let build = |csv: &std::path::Path, out: &str, cols: &[&str]| {
        let out = tmp(out);
        let r = run(vitrine()
            .args(["placements", "build", "--bundle"])
            .arg(&base)
            .arg("--baskets")
            .arg(csv)
            .args(cols)
            .arg("--out")
            .arg(&out));
        (r, out)
    };
    let cols = [
        "--user-col",
        "Email",
        "--basket-col",
        "name",
        "--item-col",
        "Lineitem sku",
        "--time-col",
        "Created at",
    ];
    let ((ok, stdout, err), shop_vtr) = build(&shop_csv, "shopify.vtr", &cols);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("90 baskets") && stdout.contains("timestamps ISO-8601"),
        "{stdout}"
    );
    // 23:00 at -01:00 is midnight UTC the next day: the plain log's dates.
    let ((ok, _, err), plain_vtr) = build(&plain_csv, "plain.vtr", &[]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(&shop_vtr).unwrap(),
        std::fs::read(&plain_vtr).unwrap()
    );

    // A named column that is not there: refused, naming the header.
    let mut wrong = cols;
    wrong[5] = "SKU";
    let ((ok, _, err), _) = build(&shop_csv, "x.vtr", &wrong);
    assert!(
        !ok && err.contains("--item-col") && err.contains("Lineitem sku"),
        "{err}"
    );
}
