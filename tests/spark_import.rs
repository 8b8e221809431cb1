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
    assert!(
        p.exists(),
        "{} is missing: run `make data-movielens`",
        p.display()
    );
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
    cmd.arg(script).args(
        args.iter()
            .map(|a| a.replace("{OUT}", dir.to_str().unwrap())),
    );
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
        let v = users
            .get(u)
            .unwrap_or_else(|| panic!("no user row for {u}"));
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
/// fold-in and compares it with the trainer's vector. Returns the min and
/// mean cosine and the largest relative L2 error.
fn foldin_cosines(
    model: &Model,
    users: &HashMap<String, Vec<f32>>,
    who: &[&String],
) -> (f64, f64, f64) {
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
    let mut worst = 0f64;
    for u in who {
        let f = fold_in(model, &hist[u.as_str()]).unwrap();
        let theirs = &users[u.as_str()];
        cos.push(cosine(&f.user, theirs));
        let diff: f64 = f
            .user
            .iter()
            .zip(theirs)
            .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
            .sum();
        let norm: f64 = theirs.iter().map(|b| (*b as f64).powi(2)).sum();
        worst = worst.max((diff / norm).sqrt());
    }
    let min = cos.iter().cloned().fold(f64::INFINITY, f64::min);
    (min, cos.iter().sum::<f64>() / cos.len() as f64, worst)
}

fn read_recs(p: &Path) -> HashMap<String, Vec<String>> {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Where a trainer's run left its files, for `vitrine import`.
struct Trained<'a> {
    /// `--from` value and the trainer's name in messages.
    from: &'a str,
    item_factors: PathBuf,
    items: PathBuf,
    user_map: PathBuf,
}

