//! `vitrine shard` as a user runs it: the files it writes load and stay under
//! the maximum, a second export into the same directory leaves no stale
//! shard behind, and a refused run writes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vitrine::format::{parse, shard};

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

/// One directory per test: they run in parallel and look for leftovers.
fn tmp(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-shard-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str], extra: &[&Path]) -> Output {
    vitrine().args(args).args(extra).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn shard_writes_a_head_and_shards_that_load() {
    let t = tmp("writes");
    let src = t.join("src.vtr");
    ok(&run(
        &[
            "synth", "--items", "3000", "--dim", "16", "--dtype", "int8", "--out",
        ],
        &[&src],
    ));
    let out = t.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let json = ok(&run(
        &[
            "shard",
            "--by",
            "range",
            "--max-shard-bytes",
            "40K",
            "--json",
            "-o",
        ],
        &[&out, &src],
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let n = v["shards"].as_array().unwrap().len();
    assert!(n >= 3, "{n} shards");
    let head = std::fs::read(out.join("head.vtr")).unwrap();
    let hl = parse(&head).unwrap();
    let table = shard::table_of(&head, &hl).unwrap().unwrap();
    assert_eq!(table.shards.len(), n);
    assert_eq!(table.total_items, 3000);
    let mut items = 0;
    for (k, e) in table.shards.iter().enumerate() {
        let b = std::fs::read(out.join(&e.file)).unwrap();
        assert!(b.len() <= 40 * 1024);
        shard::check_shard(&table, k as u32, &b, &parse(&b).unwrap()).unwrap();
        items += e.end - e.start;
    }
    assert_eq!(items, 3000);
    assert_eq!(files(&out).len(), n + 1, "{:?}", files(&out));

    // A second export with larger shards into the same directory: fewer
    // files, none of the old ones left behind.
    ok(&run(
        &["shard", "--by", "category", "--max-shard-bytes", "1M", "-o"],
        &[&out, &src],
    ));
    let head = std::fs::read(out.join("head.vtr")).unwrap();
    let table = shard::table_of(&head, &parse(&head).unwrap())
        .unwrap()
        .unwrap();
    let mut want: Vec<String> = table.shards.iter().map(|e| e.file.clone()).collect();
    want.push("head.vtr".into());
    want.sort();
    assert_eq!(files(&out), want);
    let leftovers: Vec<String> = files(&t)
        .into_iter()
        .filter(|f| f.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&t);
}

#[test]
fn refused_runs_write_nothing() {
    let t = tmp("refused");
    let src = t.join("small.vtr");
    ok(&run(
        &["synth", "--items", "200", "--dim", "16", "--out"],
        &[&src],
    ));
    let out = t.join("refused");
    let _ = std::fs::remove_dir_all(&out);
    for (args, want) in [
        (
            vec!["shard", "--max-shard-bytes", "1K", "-o"],
            "leaves no room",
        ),
        (vec!["shard", "--by", "colour", "-o"], "--by must be"),
    ] {
        let o = run(&args, &[&out, &src]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{err}");
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
    let o = run(&["shard", "--synth-items", "10", "-o"], &[&out, &src]);
    assert!(!o.status.success());
    assert!(!out.exists());
    let leftovers: Vec<String> = files(&t)
        .into_iter()
        .filter(|f| f.contains("refused"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A head is not sharded again.
    let heads = t.join("heads");
    let _ = std::fs::remove_dir_all(&heads);
    ok(&run(&["shard", "-o"], &[&heads, &src]));
    let o = run(
        &["shard", "-o"],
        &[&t.join("again"), &heads.join("head.vtr")],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already a shard head"));
    let _ = std::fs::remove_dir_all(&t);
}
