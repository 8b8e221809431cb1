//! Bad input to `vitrine train` / `export`: counted or refused with a clear
//! message, and never a partial output file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vitrine::train::data::{parse_interactions, LoadOptions, ValueMode};
use vitrine::train::TrainError;

fn bin() -> PathBuf {
    std::env::var_os("VITRINE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vitrine")))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vitrine-train-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn train(dir: &Path, input: &str, extra: &[&str]) -> (Output, PathBuf, PathBuf) {
    let inp = dir.join("log.csv");
    std::fs::write(&inp, input).unwrap();
    let state = dir.join("m.vstate");
    let vtr = dir.join("m.vtr");
    let mut cmd = Command::new(bin());
    cmd.arg("train")
        .arg(&inp)
        .args(["--quiet", "--iterations", "3", "--threads", "1"])
        .args(if extra.iter().any(|a| a.starts_with("--factors")) {
            &[][..]
        } else {
            &["--factors", "4"][..]
        })
        .arg("-o")
        .arg(&state)
        .arg("--export")
        .arg(&vtr)
        .args(extra);
    (cmd.output().unwrap(), state, vtr)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn no_output(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "log.csv")
        .collect();
    assert!(left.is_empty(), "partial output left behind: {left:?}");
}

const GOOD: &str = "user_id,item_id,rating,timestamp\n\
u1,a,5,1\nu1,b,4,2\nu2,a,5,3\nu2,c,4,4\nu3,b,5,5\nu3,c,4,6\n";

#[test]
fn malformed_rows_are_counted_with_line_numbers() {
    let d = tmpdir("malformed");
    let input = format!("{GOOD}u4,a\nu4,b,great,7\nu4,c,5,yesterday\n,a,5,8\nu5,a,5,9\n");
    // 4 of 11 rows are bad: above the default 5% the run fails and writes
    // nothing; with a higher limit they are skipped and reported.
    let (o, _, _) = train(&d, &input, &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("4 of 11 rows are malformed") && e.contains("line 8:"),
        "{e}"
    );
    no_output(&d);
    let (o, state, vtr) = train(&d, &input, &["--max-bad-rows", "40%"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("4 malformed"), "{e}");
    for l in ["line 8:", "line 9:", "line 10:", "line 11:"] {
        assert!(e.contains(l), "missing {l} in {e}");
    }
    assert!(
        e.contains("not a finite number")
            && e.contains("timestamp")
            && e.contains("empty user or item id"),
        "{e}"
    );
    assert!(state.exists() && vtr.exists());

    let opts = LoadOptions {
        max_bad_share: 0.4,
        ..LoadOptions::default()
    };
    let ds = parse_interactions(input.as_bytes(), &opts).unwrap();
    assert_eq!(ds.report.malformed, 4);
    assert_eq!(
        ds.report
            .first_errors
            .iter()
            .map(|e| e.0)
            .collect::<Vec<_>>(),
        vec![8, 9, 10, 11]
    );
    assert_eq!(ds.interactions.len(), 7);
}

#[test]
fn strict_fails_on_first_malformed_row_without_output() {
    let d = tmpdir("strict");
    let (o, _, _) = train(&d, &format!("{GOOD}u4,b,great,7\n"), &["--strict"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("malformed row at line 8"),
        "{}",
        stderr(&o)
    );
    no_output(&d);
}

#[test]
fn empty_and_all_filtered_inputs_are_errors() {
    let d = tmpdir("empty");
    let (o, _, _) = train(&d, "", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no training data"), "{}", stderr(&o));
    no_output(&d);

    let d = tmpdir("filtered");
    let (o, _, _) = train(
        &d,
        "user_id,item_id,rating,timestamp\nu1,a,1,1\nu2,b,2,2\n",
        &[],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("no positive interactions") && e.contains("2 below threshold"),
        "{e}"
    );
    no_output(&d);

    let d = tmpdir("header-only");
    let (o, _, _) = train(&d, "user_id,item_id,rating,timestamp\n", &[]);
    assert!(!o.status.success());
    no_output(&d);
}

#[test]
fn non_positive_factors_are_rejected() {
    for f in ["0", "-3"] {
        let d = tmpdir(&format!("factors{f}"));
        let (o, _, _) = train(&d, GOOD, &[&format!("--factors={f}")]);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("--factors must be > 0"),
            "{}",
            stderr(&o)
        );
        no_output(&d);
    }
}

#[test]
fn non_finite_loss_is_an_error_without_output() {
    let d = tmpdir("nonfinite");
    let (o, _, _) = train(&d, GOOD, &["--alpha", "3e38", "--rating-weight"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("non-finite loss"), "{}", stderr(&o));
    no_output(&d);
}

#[test]
fn missing_column_is_a_clear_error() {
    let d = tmpdir("columns");
    let (o, _, _) = train(&d, GOOD, &["--time-col", "when"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no column named \"when\""),
        "{}",
        stderr(&o)
    );
    no_output(&d);
}

#[test]
fn id_count_overflow_is_reported() {
    // The real limit is u32::MAX distinct ids; the loader takes the limit as a
    // parameter so the overflow path can be exercised with three users.
    let opts = LoadOptions {
        max_ids: 2,
        ..LoadOptions::default()
    };
    match parse_interactions(GOOD.as_bytes(), &opts) {
        Err(TrainError::TooMany { what, count, limit }) => {
            // The third distinct item (line 5) comes before the third user.
            assert_eq!((what, count, limit), ("items", 3, 2));
        }
        other => panic!("expected TooMany, got {other:?}"),
    }
    let full = LoadOptions::default();
    assert_eq!(full.max_ids, u32::MAX as usize);
}

#[test]
fn event_weights_and_headerless_indices() {
    let input = "u1;a;view\nu1;a;purchase\nu1;b;cart\nu2;b;wishlist\n";
    let opts = LoadOptions {
        has_header: false,
        user_col: "0".into(),
        item_col: "1".into(),
        value_col: Some("2".into()),
        time_col: None,
        value: ValueMode::Events(vec![
            ("view".into(), 1.0),
            ("cart".into(), 3.0),
            ("purchase".into(), 5.0),
        ]),
        ..LoadOptions::default()
    };
    let ds = parse_interactions(input.as_bytes(), &opts).unwrap();
    assert_eq!(ds.report.unknown_events, 1);
    assert_eq!(ds.report.duplicates_merged, 1);
    let a = ds
        .interactions
        .iter()
        .find(|x| ds.items[x.item as usize] == "a")
        .unwrap();
    assert_eq!(a.weight, 6.0);
}

#[test]
fn corrupt_state_file_is_refused_by_export() {
    let d = tmpdir("corrupt");
    let (o, state, _) = train(&d, GOOD, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut b = std::fs::read(&state).unwrap();
    b.truncate(b.len() - 3);
    std::fs::write(&state, &b).unwrap();
    let out = d.join("again.vtr");
    let o = Command::new(bin())
        .arg("export")
        .arg(&state)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("model state file"), "{}", stderr(&o));
    assert!(!out.exists());
}
