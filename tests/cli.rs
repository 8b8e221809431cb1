//! The CLI as a user runs it: synth → inspect, and refusals with clear messages.

use std::process::Command;

fn vitrine() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn synth_then_inspect_round_trips() {
    for dtype in ["f32", "f16", "int8"] {
        let out = tmp(&format!("s-{dtype}.vtr"));
        let s = vitrine()
            .args([
                "synth", "--items", "300", "--dim", "24", "--dtype", dtype, "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
        let i = vitrine()
            .args(["inspect", "--json"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(i.status.success());
        let v: serde_json::Value = serde_json::from_slice(&i.stdout).unwrap();
        assert_eq!(v["n_items"], 300);
        assert_eq!(v["dim"], 24);
        assert_eq!(v["dtype"], dtype);
        assert_eq!(v["meta"]["trainer"], "vitrine synth");
        assert!(v["sections"].as_array().unwrap().len() >= 10);
    }
}

#[test]
fn inspect_reports_corruption_with_code_and_section() {
    let out = tmp("corrupt.vtr");
    assert!(vitrine()
        .args(["synth", "--items", "100", "--dim", "8", "--out"])
        .arg(&out)
        .status()
        .unwrap()
        .success());
    let mut b = std::fs::read(&out).unwrap();
    let last = b.len() - 3;
    b[last] ^= 0xff;
    std::fs::write(&out, &b).unwrap();
    let i = vitrine().arg("inspect").arg(&out).output().unwrap();
    assert!(!i.status.success());
    let err = String::from_utf8_lossy(&i.stderr);
    assert!(
        err.contains("CHECKSUM_MISMATCH") && err.contains("GRAM"),
        "{err}"
    );
}

#[test]
fn synth_refuses_bad_arguments_and_writes_nothing() {
    let out = tmp("never.vtr");
    let i = vitrine()
        .args(["synth", "--items", "0", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!i.status.success());
    assert!(!out.exists());
    let i = vitrine()
        .args(["synth", "--dtype", "f8", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&i.stderr).contains("--dtype"));
    assert!(!out.exists());
}

#[test]
fn synth_accepts_given_factors() {
    let f = tmp("factors.bin");
    let vals: Vec<u8> = (0..10 * 4)
        .flat_map(|i| (i as f32 * 0.1).to_le_bytes())
        .collect();
    std::fs::write(&f, vals).unwrap();
    let out = tmp("given.vtr");
    let s = vitrine()
        .args(["synth", "--items", "10", "--dim", "4", "--factors"])
        .arg(&f)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let m = vitrine::engine::Model::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(m.item_row_f32(2).unwrap(), vec![0.8, 0.90000004, 1.0, 1.1]);
}

#[test]
fn inspect_into_a_closed_pipe_exits_quietly() {
    // `vitrine inspect model.vtr | head -1`: the reader goes away first.
    let mut child = vitrine()
        .args(["inspect", "tests/fixtures/v1-small.vtr"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
