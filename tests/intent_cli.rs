//! `vitrine intent train / match / eval` end to end through the binary.

use std::path::PathBuf;
use std::process::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/intent/data");

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-intent-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn train_match_eval_round_trip() {
    let model = tmp("m.vti");
    let titles = tmp("titles.tsv");
    std::fs::write(
        &titles,
        "a\tTrail Runner 2 Running Shoe\nb\t纯棉圆领短袖T恤\n",
    )
    .unwrap();
    let out = vitrine()
        .args(["intent", "train", "--data"])
        .arg(format!("{DATA}/default_train.csv"))
        .arg("--oos")
        .arg(format!("{DATA}/default_oos.csv"))
        .arg("--config")
        .arg(format!("{DATA}/default_intents.csv"))
        .arg("--titles")
        .arg(&titles)
        .args(["--c", "30", "--out"])
        .arg(&model)
        .arg("--report")
        .arg(tmp("report.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The out-of-scope calibration rows (not the held-out `test` ones) are
    // trained with outlier exposure and scored out-of-fold for the threshold.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp("report.json")).unwrap()).unwrap();
    let calib_rows = std::fs::read_to_string(format!("{DATA}/default_oos.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(",calib"))
        .count();
    assert_eq!(report["calibration"]["folds"], 5, "{report}");
    assert_eq!(report["calibration"]["val_oos"], calib_rows, "{report}");
    assert!(report["oe_weight"].as_f64().unwrap() > 0.0, "{report}");
    let t = report["threshold"].as_f64().unwrap();
    assert!(t > 0.0 && t < 1.0, "{report}");

    let out = vitrine()
        .args(["intent", "match", "--model"])
        .arg(&model)
        .args(["运费多少", "like the trail runner 2 but cheaper", ""])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["intent"], "shipping");
    assert_eq!(lines[0]["action"], "show_shipping_info");
    assert_eq!(lines[1]["intent"], "similar_cheaper");
    assert_eq!(lines[1]["slots"]["products"][0]["item"], 0);
    assert_eq!(lines[1]["slots"]["price"]["cheaper"], true);
    assert!(lines[2]["intent"].is_null());

    let out = vitrine()
        .args(["intent", "eval", "--model"])
        .arg(&model)
        .arg("--test")
        .arg(format!("{DATA}/default_test.csv"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["by_lang"]["en"]["accuracy"].as_f64().unwrap() >= 0.9,
        "{r}"
    );
    assert!(
        r["by_lang"]["zh"]["accuracy"].as_f64().unwrap() >= 0.9,
        "{r}"
    );

    // A corrupted model file is a clean error, not a crash.
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&model, &bytes).unwrap();
    let out = vitrine()
        .args(["intent", "match", "--model"])
        .arg(&model)
        .arg("hi")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its own files only: the other tests of this binary write into the
    // same directory and may still be running.
    for f in [model, titles, tmp("report.json")] {
        let _ = std::fs::remove_file(f);
    }
}

fn train_err(name: &str, csv: &[u8]) -> (bool, String, PathBuf) {
    let data = tmp(&format!("{name}.csv"));
    std::fs::write(&data, csv).unwrap();
    let model = tmp(&format!("{name}.vti"));
    let _ = std::fs::remove_file(&model);
    let out = vitrine()
        .args(["intent", "train", "--c", "1", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        model,
    )
}

/// Issue #18 "bad input": clear errors (and no file) or counted skips.
#[test]
fn bad_training_files_fail_clearly_or_skip_counted() {
    let (ok, err, model) = train_err("one", b"text,intent\nhello,greet\nhi,greet\n");
    assert!(!ok && err.contains("at least 2 intents"), "{err}");
    assert!(!model.exists(), "nothing partial written");
    let (ok, err, model) = train_err("nolabel", b"text,label\nhello,greet\nwhere,order\n");
    assert!(!ok && err.contains("no `intent` column"), "{err}");
    assert!(!model.exists());
    let (ok, err, model) = train_err("utf8", b"text,intent\nhello \xff\xfe,greet\nwhere,order\n");
    assert!(!ok && err.contains("UTF-8"), "{err}");
    assert!(!model.exists());
    // Empty texts and a text under two labels are skipped and counted.
    let (ok, err, model) = train_err(
        "dups",
        b"text,intent\nhello,greet\n,greet\n  ,order\n!!!,order\nwhere is my order,order\n\
          track parcel,order\nhello,order\nhi there,greet\nHello!,greet\n",
    );
    assert!(ok, "{err}");
    assert!(err.contains("skipped 3 rows without text"), "{err}");
    assert!(
        err.contains("3 rows have a text that also occurs under another label"),
        "{err}"
    );
    let m = vitrine::intent::IntentModel::from_bytes(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(m.n_classes(), 2);
    // A 10 MB line is read, truncated like any long text, and trained on.
    let mut big = b"text,intent\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 10_000_000));
    big.extend_from_slice(b",greet\nhello there,greet\nwhere is my order,order\ntrack it,order\n");
    let (ok, err, model) = train_err("big", &big);
    assert!(ok && model.exists(), "{err}");
}

/// Model selection is on by default and reported; mood rows add a mood
/// head whose held-out (`split=test`) rows are never trained on.
#[test]
fn default_training_selects_c_and_learns_mood() {
    let model = tmp("mood.vti");
    let report = tmp("mood_report.json");
    let out = vitrine()
        .args(["intent", "train", "--data"])
        .arg(format!("{DATA}/default_train.csv"))
        .args([
            "--cv-folds",
            "3",
            "--c-grid",
            "3,30",
            "--weightings",
            "uniform",
            "--mood",
        ])
        .arg(format!("{DATA}/mood_en.csv"))
        .args(["--mood-min-count", "1", "--out"])
        .arg(&model)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("model selection (3-fold CV"), "{err}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let sel = &r["selection"];
    // The first feature set gets the whole grid (2 C values); the other
    // default sets (CJK 4-grams, edges, CJK 1-2-grams with and without
    // edges) are tried at the chosen C and its neighbours, here both C
    // values again; a best C at an end of the grid that still beats its
    // neighbour is followed past it (x 10 here) at most twice.
    let grid = sel["grid"].as_array().unwrap();
    assert!((10..=12).contains(&grid.len()), "{sel}");
    let sets: Vec<&str> = grid
        .iter()
        .map(|p| p["features"].as_str().unwrap())
        .collect();
    for set in [
        "cjk1-3,char3-5",
        "cjk1-4,char3-5",
        "cjk1-3+edges,char3-5",
        "cjk1-2,char3-5",
        "cjk1-2+edges,char3-5",
    ] {
        let inside = grid
            .iter()
            .filter(|p| p["features"] == set && [3.0, 30.0].contains(&p["c"].as_f64().unwrap()))
            .count();
        assert_eq!(inside, 2, "{set}: {sel}");
    }
    for p in &grid[10..] {
        let c = p["c"].as_f64().unwrap();
        assert!([0.3, 0.03, 300.0, 3000.0].contains(&c), "{sel}");
        assert_eq!(p["features"], grid[10]["features"], "{sel}");
    }
    assert!(sets.contains(&sel["features"].as_str().unwrap()), "{sel}");
    let cs: Vec<f64> = grid.iter().map(|p| p["c"].as_f64().unwrap()).collect();
    assert!(cs.contains(&sel["c"].as_f64().unwrap()), "{sel}");
    assert_eq!(r["c"], sel["c"]);
    // 150 of the 195 mood rows are training rows.
    assert_eq!(r["mood"]["rows"], 150);
    let m = vitrine::intent::IntentModel::from_bytes(&std::fs::read(&model).unwrap()).unwrap();
    assert!(m.mood_head().is_some());
    let angry = m.match_text("this is the worst shop ever, i want my money back now");
    assert_eq!(angry.mood.map(|x| x.label), Some("negative"), "{angry:?}");
    let calm = m.match_text("thank you so much, the shoes are perfect");
    assert_eq!(calm.mood.map(|x| x.label), Some("positive"), "{calm:?}");
    assert!(!calm.escalate);
    assert!(m.match_text("can i talk to a real person").escalate);
}

/// `intent eval` names the dataset from its input and writes per-row
/// predictions for paired tests.
#[test]
fn eval_names_dataset_from_input_and_writes_predictions() {
    let preds = tmp("preds.csv");
    let out = vitrine()
        .args([
            "intent",
            "eval",
            "--label-column",
            "mood",
            "--c",
            "3",
            "--train",
        ])
        .arg(format!("{DATA}/mood_en.csv"))
        .arg("--test")
        .arg(format!("{DATA}/mood_en.csv"))
        .arg("--predictions")
        .arg(&preds)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["dataset"], "data", "the test file's directory");
    assert_eq!(j["n_test"], 45, "only split=test rows are tested");
    let p = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(p.lines().count(), 46);
    assert!(p.starts_with("truth,prediction,confidence\n\"negative\","));
}

/// Issue #18 "bad input", the other half: a failed `intent train` leaves
/// every output as it was. Each case runs against an existing model and
/// report holding old bytes, which must survive byte for byte, with a clear
/// message naming the problem.
#[test]
fn failed_training_keeps_old_outputs() {
    let good =
        b"text,intent\nhello,greet\nhi there,greet\nwhere is my order,order\ntrack it,order\n";
    let mut big_bad = b"text,intent\n".to_vec();
    big_bad.extend(std::iter::repeat_n(b'x', 10_000_000));
    big_bad.extend_from_slice(b"\xff,greet\nwhere,order\n");
    // Its own directory: train_match_eval_round_trip removes the shared
    // one when it ends, which may be while this test runs.
    let dir = std::env::temp_dir().join(format!("vitrine-intent-keep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // (case, data file, extra files (flag, bytes), expected message part)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Vec<u8>, Vec<(&str, Vec<u8>)>, &str)> = vec![
        (
            "one class",
            b"text,intent\nhello,greet\nhi,greet\n".to_vec(),
            vec![],
            "at least 2 intents",
        ),
        (
            "no intent column",
            b"text,label\nhello,greet\nwhere,order\n".to_vec(),
            vec![],
            "no `intent` column",
        ),
        (
            "no text column",
            b"words,intent\nhello,greet\nwhere,order\n".to_vec(),
            vec![],
            "no `text` column",
        ),
        (
            "invalid UTF-8",
            b"text,intent\nhello \xff\xfe,greet\nwhere,order\n".to_vec(),
            vec![],
            "UTF-8",
        ),
        ("10 MB line, invalid UTF-8", big_bad, vec![], "UTF-8"),
        ("empty file", Vec::new(), vec![], "empty"),
        ("header only", b"text,intent\n".to_vec(), vec![], "intent"),
        (
            "only empty texts",
            b"text,intent\n,greet\n  ,order\n".to_vec(),
            vec![],
            "intent",
        ),
        (
            "ragged row",
            b"text,intent\nhello,greet\nwhere\n".to_vec(),
            vec![],
            "line 3",
        ),
        (
            "unclosed quote",
            b"text,intent\n\"hello,greet\nwhere,order\n".to_vec(),
            vec![],
            "line 2",
        ),
        (
            "oos: invalid UTF-8",
            good.to_vec(),
            vec![("--oos", b"text\nweather \xff\n".to_vec())],
            "UTF-8",
        ),
        (
            "oos: no text column",
            good.to_vec(),
            vec![("--oos", b"words\nweather\n".to_vec())],
            "no `text` column",
        ),
        (
            "mood: no mood column",
            good.to_vec(),
            vec![("--mood", b"text,label\ngreat,positive\n".to_vec())],
            "no `mood` column",
        ),
        (
            "mood: one class",
            good.to_vec(),
            vec![(
                "--mood",
                b"text,mood\ngreat,positive\nlovely,positive\n".to_vec(),
            )],
            "mood",
        ),
        (
            "config: no intent column",
            good.to_vec(),
            vec![("--config", b"name,action\ngreet,x\n".to_vec())],
            "no `intent` column",
        ),
        // (A titles file is catalogue data: not UTF-8 is read as Latin-1, as
        // for every table the CLI imports; a file that is no bundle fails.)
        (
            "titles-from: not a bundle",
            good.to_vec(),
            vec![("--titles-from", b"not a bundle at all".to_vec())],
            "bundle",
        ),
    ];
    let model = dir.join("m.vti");
    let report = dir.join("r.json");
    for (i, (case, data, extra, want)) in cases.into_iter().enumerate() {
        std::fs::write(&model, b"OLD MODEL").unwrap();
        std::fs::write(&report, b"OLD REPORT").unwrap();
        let data_path = dir.join(format!("d{i}.csv"));
        std::fs::write(&data_path, &data).unwrap();
        let mut cmd = vitrine();
        cmd.args(["intent", "train", "--c", "1", "--data"])
            .arg(&data_path);
        for (j, (flag, bytes)) in extra.iter().enumerate() {
            let p = dir.join(format!("x{i}_{j}.csv"));
            std::fs::write(&p, bytes).unwrap();
            cmd.arg(flag).arg(&p);
        }
        let out = cmd
            .arg("--out")
            .arg(&model)
            .arg("--report")
            .arg(&report)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{case}: should fail\n{err}");
        assert!(
            err.contains(want),
            "{case}: message should name {want:?}:\n{err}"
        );
        assert!(!err.contains("panicked"), "{case}: {err}");
        assert!(
            std::fs::read(&model).unwrap() == b"OLD MODEL",
            "{case}: model overwritten"
        );
        assert!(
            std::fs::read(&report).unwrap() == b"OLD REPORT",
            "{case}: report overwritten"
        );
    }
    // The report cannot be written (its path is a directory): the model,
    // which could, keeps its old bytes too — one run, all or nothing.
    std::fs::write(&model, b"OLD MODEL").unwrap();
    let data_path = dir.join("good.csv");
    std::fs::write(&data_path, good).unwrap();
    let out = vitrine()
        .args(["intent", "train", "--c", "1", "--data"])
        .arg(&data_path)
        .arg("--out")
        .arg(&model)
        .arg("--report")
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        std::fs::read(&model).unwrap() == b"OLD MODEL",
        "model written although the report failed: {err}"
    );
    assert!(
        err.contains("cannot write") && err.contains(&*dir.to_string_lossy()),
        "{err}"
    );
    // No temp files left behind by any failed run.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A data file that does not exist, an output in a path that cannot be a
    // directory: clear errors, no panic.
    let out = vitrine()
        .args(["intent", "train", "--data"])
        .arg(dir.join("missing.csv"))
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("missing.csv"),
        "{err}"
    );
    assert!(std::fs::read(&model).unwrap() == b"OLD MODEL");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `intent eval` writes its outputs (`--out`, `--predictions`, `--sweep`)
/// all or nothing, like `intent train`: a run whose one output cannot be
/// written leaves the others' old files byte for byte and no temp files.
#[test]
fn failed_eval_keeps_old_outputs() {
    let dir = tmp("eval-atomic");
    std::fs::create_dir_all(&dir).unwrap();
    let out_json = dir.join("r.json");
    let preds = dir.join("p.csv");
    let sweep = dir.join("s.jsonl");
    let not_a_dir = dir.join("plain-file");
    std::fs::write(&not_a_dir, b"a file").unwrap();
    let old = |p: &PathBuf| format!("OLD {}", p.file_name().unwrap().to_string_lossy());
    let reset = || {
        for p in [&out_json, &preds, &sweep] {
            std::fs::write(p, old(p)).unwrap();
        }
    };
    let eval = |out: &PathBuf, predictions: &PathBuf, test: &str| {
        vitrine()
            .args([
                "intent",
                "eval",
                "--label-column",
                "mood",
                "--c",
                "3",
                "--train",
            ])
            .arg(format!("{DATA}/mood_en.csv"))
            .arg("--test")
            .arg(test)
            .arg("--out")
            .arg(out)
            .arg("--predictions")
            .arg(predictions)
            .arg("--sweep")
            .arg(&sweep)
            .output()
            .unwrap()
    };
    let test_csv = format!("{DATA}/mood_en.csv");
    let missing = dir.join("missing.csv").to_string_lossy().into_owned();
    let cases: [(&str, PathBuf, PathBuf, &str, &str); 4] = [
        (
            "--out is a directory",
            dir.clone(),
            preds.clone(),
            &test_csv,
            "cannot write",
        ),
        (
            "--predictions under a file",
            out_json.clone(),
            not_a_dir.join("p.csv"),
            &test_csv,
            "cannot write",
        ),
        (
            "one path for two outputs",
            out_json.clone(),
            out_json.clone(),
            &test_csv,
            "given for two outputs",
        ),
        (
            "missing test file",
            out_json.clone(),
            preds.clone(),
            &missing,
            "missing.csv",
        ),
    ];
    for (case, out, predictions, test, want) in cases {
        reset();
        let o = eval(&out, &predictions, test);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{case}: should fail");
        assert!(err.contains(want), "{case}: {err}");
        assert!(!err.contains("panicked"), "{case}: {err}");
        for p in [&out_json, &preds, &sweep] {
            assert_eq!(
                std::fs::read_to_string(p).unwrap(),
                old(p),
                "{case}: {} overwritten",
                p.display()
            );
        }
    }
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The same run with writable paths replaces all three.
    reset();
    let o = eval(&out_json, &preds, &test_csv);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_json).unwrap()).unwrap();
    assert_eq!(j["n_test"], 45);
    assert_eq!(
        j,
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    );
    assert!(std::fs::read_to_string(&preds)
        .unwrap()
        .starts_with("truth,prediction,confidence\n"));
    let s = std::fs::read_to_string(&sweep).unwrap();
    assert!(
        s.lines().count() > 4 && s.lines().all(|l| l.starts_with('{')),
        "{s}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
