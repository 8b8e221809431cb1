//! `vitrine import` against the real trainers: Spark MLlib ALS (PyPI `pyspark`,
//! local mode) and `implicit`, on MovieLens-100k; and its bad-input errors.
//!
//! Run by `make test-spark` (scripts/spark.mk installs pyspark and the data).
//! Environment: `VITRINE_PYTHON` (default `.venv/bin/python`), `VITRINE_ML100K`
//! (default `.cache/data/ml-100k/ml-100k.inter`), `VITRINE_SPARK_CACHE` (default
//! `target/spark-cache`: trained outputs keyed by a hash of the training script
//! and its arguments, so a rerun skips the ~1–2 minutes of Spark).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use vitrine::engine::{Model, RecommendOptions};
use vitrine::shopper::fold_in;
use vitrine::train::data::{load_interactions, LoadOptions};

const VITRINE: &str = env!("CARGO_BIN_EXE_vitrine");

fn python() -> PathBuf {
    std::env::var_os("VITRINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/python"))
}

fn ml100k() -> PathBuf {
    let p = std::env::var_os("VITRINE_ML100K")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".cache/data/ml-100k/ml-100k.inter"));
    assert!(p.exists(), "{} is missing: run `make data-movielens`", p.display());
    p
}

fn cache_root() -> PathBuf {
    std::env::var_os("VITRINE_SPARK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/spark-cache"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vitrine-spark-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a training script once per (script, arguments); the output directory
/// is complete only when `done` exists in it.
fn cached_run(script: &str, args: &[&str], tag: &str) -> PathBuf {
    let mut h = vitrine::format::crc32::Crc32::new();
    h.update(&std::fs::read(script).expect("script"));
    for a in args {
        h.update(a.as_bytes());
        h.update(&[0]);
    }
    let dir = cache_root().join(format!("{tag}-{:08x}", h.finalize()));
    if dir.join("done").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(python());
    cmd.arg(script).args(args.iter().map(|a| a.replace("{OUT}", dir.to_str().unwrap())));
    let out = cmd.output().expect("python");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("done"), b"").unwrap();
    dir
}

fn import(args: &[&str]) -> std::process::Output {
    Command::new(VITRINE)
        .arg("import")
        .args(args)
        .output()
        .expect("vitrine import")
}

fn import_ok(args: &[&str]) {
    let out = import(args);
    assert!(
        out.status.success(),
        "vitrine import {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn load(path: &Path) -> Model {
    Model::from_bytes(&std::fs::read(path).unwrap()).expect("bundle loads")
}

/// `--users DIR` rows: user id → vector.
fn user_rows(dir: &Path) -> HashMap<String, Vec<f32>> {
    let mut m = HashMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        let id = v["user"].as_str().unwrap().to_string();
        let vec = v["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        m.insert(id, vec);
    }
    m
}

/// Mean share of the trainer's own top-10 that vitrine's top-10 (from the
/// bundle, with the trainer's user vectors) also returns.
fn top10_overlap(
    model: &Model,
    users: &HashMap<String, Vec<f32>>,
    recs: &HashMap<String, Vec<String>>,
) -> f64 {
    assert_eq!(recs.len(), 100, "the trainer's top-10 for 100 users");
    let mut total = 0.0;
    for (u, theirs) in recs {
        let v = users.get(u).unwrap_or_else(|| panic!("no user row for {u}"));
        let ours = model
            .recommend(
                v,
                &RecommendOptions {
                    k: theirs.len(),
                    ..Default::default()
                },
            )
            .unwrap();
        let ours: HashSet<&str> = ours
            .iter()
            .map(|s| model.item_id(s.index as usize).unwrap())
            .collect();
        let hit = theirs.iter().filter(|i| ours.contains(i.as_str())).count();
        total += hit as f64 / theirs.len() as f64;
    }
    total / recs.len() as f64
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Folds each of the recommendation users' ml-100k positives (ratings ≥ 4,
/// weight 1, read by vitrine's own loader) into a vector with the bundle's
/// fold-in and compares it with the trainer's vector. Returns (min, mean).
fn foldin_cosines(
    model: &Model,
    users: &HashMap<String, Vec<f32>>,
    who: &[&String],
) -> (f64, f64) {
    let ds = load_interactions(
        &ml100k(),
        &LoadOptions {
            delimiter: Some(b'\t'),
            ..Default::default()
        },
    )
    .unwrap();
    let mut hist: HashMap<&str, Vec<(u32, f32)>> = HashMap::new();
    for x in &ds.interactions {
        let u = ds.users[x.user as usize].as_str();
        let i = model
            .item_index(&ds.items[x.item as usize])
            .expect("every positive item is in the bundle") as u32;
        hist.entry(u).or_default().push((i, x.weight));
    }
    let mut cos = Vec::new();
    for u in who {
        let f = fold_in(model, &hist[u.as_str()]).unwrap();
        cos.push(cosine(&f.user, &users[u.as_str()]));
    }
    let min = cos.iter().cloned().fold(f64::INFINITY, f64::min);
    (min, cos.iter().sum::<f64>() / cos.len() as f64)
}

fn read_recs(p: &Path) -> HashMap<String, Vec<String>> {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn spark_als_imports_match_spark() {
    let log = ml100k();
    let log = log.to_str().unwrap();
    let sp = cached_run(
        "scripts/spark_als.py",
        &[
            log,
            "--format",
            "recbole",
            "--out",
            "{OUT}",
            "--factors",
            "16",
            "--iterations",
            "10",
            "--alpha",
            "2",
            "--lambda",
            "0.01",
            "--seed",
            "42",
            "--recommend-users",
            "100",
            "--recommend-out",
            "{OUT}/recs.json",
            "--quiet",
        ],
        "spark-ml100k",
    );
    let recs = read_recs(&sp.join("recs.json"));
    let t = tmp("spark");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (dtype, residual, want) in [("f32", false, 0.99), ("int8", true, 0.95)] {
        let out = t.join(format!("{dtype}.vtr"));
        let users = t.join(format!("users-{dtype}"));
        let mut args = vec![
            "--from".to_string(),
            "spark".into(),
            "--item-factors".into(),
            s(&sp.join("model")),
            "--items".into(),
            s(&sp.join("items")),
            "-o".into(),
            s(&out),
            "--dtype".into(),
            dtype.into(),
            "--users".into(),
            s(&users),
            "--user-map".into(),
            s(&sp.join("users")),
            "--quiet".into(),
        ];
        if residual {
            args.push("--residual".into());
        }
        import_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let model = load(&out);
        let meta: HashMap<String, String> = model.meta().into_iter().collect();
        assert_eq!(meta["lambda_scaling"], "positives");
        assert_eq!(meta["alpha"], "2");
        assert_eq!(meta["lambda"], "0.01");
        let g = model.gram().expect("GRAM for fold-in");
        assert_eq!((g.lambda, g.alpha), (0.01, 2.0));
        let rows = user_rows(&users);
        assert_eq!(rows.len(), 942, "one row per ml-100k user with a positive");
        let overlap = top10_overlap(&model, &rows, &recs);
        eprintln!("spark {dtype}{}: top-10 overlap with recommendForUserSubset {overlap:.4}", if residual { "+residual" } else { "" });
        assert!(overlap >= want, "{dtype}: overlap {overlap} < {want}");
        let who: Vec<&String> = recs.keys().collect();
        let (min, mean) = foldin_cosines(&model, &rows, &who);
        eprintln!("spark {dtype}: fold-in vs Spark's user vectors: cosine min {min:.4}, mean {mean:.4}");
        assert!(min >= 0.95, "{dtype}: fold-in cosine min {min}");
    }
    // The user factors never go into the bundle: its size is the items' alone.
    let f32_size = std::fs::metadata(t.join("f32.vtr")).unwrap().len();
    assert!(f32_size < 1447 * 16 * 4 + 64 * 1024, "{f32_size}");
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn implicit_imports_match_implicit() {
    let log = ml100k();
    let im = cached_run(
        "tests/spark/implicit_train.py",
        &[
            log.to_str().unwrap(),
            "{OUT}",
            "--factors",
            "16",
            "--iterations",
            "15",
            "--alpha",
            "3",
            "--regularization",
            "0.05",
            "--users",
            "100",
        ],
        "implicit-ml100k",
    );
    let recs = read_recs(&im.join("recs.json"));
    let t = tmp("implicit");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (dtype, residual, want) in [("f32", false, 0.99), ("int8", true, 0.95)] {
        let out = t.join(format!("{dtype}.vtr"));
        let users = t.join(format!("users-{dtype}"));
        let mut args = vec![
            "--from".to_string(),
            "implicit".into(),
            "--item-factors".into(),
            s(&im.join("model.npz")),
            "--items".into(),
            s(&im.join("items.txt")),
            "-o".into(),
            s(&out),
            "--dtype".into(),
            dtype.into(),
            "--users".into(),
            s(&users),
            "--user-map".into(),
            s(&im.join("users.csv")),
            "--quiet".into(),
        ];
        if residual {
            args.push("--residual".into());
        }
        import_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let model = load(&out);
        let g = model.gram().expect("GRAM");
        // implicit's alpha 3 on binary values is vitrine's c = 1 + 2·r.
        assert_eq!((g.lambda, g.alpha), (0.05, 2.0));
        let meta: HashMap<String, String> = model.meta().into_iter().collect();
        assert_eq!(meta["lambda_scaling"], "none");
        let rows = user_rows(&users);
        let overlap = top10_overlap(&model, &rows, &recs);
        eprintln!("implicit {dtype}{}: top-10 overlap with model.recommend {overlap:.4}", if residual { "+residual" } else { "" });
        assert!(overlap >= want, "{dtype}: overlap {overlap} < {want}");
        let who: Vec<&String> = recs.keys().collect();
        let (min, mean) = foldin_cosines(&model, &rows, &who);
        eprintln!("implicit {dtype}: fold-in vs implicit's user vectors: cosine min {min:.4}, mean {mean:.4}");
        assert!(min >= 0.95, "{dtype}: fold-in cosine min {min} (mean {mean})");
    }
    let _ = std::fs::remove_dir_all(&t);
}