/// Imports `run` at f32 and at int8 + RESIDUAL, and checks each bundle
/// against the trainer's own answers: top-10 overlap with its recommendations
/// (≥ 0.99 at f32, ≥ 0.95 at int8 + residual) and on-device fold-in against
/// its user vectors (cosine ≥ 0.95). `check` sees each loaded bundle (meta,
/// GRAM) and its user rows first.
fn check_imports(
    run: &Trained<'_>,
    t: &Path,
    recs: &HashMap<String, Vec<String>>,
    check: impl Fn(&Model, &HashMap<String, Vec<f32>>),
) {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (dtype, residual, want) in [("f32", false, 0.99), ("int8", true, 0.95)] {
        let out = t.join(format!("{dtype}.vtr"));
        let users = t.join(format!("users-{dtype}"));
        let mut args = vec![
            "--from".to_string(),
            run.from.into(),
            "--item-factors".into(),
            s(&run.item_factors),
            "--items".into(),
            s(&run.items),
            "-o".into(),
            s(&out),
            "--dtype".into(),
            dtype.into(),
            "--users".into(),
            s(&users),
            "--user-map".into(),
            s(&run.user_map),
            "--quiet".into(),
        ];
        if residual {
            args.push("--residual".into());
        }
        import_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let model = load(&out);
        let rows = user_rows(&users);
        check(&model, &rows);
        let overlap = top10_overlap(&model, &rows, recs);
        let what = format!(
            "{} {dtype}{}",
            run.from,
            if residual { "+residual" } else { "" }
        );
        eprintln!("{what}: top-10 overlap with the trainer's own top-10 {overlap:.4}");
        assert!(overlap >= want, "{what}: overlap {overlap} < {want}");
        let who: Vec<&String> = recs.keys().collect();
        let (min, mean, err) = foldin_cosines(&model, &rows, &who);
        eprintln!(
            "{what}: fold-in vs the trainer's user vectors: cosine min {min:.4}, mean {mean:.4}, max rel. error {err:.2e}"
        );
        assert!(
            min >= 0.95,
            "{what}: fold-in cosine min {min} (mean {mean})"
        );
    }
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
    let run = Trained {
        from: "spark",
        item_factors: sp.join("model"),
        items: sp.join("items"),
        user_map: sp.join("users"),
    };
    check_imports(&run, &t, &recs, |model, rows| {
        let meta: HashMap<String, String> = model.meta().into_iter().collect();
        assert_eq!(meta["lambda_scaling"], "positives");
        assert_eq!(meta["alpha"], "2");
        assert_eq!(meta["lambda"], "0.01");
        let g = model.gram().expect("GRAM for fold-in");
        assert_eq!((g.lambda, g.alpha), (0.01, 2.0));
        assert_eq!(rows.len(), 942, "one row per ml-100k user with a positive");
    });
    // The λ scaling is what makes fold-in land on Spark's vectors: the same
    // bundle told to use a plain λ misses them measurably.
    let plain = t.join("plain.vtr");
    import_ok(&[
        "--from",
        "spark",
        "--item-factors",
        &s(&sp.join("model")),
        "--items",
        &s(&sp.join("items")),
        "-o",
        &s(&plain),
        "--dtype",
        "f32",
        "--meta",
        "lambda_scaling=none",
        "--quiet",
    ]);
    let rows = user_rows(&t.join("users-f32"));
    let who: Vec<&String> = recs.keys().collect();
    let (_, _, scaled) = foldin_cosines(&load(&t.join("f32.vtr")), &rows, &who);
    let (_, _, unscaled) = foldin_cosines(&load(&plain), &rows, &who);
    eprintln!("spark fold-in max rel. error: λ × positives {scaled:.2e}, plain λ {unscaled:.2e}");
    assert!(scaled < 1e-3, "{scaled}");
    assert!(unscaled > 10.0 * scaled, "{unscaled} vs {scaled}");
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
    let run = Trained {
        from: "implicit",
        item_factors: im.join("model.npz"),
        items: im.join("items.txt"),
        user_map: im.join("users.csv"),
    };
    check_imports(&run, &t, &recs, |model, _| {
        let g = model.gram().expect("GRAM");
        // implicit's alpha 3 on binary values is vitrine's c = 1 + 2·r.
        assert_eq!((g.lambda, g.alpha), (0.05, 2.0));
        let meta: HashMap<String, String> = model.meta().into_iter().collect();
        assert_eq!(meta["lambda_scaling"], "none");
    });
    let _ = std::fs::remove_dir_all(&t);
}

// ------------------------------------------------------------ bad input ----
//
// Spark-shaped model directories written here with the parquet crate's own
// writer (no Spark needed), then broken one way at a time.

