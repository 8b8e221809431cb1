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
    let _ = std::fs::remove_dir_all(model.parent().unwrap());
}
