//! `vitrine session eval` end to end on tiny synthetic session files: the
//! library harness (crate::eval::session) and the CLI's handling of files of
//! another layout.

use std::path::{Path, PathBuf};
use std::process::Command;
use vitrine::eval::session::{self, SessionEvalConfig};

/// Sessions that walk a ring of 40 items (i → i+1 → i+2 …), so the next item
/// is predictable from the last one.
fn write_sessions(dir: &Path, name: &str, n: usize, seed: u64) {
    let mut rng = vitrine::synth::Rng::new(seed);
    let mut s = String::from("session_id\titem_id\ttimestamp\n");
    for k in 0..n {
        let start = rng.next_u64() % 40;
        let len = 3 + rng.next_u64() % 4;
        for p in 0..len {
            s.push_str(&format!(
                "{}{k}\t{}\t{}\n",
                name.chars().next().unwrap_or('s'),
                (start + p) % 40,
                1_000_000 + k as u64 * 100 + p
            ));
        }
    }
    std::fs::write(dir.join(format!("{name}.csv")), s).unwrap();
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "vitrine-session-eval-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn harness_runs_end_to_end_and_names_the_data() {
    let dir = tmp("ring_sessions");
    write_sessions(&dir, "train", 300, 1);
    write_sessions(&dir, "valid", 40, 2);
    write_sessions(&dir, "test", 40, 3);
    let cfg = SessionEvalConfig {
        data: dir.clone(),
        max_sessions: 0,
        factors: 4,
        iterations: 2,
        tune: true,
        tune_rounds: 1,
        ..Default::default()
    };
    let out = session::run(&cfg, &|_| {}).unwrap().expect("a report");
    assert_eq!(out["dataset"], dir.file_name().unwrap().to_str().unwrap());
    assert_eq!(out["test_sessions"], 40);
    assert_eq!(out["skipped_unparseable_lines"]["test"], 0);
    let r = &out["results"];
    let n = r["popularity"]["predictions"].as_u64().unwrap();
    assert!(n >= 40 * 2, "every prefix is a prediction point: {n}");
    // The ring makes the last item's neighbour the answer: the neighbour
    // baseline and the blend must find most next items, popularity cannot.
    let hr = |m: &str| r[m]["hr@20"].as_f64().unwrap();
    assert!(hr("item_neighbours") > 0.9, "{r}");
    assert!(hr("vitrine_blend") > 0.9, "{r}");
    assert!(hr("popularity") < 0.8, "{r}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn cli_refuses_another_layout() {
    let dir = tmp("baskets");
    let text = "user_id\tbasket_id\titem_id\n1\t7\t55\n1\t7\t56\n2\t8\t55\n";
    for f in ["train", "valid", "test"] {
        std::fs::write(dir.join(format!("{f}.csv")), text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["session", "eval", "--max-sessions", "0", "--factors", "2"])
        .arg("--data")
        .arg(&dir)
        .arg("--out")
        .arg(dir.join("out.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0 on a basket file: {err}");
    assert!(err.contains("BAD_LAYOUT"), "{err}");
    assert!(!dir.join("out.json").exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn ranker_train_writes_a_bundle_that_inspect_explains() {
    let dir = tmp("ranker_ring");
    write_sessions(&dir, "train", 300, 4);
    write_sessions(&dir, "valid", 60, 5);
    write_sessions(&dir, "test", 40, 6);
    let bin = env!("CARGO_BIN_EXE_vitrine");
    let out = Command::new(bin)
        .args([
            "ranker",
            "train",
            "--max-sessions",
            "0",
            "--factors",
            "4",
            "--iterations",
            "2",
        ])
        .args(["--tune-rounds", "1", "--steps", "100", "--l2", "0.001,0.1"])
        .arg("--data")
        .arg(&dir)
        .arg("--out")
        .arg(dir.join("ranker.json"))
        .arg("--bundle")
        .arg(dir.join("r.vtr"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ranker.json")).unwrap()).unwrap();
    let r = &j["results"]["vitrine_ranker"];
    assert!(r["hr@20"].as_f64().unwrap() > 0.9, "{j}");
    // Two L2 values × two negative samples, each scored on valid.
    assert_eq!(j["ranker"]["l2_grid"].as_array().unwrap().len(), 4);
    assert!(r["f1@20"].as_f64().unwrap() > 0.0);
    let ins = Command::new(bin)
        .arg("inspect")
        .arg(dir.join("r.vtr"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ins.stdout);
    assert!(
        ins.status.success(),
        "{}",
        String::from_utf8_lossy(&ins.stderr)
    );
    assert!(text.contains("ranker     logistic regression"), "{text}");
    for f in vitrine::ranker::FEATURES {
        assert!(text.contains(f), "{f} missing: {text}");
    }
    // The co_purchase and trend features' sections, built from train.csv,
    // travel with the ranker.
    assert!(
        text.contains("CO_PURCHASE") && text.contains("TRENDING"),
        "{text}"
    );
    assert!(
        j["placements_from_train"]["co_purchase_pairs"]
            .as_u64()
            .unwrap()
            > 0,
        "{j}"
    );
    assert_eq!(j["features"].as_array().unwrap().len(), vitrine::ranker::F);
    std::fs::remove_dir_all(dir).ok();
}

/// `ranker replay` turns a rating log into the session layout (per user,
/// time-ordered, latest events held out) that `ranker train` reads, and
/// `ranker merge` gathers reports; a file without a time column is refused.
#[test]
fn replay_writes_session_files_and_merge_gathers_reports() {
    let dir = tmp("replay");
    // 30 users walking the ring of 40 items, 10 ratings each, given newest first.
    let mut s = String::from("user_id:token\titem_id:token\trating:float\ttimestamp:float\n");
    for u in 0..30u64 {
        for p in (0..10u64).rev() {
            s.push_str(&format!(
                "{u}\tm{}\t{}\t{}\n",
                (u + p) % 40,
                1 + p % 5,
                1000 + u * 50 + p
            ));
        }
    }
    std::fs::write(dir.join("r.inter"), s).unwrap();
    let bin = env!("CARGO_BIN_EXE_vitrine");
    let out = Command::new(bin)
        .args(["ranker", "replay", "--input"])
        .arg(dir.join("r.inter"))
        .arg("--out")
        .arg(dir.join("sessions"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(dir.join("sessions").join(f)).unwrap();
    let (train, valid, test) = (read("train.csv"), read("valid.csv"), read("test.csv"));
    assert!(train.starts_with("session_id\titem_id\ttimestamp\n"));
    // 10 ratings per user: 7 train, 1 valid, 2 test; every rating counts (1 to 5 stars).
    assert_eq!(train.lines().count() - 1, 30 * 7);
    assert_eq!(valid.lines().count() - 1, 30);
    assert_eq!(test.lines().count() - 1, 30 * 2);
    // User 0's test session: the two latest ratings, oldest first.
    let u0: Vec<&str> = test.lines().skip(1).take(2).collect();
    assert_eq!(u0, vec!["u0\tm8\t1008", "u0\tm9\t1009"]);
    // The harness reads the replay as it reads NowPlaying.
    let cfg = SessionEvalConfig {
        data: dir.join("sessions"),
        max_sessions: 0,
        factors: 4,
        iterations: 2,
        ..Default::default()
    };
    let rep = session::run(&cfg, &|_| {}).unwrap().expect("a report");
    assert_eq!(rep["test_sessions"], 30);
    assert_eq!(rep["results"]["popularity"]["predictions"], 30);
    let r = &rep["results"]["vitrine_blend"];
    for k in ["hr@20", "mrr@20", "ndcg@20", "precision@20", "f1@20"] {
        assert!(r[k].is_number(), "{k}: {r}");
    }
    // merge
    std::fs::write(dir.join("a.json"), r#"{"dataset": "a"}"#).unwrap();
    std::fs::write(dir.join("b.json"), r#"{"dataset": "b"}"#).unwrap();
    let m = Command::new(bin)
        .args(["ranker", "merge"])
        .arg(dir.join("a.json"))
        .arg(dir.join("b.json"))
        .arg("--out")
        .arg(dir.join("m.json"))
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("m.json")).unwrap()).unwrap();
    assert_eq!(j["datasets"][1]["dataset"], "b");
    assert!(j["run"]["date"].is_string(), "{j}");
    // No timestamp column: refused, nothing written.
    std::fs::write(dir.join("bad.inter"), "user_id\titem_id\n1\t2\n").unwrap();
    let bad = Command::new(bin)
        .args(["ranker", "replay", "--input"])
        .arg(dir.join("bad.inter"))
        .arg("--out")
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(!dir.join("bad").join("test.csv").exists());
    std::fs::remove_dir_all(dir).ok();
}
