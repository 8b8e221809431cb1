//! `vitrine session score`: another system's predictions scored by the
//! session harness's metric code. The split a peer writes is produced by
//! tests/eval/recbole_session.py (the RecBole driver of `make eval-neural`);
//! its `--popularity-only` mode needs no torch, so this test checks that the
//! Python side reads sessions exactly as vitrine does (order, time sorting,
//! unknown items, bad and CRLF lines): its popularity file, scored by the CLI,
//! must give the popularity row of `session eval` on the same files.

use std::path::{Path, PathBuf};
use std::process::Command;
use vitrine::eval::session::{self, SessionEvalConfig};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "vitrine-session-score-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Train: item k appears k+1 times (30 items, no popularity ties, so the
/// top 20 is one list whichever way ties would break). Valid/test: random
/// sessions whose lines are written out of time order, with an item unknown
/// to train, a CRLF line and one unparseable line.
fn write_split(dir: &Path) {
    let mut rng = vitrine::synth::Rng::new(11);
    let mut bag: Vec<u64> = (0..30u64)
        .flat_map(|k| std::iter::repeat_n(k, k as usize + 1))
        .collect();
    for i in (1..bag.len()).rev() {
        bag.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let mut train = String::from("session_id\titem_id\ttimestamp\n");
    for (n, chunk) in bag.chunks(4).enumerate() {
        for (p, it) in chunk.iter().enumerate() {
            train.push_str(&format!("t{n}\ti{it}\t{}\n", 1000 + n * 10 + p));
        }
    }
    std::fs::write(dir.join("train.csv"), train).unwrap();
    for (name, seed) in [("valid", 3u64), ("test", 5)] {
        let mut rng = vitrine::synth::Rng::new(seed);
        let mut s = String::from("session_id\titem_id\ttimestamp\n");
        for n in 0..25u64 {
            let len = 2 + rng.next_u64() % 5;
            for p in 0..len {
                // Timestamps run backwards within a session: sorting matters.
                let item = match rng.next_u64() % 12 {
                    0 => "zz".to_string(),
                    _ => format!("i{}", rng.next_u64() % 30),
                };
                let eol = if n == 3 && p == 0 { "\r\n" } else { "\n" };
                s.push_str(&format!("{name}{n}\t{item}\t{}{eol}", 9000 - n * 10 - p));
            }
            if n == 7 {
                s.push_str(&format!("{name}{n}\ti1\tnot-a-time\n"));
            }
        }
        std::fs::write(dir.join(format!("{name}.csv")), s).unwrap();
    }
}

fn python_popularity(dir: &Path, pred: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval/recbole_session.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("--data")
        .arg(dir)
        .arg("--work")
        .arg(dir.join("work"))
        .arg("--predictions")
        .arg(pred)
        .arg("--meta")
        .arg(dir.join("meta.json"))
        .arg("--popularity-only")
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn score(dir: &Path, pred: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args([
            "session",
            "score",
            "--max-bad-share",
            "0.1",
            "--name",
            "peer",
        ])
        .arg("--data")
        .arg(dir)
        .arg("--predictions")
        .arg(pred)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn python_split_scored_by_cli_matches_the_harness() {
    let dir = tmp("parity");
    write_split(&dir);
    let pred = dir.join("pred.tsv");
    python_popularity(&dir, &pred);
    let out_path = dir.join("score.json");
    let out = score(&dir, &pred, &out_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(got["name"], "peer");
    assert_eq!(got["skipped_unparseable_lines"]["test"], 1);

    let cfg = SessionEvalConfig {
        data: dir.clone(),
        max_sessions: 0,
        factors: 2,
        iterations: 1,
        max_bad_share: 0.1,
        ..Default::default()
    };
    let harness = session::run(&cfg, &|_| {}).unwrap().expect("a report");
    let (a, b) = (&got["results"], &harness["results"]["popularity"]);
    assert!(a["predictions"].as_u64().unwrap() > 50, "{a}");
    for k in ["predictions", "hr@20", "mrr@20", "precision@20", "f1@20"] {
        assert_eq!(a[k], b[k], "{k}: peer file {a} vs harness {b}");
    }
    // Not a vacuous agreement: popularity hits some next items and misses others.
    let hr = a["hr@20"].as_f64().unwrap();
    assert!(hr > 0.0 && hr < 1.0, "{a}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn cli_refuses_a_file_of_another_split() {
    let dir = tmp("shifted");
    write_split(&dir);
    let pred = dir.join("pred.tsv");
    python_popularity(&dir, &pred);
    // Drop one line: every later point would be scored against the wrong item.
    let text = std::fs::read_to_string(&pred).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(5);
    std::fs::write(&pred, lines.join("\n")).unwrap();
    let out_path = dir.join("score.json");
    let out = score(&dir, &pred, &out_path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0 on a shifted file: {err}");
    assert!(err.contains("BAD_LAYOUT"), "{err}");
    assert!(!out_path.exists());
    std::fs::remove_dir_all(dir).ok();
}