use parquet::data_type::{DoubleType, FloatType, Int32Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

/// Spark 4.0.5's metadata lines, as ALSModel.save() / ALS.save() write them.
fn model_meta(rank: usize) -> String {
    format!(
        r#"{{"class":"org.apache.spark.ml.recommendation.ALSModel","timestamp":1,"sparkVersion":"4.0.5","uid":"ALS_x","paramMap":{{"userCol":"u","itemCol":"i"}},"defaultParamMap":{{"blockSize":4096}},"rank":{rank}}}"#
    )
}

fn estimator_meta(rank: usize, implicit: bool) -> String {
    format!(
        r#"{{"class":"org.apache.spark.ml.recommendation.ALS","timestamp":1,"sparkVersion":"4.0.5","uid":"ALS_x","paramMap":{{"implicitPrefs":{implicit},"alpha":2.0,"regParam":0.01,"maxIter":10,"rank":{rank},"seed":42}},"defaultParamMap":{{"implicitPrefs":false,"alpha":1.0,"regParam":0.1,"rank":10}}}}"#
    )
}

#[derive(Clone, Copy)]
enum Leaf {
    Float,
    Double,
}

/// One Spark-layout factor file: `id: int`, `<features>: array<float>` as
/// Spark writes it (optional 3-level LIST of required floats).
fn write_factors(path: &Path, ids: &[i32], rows: &[Vec<f32>], features: &str, leaf: Leaf) {
    let leaf_ty = match leaf {
        Leaf::Float => "float",
        Leaf::Double => "double",
    };
    let schema = format!(
        "message spark_schema {{ required int32 id; optional group {features} (LIST) {{ repeated group list {{ required {leaf_ty} element; }} }} }}"
    );
    let schema = Arc::new(parse_message_type(&schema).unwrap());
    let props = Arc::new(WriterProperties::builder().build());
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    col.typed::<Int32Type>()
        .write_batch(ids, None, None)
        .unwrap();
    col.close().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let (mut vals, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        for (k, &v) in r.iter().enumerate() {
            vals.push(v);
            def.push(2i16);
            rep.push(if k == 0 { 0i16 } else { 1 });
        }
    }
    match leaf {
        Leaf::Float => {
            col.typed::<FloatType>()
                .write_batch(&vals, Some(&def), Some(&rep))
                .unwrap();
        }
        Leaf::Double => {
            let v: Vec<f64> = vals.iter().map(|&x| x as f64).collect();
            col.typed::<DoubleType>()
                .write_batch(&v, Some(&def), Some(&rep))
                .unwrap();
        }
    }
    col.close().unwrap();
    rg.close().unwrap();
    w.close().unwrap();
}

/// A complete, valid model directory with `n` items and users of rank `d`.
fn good_model(root: &Path, n: usize, d: usize) -> (PathBuf, PathBuf, PathBuf) {
    let model = root.join("model");
    for sub in ["metadata", "itemFactors", "userFactors"] {
        std::fs::create_dir_all(model.join(sub)).unwrap();
    }
    std::fs::create_dir_all(root.join("als/metadata")).unwrap();
    std::fs::write(model.join("metadata/part-00000-x.txt"), model_meta(d)).unwrap();
    std::fs::write(
        root.join("als/metadata/part-00000-x.txt"),
        estimator_meta(d, true),
    )
    .unwrap();
    let ids: Vec<i32> = (0..n as i32).collect();
    let rows: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            (0..d)
                .map(|k| ((i * 7 + k * 3) % 11) as f32 / 11.0 - 0.4)
                .collect()
        })
        .collect();
    // Two part files, as Spark writes them.
    let h = n / 2;
    write_factors(
        &model.join("itemFactors/part-00000-a.snappy.parquet"),
        &ids[..h],
        &rows[..h],
        "features",
        Leaf::Float,
    );
    write_factors(
        &model.join("itemFactors/part-00001-a.snappy.parquet"),
        &ids[h..],
        &rows[h..],
        "features",
        Leaf::Float,
    );
    write_factors(
        &model.join("userFactors/part-00000-b.snappy.parquet"),
        &ids,
        &rows,
        "features",
        Leaf::Float,
    );
    let items = root.join("items.csv");
    let mut s = String::from("spark_id,item_id,popularity\n");
    for i in 0..n {
        s.push_str(&format!("{i},\"sku-{i}, blue\",{}\n", n - i));
    }
    std::fs::write(&items, s).unwrap();
    let users = root.join("users.csv");
    let mut s = String::from("spark_id,user_id\n");
    for i in 0..n {
        s.push_str(&format!("{i},user{i}\n"));
    }
    std::fs::write(&users, s).unwrap();
    (model, items, users)
}

