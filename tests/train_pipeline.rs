//! End to end on MovieLens 100k: train → export (all dtypes, per-user rows)
//! → load through the engine, and `vitrine eval` against the baselines and
//! `implicit`. `make test-train` provides the data and the Python venv; run
//! outside make, the test fails and says what to run, it never skips.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use vitrine::engine::{Model, RecommendOptions};
use vitrine::train::state::ModelState;

fn bin() -> PathBuf {
    std::env::var_os("VITRINE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vitrine")))
}

fn required(var: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(default));
    assert!(
        p.exists(),
        "{} not found ({var}); run `make test-train` (it fetches the data and the venv)",
        p.display()
    );
    p
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "vitrine-train-pipeline-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "command failed: {cmd:?}\n{err}");
    String::from_utf8_lossy(&o.stdout).into_owned() + &err
}

#[test]
fn train_export_and_serve_ml100k() {
    let data = required("VITRINE_ML100K", ".cache/data/ml-100k/ml-100k.inter");
    let items = required("VITRINE_ML100K_ITEMS", ".cache/data/ml-100k/ml-100k.item");
    let d = tmpdir("export");
    let train = |seed: &str, state: &Path| {
        run(Command::new(bin())
            .arg("train")
            .arg(&data)
            .args([
                "--format",
                "recbole",
                "--quiet",
                "--factors",
                "16",
                "--iterations",
                "6",
                "--threads",
                "2",
            ])
            .args(["--alpha", "2", "--lambda", "0.1", "--seed", seed])
            .arg("--items")
            .arg(&items)
            .args([
                "--title-col",
                "movie_title",
                "--category-col",
                "class",
                "--category-first-token",
            ])
            .arg("-o")
            .arg(state))
    };
    let s1 = d.join("a.vstate");
    let s2 = d.join("b.vstate");
    let s3 = d.join("c.vstate");
    train("7", &s1);
    train("7", &s2);
    train("8", &s3);
    // Compare factors, not files: the header records the wall time.
    let load = |p: &Path| ModelState::load(p).unwrap();
    let (m1, m2, m3) = (load(&s1), load(&s2), load(&s3));
    assert!(
        m1.item_factors == m2.item_factors && m1.user_factors == m2.user_factors,
        "same seed must give identical models"
    );
    assert!(
        m1.item_factors != m3.item_factors,
        "another seed must give another model"
    );
    assert_eq!(m1.header.items, m3.header.items);
    assert!(m1
        .header
        .titles
        .as_ref()
        .is_some_and(|t| t.iter().any(|x| x == "Toy Story")));
    assert!(m1
        .header
        .categories
        .as_ref()
        .is_some_and(|c| c.iter().any(|x| x == "Animation")));

    let users_dir = d.join("users");
    let mut ids = Vec::new();
    for dt in ["f32", "f16", "int8"] {
        let out = d.join(format!("m-{dt}.vtr"));
        let mut cmd = Command::new(bin());
        cmd.arg("export").arg(&s1).arg("-o").arg(&out).args([
            "--dtype",
            dt,
            "--synthetic-prices",
            "--quiet",
        ]);
        if dt == "int8" {
            cmd.arg("--users").arg(&users_dir);
            // A real (tiny) intent model: the exporter decodes it before
            // embedding, then the bytes must arrive unchanged.
            let utt = d.join("utterances.csv");
            std::fs::write(
                &utt,
                "text,intent\nwhere is my order,track\ntrack my parcel,track\n\
                 i want a refund,refund\nmoney back please,refund\n",
            )
            .unwrap();
            run(Command::new(bin())
                .args(["intent", "train", "--data"])
                .arg(&utt)
                .arg("--out")
                .arg(d.join("intent.vti")));
            cmd.arg("--intent").arg(d.join("intent.vti"));
        }
        run(&mut cmd);
        let m = Model::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(m.dim(), 16);
        // Items with at least one rating >= 4 (1,447 of 1,682).
        assert!(m.n_items() > 1400 && m.n_items() <= 1682, "{}", m.n_items());
        assert!(m.gram().is_some(), "fold-in needs the Gram matrix");
        let meta = m.meta();
        let get = |k: &str| meta.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        assert!(get("prices").unwrap_or_default().contains("synthetic"));
        ids.push(get("model_id").expect("model_id in meta"));
        let intent = m.view().intent.map(|b| b.to_vec());
        if dt == "int8" {
            let vti = std::fs::read(d.join("intent.vti")).unwrap();
            assert_eq!(intent.as_deref(), Some(&vti[..]));
        } else {
            assert!(intent.is_none());
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "model_id must not depend on dtype: {ids:?}"
    );

    // Per-user rows: one file per user, matching the bundle's model_id, and
    // usable as a query vector.
    let files: Vec<_> = std::fs::read_dir(&users_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // 942 of the 943 users have at least one rating >= 4.
    assert_eq!(files.len(), 942);
    let row: Value =
        serde_json::from_slice(&std::fs::read(users_dir.join("1.json")).unwrap()).unwrap();
    assert_eq!(row["user"], "1");
    assert_eq!(row["model_id"].as_str(), Some(ids[0].as_str()));
    assert_eq!(row["dim"], 16);
    let v: Vec<f32> = row["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(v.len(), 16);
    let m = Model::from_bytes(&std::fs::read(d.join("m-int8.vtr")).unwrap()).unwrap();
    let recs = m
        .recommend(
            &v,
            &RecommendOptions {
                k: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(recs.len(), 10);
    assert!(recs.windows(2).all(|w| w[0].score >= w[1].score));

    // One-shot train + export; a failing export (bad intent path) leaves no bundle.
    let one = d.join("one.vtr");
    run(Command::new(bin())
        .arg("train")
        .arg(&data)
        .args(["--quiet", "--factors", "8", "--iterations", "2"])
        .arg("-o")
        .arg(d.join("one.vstate"))
        .arg("--export")
        .arg(&one)
        .args(["--dtype", "f16"]));
    assert!(Model::from_bytes(&std::fs::read(&one).unwrap()).is_ok());
    let bad = d.join("bad.vtr");
    let o = Command::new(bin())
        .arg("export")
        .arg(&s1)
        .arg("-o")
        .arg(&bad)
        .arg("--intent")
        .arg(d.join("does-not-exist.bin"))
        .output()
        .unwrap();
    assert!(!o.status.success() && !bad.exists());
}

fn model<'a>(m: &'a Value, prefix: &str) -> &'a Value {
    m["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no model {prefix} in metrics.json"))
}

#[test]
fn eval_ml100k_beats_popularity_and_matches_implicit_pipeline() {
    let data = required("VITRINE_ML100K", ".cache/data/ml-100k/ml-100k.inter");
    let py = std::env::var_os("VITRINE_IMPLICIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    assert!(
        py.exists(),
        "{} not found; run `make test-train` (it installs implicit)",
        py.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval/implicit_als.py");
    let out = tmpdir("eval");
    let text = run(Command::new(bin())
        .arg("eval")
        .arg(&data)
        .args([
            "--format",
            "recbole",
            "--quiet",
            "--factors",
            "32",
            "--iterations",
            "10",
        ])
        .args(["--alpha", "2", "--lambda", "0.1", "--threads", "2"])
        .arg("--implicit-python")
        .arg(&py)
        .arg("--implicit-script")
        .arg(&script)
        .arg("--out-dir")
        .arg(&out));
    assert!(text.contains("Recall@10"), "{text}");

    let m: Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        m["test_users"].as_u64().unwrap() as usize,
        m["models"][0]["metrics"]["users"].as_u64().unwrap() as usize
    );
    assert!(m["test_users"].as_u64().unwrap() > 900);
    let f32m = &model(&m, "vitrine ALS (f32)")["metrics"];
    let i8m = &model(&m, "vitrine ALS (int8)")["metrics"];
    let pop = &model(&m, "popularity")["metrics"];
    let imp = &model(&m, "implicit")["metrics"];
    let knn = &model(&m, "item-kNN")["metrics"];
    let g = |v: &Value, k: &str| v[k].as_f64().unwrap();
    assert!(
        g(f32m, "ndcg") > g(pop, "ndcg"),
        "ALS {} vs popularity {}",
        g(f32m, "ndcg"),
        g(pop, "ndcg")
    );
    assert!(g(f32m, "recall") > g(pop, "recall"));
    assert!(g(f32m, "coverage") > g(pop, "coverage"));
    // Quantization must not move the headline metric much on the real path.
    assert!((g(i8m, "ndcg") - g(f32m, "ndcg")).abs() / g(f32m, "ndcg") < 0.03);
    // Sanity of the baselines themselves (a broken pipeline gives ~0).
    assert!(g(imp, "ndcg") > g(pop, "ndcg") && g(knn, "ndcg") > 0.5 * g(pop, "ndcg"));
    for x in m["models"].as_array().unwrap() {
        let c: Vec<f64> = x["metrics"]["recall_curve"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(c.len(), 50);
        assert!(
            c.windows(2).all(|w| w[1] >= w[0] - 1e-12),
            "recall curve must be non-decreasing"
        );
        assert!((c[9] - x["metrics"]["recall"].as_f64().unwrap()).abs() < 1e-9);
    }

    let recs: Value =
        serde_json::from_slice(&std::fs::read(out.join("recs.json")).unwrap()).unwrap();
    let n_items = recs["items"].as_array().unwrap().len();
    for (_, r) in recs["models"].as_object().unwrap() {
        for user in r.as_array().unwrap() {
            let u = user.as_array().unwrap();
            assert!(u.len() <= 50 && u.iter().all(|i| (i.as_u64().unwrap() as usize) < n_items));
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg")
            && html.matches("<polyline").count() == m["models"].as_array().unwrap().len()
    );
}
