//! The CLI refuses what would make a useless or unsafe output, says why, and
//! leaves nothing behind: out-of-range training options, an intent file that
//! is not one, bad `--meta`, runaway `--threads`, endless inputs, and logs
//! where most rows do not parse. Each case was accepted (exit 0, or a partial
//! file left) before the shared table reader and the parse-time checks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vitrine-cli-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file in `dir` except the inputs the test wrote.
fn outputs(dir: &Path, inputs: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !inputs.contains(&n.as_str()))
        .collect()
}

fn refused(o: &Output, needle: &str) {
    assert!(
        !o.status.success(),
        "expected a refusal, got exit 0: {}",
        stderr(o)
    );
    let e = stderr(o);
    assert!(e.contains(needle), "missing {needle:?} in: {e}");
    assert!(!e.contains("panicked"), "{e}");
}

const LOG: &str = "user_id,item_id,rating,timestamp\n\
u1,a,5,1\nu1,b,4,2\nu2,a,5,3\nu2,c,4,4\nu3,b,5,5\nu3,c,4,6\n";

/// `vitrine train LOG -o DIR/m.vstate --export DIR/m.vtr EXTRA`.
fn train(dir: &Path, log: &str, extra: &[&str]) -> Output {
    let inp = dir.join("log.csv");
    std::fs::write(&inp, log).unwrap();
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

fn utterances(dir: &Path) -> PathBuf {
    let p = dir.join("u.csv");
    let mut s = String::from("text,intent\n");
    for (t, i) in [
        ("where is my order", "track"),
        ("track my parcel", "track"),
        ("has my package shipped", "track"),
        ("i want a refund", "refund"),
        ("give me my money back", "refund"),
        ("return this item", "refund"),
    ] {
        s.push_str(&format!("{t},{i}\n"));
    }
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn intent_train_rejects_non_finite_or_non_positive_options() {
    let d = tmpdir("intent-opts");
    let data = utterances(&d);
    let out = d.join("m.vti");
    for (flag, value, needle) in [
        ("--c", "0", "greater than 0"),
        ("--c", "-1", "greater than 0"),
        ("--c", "NaN", "finite"),
        ("--c", "inf", "finite"),
        ("--oe-weight", "NaN", "finite"),
        ("--oe-weight", "-1", "0 or more"),
        ("--threshold", "NaN", "finite"),
        ("--threshold", "1.5", "between 0 and 1"),
        ("--max-iter", "0", "--max-iter"),
        ("--cv-folds", "1", "--cv-folds"),
    ] {
        let o = vitrine()
            .args(["intent", "train", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        refused(&o, needle);
        assert!(stderr(&o).contains(flag), "{flag}: {}", stderr(&o));
        assert!(!out.exists(), "{flag} {value} wrote {}", out.display());
    }
    // The same options in range still train.
    let o = vitrine()
        .args(["intent", "train", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(["--c", "5", "--oe-weight", "0", "--threshold", "0.2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.exists());
}

#[test]
fn garbage_intent_file_is_refused_at_export() {
    let d = tmpdir("intent-garbage");
    let garbage = d.join("garbage.bin");
    std::fs::write(&garbage, b"VTINTENT this is not an intent model at all").unwrap();
    let o = train(&d, LOG, &["--intent", garbage.to_str().unwrap()]);
    refused(&o, "not a valid intent model");
    assert!(
        outputs(&d, &["log.csv", "garbage.bin"]).is_empty(),
        "{:?}",
        outputs(&d, &["log.csv", "garbage.bin"])
    );

    let out = d.join("s.vtr");
    let o = vitrine()
        .args(["synth", "--items", "20", "--dim", "4", "--intent"])
        .arg(&garbage)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    refused(&o, "not a valid intent model");
    assert!(!out.exists());
}

#[test]
fn meta_needs_a_key_and_a_value_and_writes_nothing_otherwise() {
    for (case, meta) in [
        ("empty-key", "=x"),
        ("no-value", "novalue"),
        ("blank", " =x"),
    ] {
        let d = tmpdir(case);
        let o = train(&d, LOG, &["--meta", meta]);
        refused(&o, "--meta");
        assert!(
            outputs(&d, &["log.csv"]).is_empty(),
            "--meta {meta:?} left {:?}",
            outputs(&d, &["log.csv"])
        );
    }
    // A failure after the bundle is built (the user-rows directory is a
    // file) leaves neither the bundle nor the state.
    let d = tmpdir("users-fail");
    std::fs::write(d.join("users"), b"not a directory").unwrap();
    let o = train(&d, LOG, &["--users", d.join("users").to_str().unwrap()]);
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(
        outputs(&d, &["log.csv", "users"]).is_empty(),
        "{:?}",
        outputs(&d, &["log.csv", "users"])
    );
    // A good pair lands in the bundle.
    let d = tmpdir("meta-ok");
    let o = train(&d, LOG, &["--meta", "shop=demo=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = vitrine::engine::Model::from_bytes(&std::fs::read(d.join("m.vtr")).unwrap()).unwrap();
    assert!(m.meta().iter().any(|(k, v)| k == "shop" && v == "demo=1"));
}

#[test]
fn thread_count_is_bounded() {
    let d = tmpdir("threads");
    let o = train(&d, LOG, &["--threads", "100000"]);
    refused(&o, "100000 threads is more than");
    assert!(outputs(&d, &["log.csv"]).is_empty());
    let o = vitrine()
        .args(["eval", "x.csv", "--threads", "99999999999999999999"])
        .output()
        .unwrap();
    refused(&o, "--threads");
}

#[test]
fn inputs_are_bounded_with_a_clear_error() {
    if Path::new("/dev/zero").exists() {
        let o = vitrine()
            .args(["inspect", "/dev/zero", "--max-input-bytes", "1M"])
            .output()
            .unwrap();
        refused(&o, "larger than the input limit of 1048576 bytes");
    }
    let d = tmpdir("bounded");
    let o = train(&d, LOG, &["--max-input-bytes", "64"]);
    refused(&o, "larger than the input limit of 64 bytes");
    assert!(outputs(&d, &["log.csv"]).is_empty());
    let out = d.join("huge.vtr");
    let o = vitrine()
        .args(["synth", "--items", "100000000000", "--dim", "64", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    refused(&o, "factor values");
    assert!(!out.exists());
    let o = vitrine()
        .args(["--max-input-bytes", "lots", "inspect", "x.vtr"])
        .output()
        .unwrap();
    refused(&o, "not a size");
}

/// 120 rows, 80 of them with `;` instead of `,`: the old loader dropped the
/// 80 with a warning and trained on the rest with exit 0.
#[test]
fn mostly_malformed_log_fails_with_counts_and_lines() {
    let mut log = String::from("user_id,item_id,rating,timestamp\n");
    for i in 0..120 {
        let u = i % 7;
        let it = i % 11;
        if i % 3 == 0 {
            log.push_str(&format!("u{u},i{it},5,{i}\n"));
        } else {
            log.push_str(&format!("u{u};i{it};5;{i}\n"));
        }
    }
    let d = tmpdir("mixed");
    let o = train(&d, &log, &[]);
    refused(&o, "80 of 120 rows are malformed");
    for l in ["line 3:", "line 4:", "line 6:", "... and 75 more"] {
        assert!(stderr(&o).contains(l), "missing {l}: {}", stderr(&o));
    }
    assert!(outputs(&d, &["log.csv"]).is_empty());
    // The limit is a flag: 70% lets the run go on, with a warning.
    let o = train(&d, &log, &["--max-bad-rows", "70%"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("80 malformed"), "{}", stderr(&o));
    let o = train(&d, &log, &["--max-bad-rows", "150%"]);
    refused(&o, "between 0% and 100%");
}