/// Runs an import that must fail; returns stderr and checks nothing was written.
fn import_fails(model: &Path, items: &Path, extra: &[&str], out: &Path) -> String {
    let mut args = vec![
        "--from",
        "spark",
        "--item-factors",
        model.to_str().unwrap(),
        "--items",
        items.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = import(&args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "import should fail: {args:?}");
    assert!(!out.exists(), "nothing partial written: {}", out.display());
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
    err
}

#[test]
fn spark_bad_inputs_name_file_column_and_row() {
    let t = tmp("bad");
    let out_dir = t.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("m.vtr");

    // The valid directory imports (so every failure below is the one change).
    let (model, items, users) = good_model(&t.join("good"), 6, 4);
    let udir = out_dir.join("users");
    import_ok(&[
        "--from",
        "spark",
        "--item-factors",
        model.to_str().unwrap(),
        "--items",
        items.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--dtype",
        "f32",
        "--users",
        udir.to_str().unwrap(),
        "--user-map",
        users.to_str().unwrap(),
        "--quiet",
    ]);
    let m = load(&out);
    assert_eq!(m.n_items(), 6);
    assert_eq!(m.item_id(0), Some("sku-0, blue"));
    let g = m.gram().unwrap();
    assert_eq!((g.lambda, g.alpha), (0.01, 2.0));
    assert_eq!(user_rows(&udir).len(), 6);
    std::fs::remove_file(&out).unwrap();
    std::fs::remove_dir_all(&udir).unwrap();

    // One factor file rewritten per case; the error must name the file, the
    // column and (where there is one) the row.
    let mut nan_rows = vec![vec![0.1f32; 4]; 3];
    nan_rows[1][2] = f32::NAN;
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, &str, Vec<i32>, Vec<Vec<f32>>, &str, Leaf, Vec<&str>)> = vec![
        (
            "features stored as doubles",
            "itemFactors/part-00001-a.snappy.parquet",
            vec![3, 4, 5],
            vec![vec![0.1; 4]; 3],
            "features",
            Leaf::Double,
            vec![
                "part-00001-a.snappy.parquet",
                "\"features\"",
                "array<float>",
            ],
        ),
        (
            "the column is not called features",
            "itemFactors/part-00000-a.snappy.parquet",
            vec![0, 1, 2],
            vec![vec![0.1; 4]; 3],
            "vector",
            Leaf::Float,
            vec![
                "part-00000-a.snappy.parquet",
                "\"features\"",
                "no such column",
            ],
        ),
        (
            "a NaN factor",
            "itemFactors/part-00001-a.snappy.parquet",
            vec![3, 4, 5],
            nan_rows,
            "features",
            Leaf::Float,
            vec![
                "part-00001-a.snappy.parquet",
                "\"features\"",
                "row 1 ",
                "NaN",
            ],
        ),
        (
            "a row whose length is not the model's rank",
            "itemFactors/part-00001-a.snappy.parquet",
            vec![3, 4, 5],
            vec![vec![0.1; 4], vec![0.1; 4], vec![0.1; 3]],
            "features",
            Leaf::Float,
            vec!["row 2 ", "3 values", "rank is 4"],
        ),
        (
            "user factors of another rank than the items'",
            "userFactors/part-00000-b.snappy.parquet",
            vec![0, 1],
            vec![vec![0.1; 5], vec![0.1; 5]],
            "features",
            Leaf::Float,
            vec!["userFactors", "\"features\"", "row 0 ", "5 values"],
        ),
    ];
    for (k, (what, file, ids, rows, column, leaf, want)) in cases.into_iter().enumerate() {
        let (model, items, _) = good_model(&t.join(format!("case{k}")), 6, 4);
        write_factors(&model.join(file), &ids, &rows, column, leaf);
        let e = import_fails(&model, &items, &[], &out);
        for w in want {
            assert!(e.contains(w), "{what}: {w:?} missing from: {e}");
        }
    }

    // An id in the factors that the id map lacks: the factor file, id column and row.
    let (model, items, _) = good_model(&t.join("missing"), 6, 4);
    let text = std::fs::read_to_string(&items).unwrap();
    let cut: String = text
        .lines()
        .filter(|l| !l.starts_with("4,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&items, cut).unwrap();
    let e = import_fails(&model, &items, &[], &out);
    assert!(
        e.contains("part-00001-a.snappy.parquet")
            && e.contains("\"id\"")
            && e.contains("row 1 ")
            && e.contains("id 4 is not in the id map"),
        "{e}"
    );

    // And the reverse: an id-map row without factors: the map file, column, line.
    let (model, items, _) = good_model(&t.join("extra"), 6, 4);
    let mut text = std::fs::read_to_string(&items).unwrap();
    text.push_str("6,sku-6,1\n");
    std::fs::write(&items, text).unwrap();
    let e = import_fails(&model, &items, &[], &out);
    assert!(
        e.contains("items.csv")
            && e.contains("\"item_id\"")
            && e.contains("line 8")
            && e.contains("no factor row"),
        "{e}"
    );

    // Duplicate storefront ids in the map.
    let (model, items, _) = good_model(&t.join("dup"), 6, 4);
    let text = std::fs::read_to_string(&items)
        .unwrap()
        .replace("5,\"sku-5, blue\"", "5,\"sku-0, blue\"");
    std::fs::write(&items, text).unwrap();
    let e = import_fails(&model, &items, &[], &out);
    assert!(
        e.contains("items.csv") && e.contains("line 7") && e.contains("appears twice"),
        "{e}"
    );

    // Another layout: no metadata/, a model of another class, explicit ALS,
    // and no estimator (Spark keeps regParam/alpha there).
    let (model, items, _) = good_model(&t.join("layout"), 6, 4);
    std::fs::remove_dir_all(model.join("metadata")).unwrap();
    let e = import_fails(&model, &items, &[], &out);
    assert!(e.contains("metadata") && e.contains("missing"), "{e}");
    let (model, items, _) = good_model(&t.join("class"), 6, 4);
    std::fs::write(
        model.join("metadata/part-00000-x.txt"),
        model_meta(4).replace("recommendation.ALSModel", "clustering.KMeansModel"),
    )
    .unwrap();
    let e = import_fails(&model, &items, &[], &out);
    assert!(
        e.contains("part-00000-x.txt") && e.contains("\"class\"") && e.contains("KMeansModel"),
        "{e}"
    );
    let (model, items, _) = good_model(&t.join("explicit"), 6, 4);
    std::fs::write(
        t.join("explicit/als/metadata/part-00000-x.txt"),
        estimator_meta(4, false),
    )
    .unwrap();
    let e = import_fails(&model, &items, &[], &out);
    assert!(
        e.contains("\"implicitPrefs\"") && e.contains("implicitPrefs=false"),
        "{e}"
    );
    let (model, items, _) = good_model(&t.join("noest"), 6, 4);
    std::fs::remove_dir_all(t.join("noest/als")).unwrap();
    let e = import_fails(&model, &items, &[], &out);
    assert!(
        e.contains("\"regParam\"") && e.contains("--estimator"),
        "{e}"
    );
    // ... which --lambda and --alpha replace.
    import_ok(&[
        "--from",
        "spark",
        "--item-factors",
        model.to_str().unwrap(),
        "--items",
        items.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--lambda",
        "0.5",
        "--alpha",
        "3",
        "--quiet",
    ]);
    assert_eq!(
        load(&out).gram().map(|g| (g.lambda, g.alpha)),
        Some((0.5, 3.0))
    );
    std::fs::remove_file(&out).unwrap();

    // A failed import leaves an existing bundle untouched.
    std::fs::write(&out, b"previous").unwrap();
    let (model, items, _) = good_model(&t.join("keep"), 6, 4);
    std::fs::write(model.join("metadata/part-00000-x.txt"), "not json").unwrap();
    let o = import(&[
        "--from",
        "spark",
        "--item-factors",
        model.to_str().unwrap(),
        "--items",
        items.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    let _ = std::fs::remove_dir_all(&t);
}

/// Minimal `.npy` (format 1.0) of little-endian f32 / f64 scalars.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    b
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in arrays {
        z.start_file(
            format!("{name}.npy"),
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn implicit_bad_inputs_name_file_column_and_row() {
    let t = tmp("badnpz");
    let out = t.join("m.vtr");
    let items = t.join("items.txt");
    std::fs::write(&items, "a\nb\nc\n").unwrap();
    let item_f = f32s(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    let user_f = f32s(&[0.1, 0.2, 0.3, 0.4]);
    let reg = npy("<f8", "()", &0.05f64.to_le_bytes());
    let alpha = npy("<f8", "()", &3.0f64.to_le_bytes());
    let run = |npz: &Path, items: &Path| {
        import(&[
            "--from",
            "implicit",
            "--item-factors",
            npz.to_str().unwrap(),
            "--items",
            items.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--dtype",
            "f32",
            "--quiet",
        ])
    };
    // Valid.
    let good = t.join("good.npz");
    write_npz(
        &good,
        &[
            ("item_factors", npy("<f4", "(3, 2)", &item_f)),
            ("user_factors", npy("<f4", "(2, 2)", &user_f)),
            ("regularization", reg.clone()),
            ("alpha", alpha.clone()),
        ],
    );
    assert!(run(&good, &items).status.success());
    let m = load(&out);
    assert_eq!((m.n_items(), m.dim(), m.item_id(2)), (3, 2, Some("c")));
    std::fs::remove_file(&out).unwrap();

    let fails = |npz: &Path, items: &Path| {
        let o = run(npz, items);
        assert!(!o.status.success());
        assert!(!out.exists());
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    // NaN: array and row.
    let mut bad = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6];
    bad[5] = f32::NAN;
    let p = t.join("nan.npz");
    write_npz(
        &p,
        &[
            ("item_factors", npy("<f4", "(3, 2)", &f32s(&bad))),
            ("user_factors", npy("<f4", "(2, 2)", &user_f)),
            ("regularization", reg.clone()),
        ],
    );
    let e = fails(&p, &items);
    assert!(
        e.contains("nan.npz")
            && e.contains("\"item_factors\"")
            && e.contains("row 2 ")
            && e.contains("NaN"),
        "{e}"
    );
    // User and item factors of different ranks.
    let p = t.join("rank.npz");
    write_npz(
        &p,
        &[
            ("item_factors", npy("<f4", "(3, 2)", &item_f)),
            ("user_factors", npy("<f4", "(1, 4)", &user_f)),
            ("regularization", reg.clone()),
        ],
    );
    let e = fails(&p, &items);
    assert!(
        e.contains("\"user_factors\"") && e.contains("4 columns, item_factors has 2"),
        "{e}"
    );
    // Not an implicit model.
    let p = t.join("other.npz");
    write_npz(&p, &[("weights", npy("<f4", "(3, 2)", &item_f))]);
    let e = fails(&p, &items);
    assert!(
        e.contains("\"item_factors\"") && e.contains("missing"),
        "{e}"
    );
    // Item list shorter / longer than the factors.
    let short = t.join("short.txt");
    std::fs::write(&short, "a\nb\n").unwrap();
    let e = fails(&good, &short);
    assert!(
        e.contains("good.npz") && e.contains("row 2 ") && e.contains("not in the id map"),
        "{e}"
    );
    let blank = t.join("blank.txt");
    std::fs::write(&blank, "a\n\nc\n").unwrap();
    let e = fails(&good, &blank);
    assert!(
        e.contains("blank.txt") && e.contains("line 2") && e.contains("empty id"),
        "{e}"
    );
    let long = t.join("long.txt");
    std::fs::write(&long, "a\nb\nc\nd\n").unwrap();
    let e = fails(&good, &long);
    assert!(
        e.contains("long.txt") && e.contains("line 4") && e.contains("no factor row"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&t);
}

/// A log saved as "Unicode text" (UTF-16 with a byte-order mark, CRLF, a
/// quoted id holding a comma, non-ASCII ids) trains on the users, items and
/// positives it holds: Spark's text source reads every file as UTF-8 and its
/// CSV source splits lines at the byte 0x0A, so before `--encoding auto`
/// such a log failed with a header of NUL-spaced noise.
#[test]
fn spark_als_reads_a_utf16_log() {
    // Two part files, each with its header, as a spreadsheet export split in
    // two or Spark's own output: the folder is what the script is given, so
    // `--encoding auto` has to find the first file Spark reads (past
    // `_SUCCESS` and a hidden checksum file without a byte-order mark).
    let header = "user_id,item_id,timestamp\r\n";
    let mut parts = [String::from(header), String::from(header)];
    let items = ["café", "商品-7", "Kaffee, 500 g", "tee", "naïve", "b"];
    let mut pairs = HashSet::new();
    for u in 0..30 {
        for k in [0, 2, 4, 2] {
            let item = items[(u + k) % items.len()];
            pairs.insert((u, item));
            let quoted = if item.contains(',') {
                format!("\"{item}\"")
            } else {
                item.to_string()
            };
            parts[u % 2].push_str(&format!("ü{u},{quoted},{}\r\n", 1000 + u));
        }
    }
    // A stable path, so the trained output is cached like the others.
    let log = cache_root().join("encoding-logs").join("utf16-parts");
    let _ = std::fs::remove_dir_all(&log);
    std::fs::create_dir_all(&log).unwrap();
    for (n, text) in parts.iter().enumerate() {
        let mut wide = vec![0xFF, 0xFE];
        wide.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(log.join(format!("part-0000{n}.csv")), wide).unwrap();
    }
    std::fs::write(log.join("_SUCCESS"), b"").unwrap();
    std::fs::write(log.join(".part-00000.csv.crc"), b"crc\n").unwrap();
    let out = cached_run(
        "scripts/spark_als.py",
        &[
            log.to_str().unwrap(),
            "--value-col",
            "none",
            "--out",
            "{OUT}",
            "--factors",
            "4",
            "--iterations",
            "2",
            "--quiet",
        ],
        "spark-utf16",
    );
    let params: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("params.json")).unwrap()).unwrap();
    assert_eq!(params["encoding"], "UTF-16");
    assert_eq!(params["users"], 30);
    assert_eq!(
        params["positives"],
        pairs.len(),
        "a duplicate pair is one positive"
    );
    let read = |sub: &str| -> HashSet<String> {
        let mut ids = HashSet::new();
        for e in std::fs::read_dir(out.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "csv") {
                let mut r = csv::Reader::from_path(&p).unwrap();
                ids.extend(r.records().map(|x| x.unwrap()[1].to_string()));
            }
        }
        ids
    };
    let want: HashSet<String> = items.iter().map(|s| s.to_string()).collect();
    assert_eq!(read("items"), want);
    assert_eq!(read("users"), (0..30).map(|u| format!("ü{u}")).collect());
}

/// A path with nothing Spark would read (missing, or a folder holding only
/// `_SUCCESS`) is named in one line, with no traceback and nothing written,
/// whether or not the charset is sniffed.
#[test]
fn spark_als_names_a_path_with_no_file() {
    let t = tmp("no-file");
    let only_marker = t.join("job-output");
    std::fs::create_dir_all(&only_marker).unwrap();
    std::fs::write(only_marker.join("_SUCCESS"), b"").unwrap();
    let missing = t.join("events.csv");
    for (path, encoding) in [(&missing, "auto"), (&only_marker, "ISO-8859-1")] {
        let out_dir = t.join("out");
        let o = Command::new(python())
            .arg("scripts/spark_als.py")
            .arg(path)
            .args(["--encoding", encoding, "--quiet", "--out"])
            .arg(&out_dir)
            .output()
            .expect("python");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{path:?} should fail");
        assert!(
            err.contains(&format!("no file to read at {}", path.display())),
            "{err}"
        );
        assert!(!err.contains("Traceback"), "{err}");
        assert!(!out_dir.exists(), "nothing written for {path:?}");
    }
    let _ = std::fs::remove_dir_all(&t);
}
