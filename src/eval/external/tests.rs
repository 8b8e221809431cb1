use super::super::session::parse_log;
use super::{parse_predictions, score_file};
use std::collections::HashMap;

const TRAIN: &str = "session_id\titem_id\ttimestamp\n1\ta\t1\n1\tb\t2\n2\tb\t3\n2\tc\t4\n2\td\t5\n";
// Session 9 is listed out of time order (c before a); its `z` is unknown to train.
const TEST: &str =
    "session_id\titem_id\ttimestamp\n9\tc\t20\n9\ta\t10\n9\tz\t30\n7\tb\t40\n7\td\t41\n";
const HEAD: &str = "session_id\tposition\ttarget\titems\n";

fn setup() -> (HashMap<String, u32>, super::Log) {
    let mut ids = HashMap::new();
    parse_log(TRAIN, "train", &mut ids, true, 0.0).expect("train");
    let test = parse_log(TEST, "test", &mut ids, false, 0.0).expect("test");
    (ids, test)
}

fn score(body: &str) -> Result<super::Acc, super::EvalError> {
    let (ids, test) = setup();
    parse_predictions(&format!("{HEAD}{body}"), "pred.tsv", &ids, &test)
}

#[test]
fn scores_every_point_with_the_harness_metrics() {
    // Points: (9,1) a→c, (9,2) a c→z (outside the catalogue), (7,1) b→d.
    let acc = score("9\t1\tc\tb c\n9\t2\tz\tb c d\n7\t1\td\td\n").expect("scores");
    assert_eq!(acc.n, 3);
    assert_eq!(acc.hits, 2.0);
    assert!((acc.rr - (0.5 + 1.0)).abs() < 1e-12, "{}", acc.rr);
    let j = acc.json();
    assert!((j["hr@20"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!((j["precision@20"].as_f64().unwrap() - 2.0 / 3.0 / 20.0).abs() < 1e-12);
}

#[test]
fn empty_recommendations_are_misses_not_errors() {
    let acc = score("9\t1\tc\t\n9\t2\tz\t\n7\t1\td\t\n").expect("scores");
    assert_eq!((acc.n, acc.hits), (3, 0.0));
}

#[test]
fn misaligned_files_fail_with_bad_layout() {
    let cases: [(&str, &str); 9] = [
        // Target of another sort order (file order instead of time order).
        ("9\t1\ta\tb\n9\t2\tz\tb\n7\t1\td\td\n", "target \"a\""),
        ("9\t1\tc\tb\n9\t3\tz\tb\n7\t1\td\td\n", "position"),
        ("9\t1\tc\tb\n9\t2\tz\tb\n", "have no line"),
        (
            "9\t1\tc\tb\n9\t2\tz\tb\n7\t1\td\td\n7\t2\tx\td\n",
            "more lines",
        ),
        ("9\t1\tc\tb\n8\t2\tz\tb\n7\t1\td\td\n", "continues session"),
        (
            "9\t1\tc\tb\n9\t2\tz\tb\n9\t1\td\td\n",
            "out of the test log's order",
        ),
        (
            "9\t1\tc\tq\n9\t2\tz\tb\n7\t1\td\td\n",
            "not in train.csv's catalogue",
        ),
        ("9\t1\tc\tb b\n9\t2\tz\tb\n7\t1\td\td\n", "twice"),
        ("9\t1\tc\n9\t2\tz\tb\n7\t1\td\td\n", "columns"),
    ];
    for (body, needle) in cases {
        let err = score(body).err().expect(body);
        assert_eq!(err.code(), "BAD_LAYOUT", "{body:?}: {err}");
        assert!(err.to_string().contains(needle), "{body:?}: {err}");
    }
}

#[test]
fn more_than_twenty_items_is_rejected() {
    let mut ids = HashMap::new();
    let train: String = std::iter::once("session_id\titem_id\ttimestamp\n".to_string())
        .chain((0..25).map(|i| format!("1\ti{i}\t{i}\n")))
        .collect();
    parse_log(&train, "train", &mut ids, true, 0.0).expect("train");
    let test = parse_log(
        "session_id\titem_id\ttimestamp\ns\ti0\t1\ns\ti1\t2\n",
        "test",
        &mut ids,
        false,
        0.0,
    )
    .expect("test");
    let items: Vec<String> = (0..21).map(|i| format!("i{i}")).collect();
    let text = format!("{HEAD}s\t1\ti1\t{}\n", items.join(" "));
    let err = parse_predictions(&text, "p", &ids, &test)
        .err()
        .expect("21 items");
    assert!(err.to_string().contains("at most 20"), "{err}");
    // Twenty are fine, and the hit at rank 2 counts 1/2.
    let text = format!("{HEAD}s\t1\ti1\t{}\n", items[..20].join(" "));
    let acc = parse_predictions(&text, "p", &ids, &test).expect("20 items");
    assert_eq!((acc.hits, acc.rr), (1.0, 0.5));
}

#[test]
fn wrong_header_is_bad_layout() {
    let (ids, test) = setup();
    let err = parse_predictions("session\tpos\titems\n", "p", &ids, &test)
        .err()
        .unwrap();
    assert_eq!(err.code(), "BAD_LAYOUT");
    assert!(err
        .to_string()
        .contains("session_id, position, target, items"));
}

#[test]
fn score_file_reads_the_split_like_session_eval() {
    let dir = std::env::temp_dir().join(format!("vitrine-score-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("train.csv"), TRAIN).unwrap();
    std::fs::write(dir.join("test.csv"), TEST).unwrap();
    let pred = dir.join("pred.tsv");
    std::fs::write(
        &pred,
        format!("{HEAD}9\t1\tc\tc\n9\t2\tz\ta\n7\t1\td\tc d\n"),
    )
    .unwrap();
    let out = score_file(&dir, "test.csv", &pred, 0.0).expect("scores");
    assert_eq!(out["results"]["predictions"], 3);
    assert!((out["results"]["mrr@20"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    let missing = score_file(&dir, "nope.csv", &pred, 0.0).err().unwrap();
    assert_eq!(missing.code(), "IO");
    std::fs::remove_dir_all(&dir).ok();
}
