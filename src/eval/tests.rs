use super::session::{parse_log, SessionEvalConfig};
use super::EvalError;
use std::collections::HashMap;

const GOOD: &str = "session_id\titem_id\ttimestamp\n1\ta\t10\n1\tb\t11\n2\tb\t20\n2\tc\t19\n";

#[test]
fn reads_sessions_sorted_by_time() {
    let mut ids = HashMap::new();
    let log = parse_log(GOOD, "good", &mut ids, true, 0.0).expect("parses");
    assert_eq!(log.lines, 4);
    assert_eq!(log.skipped, 0);
    assert_eq!(log.sessions.len(), 2);
    // Session 2 is reordered by timestamp: c (19) before b (20).
    let (b, c) = (ids["b"], ids["c"]);
    assert_eq!(
        log.sessions[1].iter().map(|x| x.0).collect::<Vec<_>>(),
        [c, b]
    );
    assert_eq!(log.sessions[0][0].1, 10_000.0);
}

#[test]
fn columns_found_by_name_in_any_order() {
    let text = "timestamp\tsession_id\textra\titem_id\n10\ts1\tx\ti1\n11\ts1\ty\ti2\n";
    let mut ids = HashMap::new();
    let log = parse_log(text, "t", &mut ids, true, 0.0).expect("parses");
    assert_eq!(log.sessions, vec![vec![(0, 10_000.0), (1, 11_000.0)]]);
}

#[test]
fn another_layout_is_rejected_not_scored() {
    // The layout a basket file has: before, each line became a one-item
    // "session" 1 with item = basket id, and the run reported HR@20 = 1.
    let text = "user_id\tbasket_id\titem_id\n1\t7\t55\n1\t7\t56\n2\t8\t55\n";
    let err = parse_log(text, "baskets.csv", &mut HashMap::new(), true, 0.01).unwrap_err();
    assert_eq!(err.code(), "BAD_LAYOUT");
    assert!(err.to_string().contains("session_id"), "{err}");
    // Headerless data is another layout too.
    let err = parse_log("1\ta\t10\n", "x", &mut HashMap::new(), true, 0.01).unwrap_err();
    assert_eq!(err.code(), "BAD_LAYOUT");
    // Comma-separated with the right names: the delimiter is wrong.
    let err = parse_log(
        "session_id,item_id,timestamp\n1,a,1\n",
        "x",
        &mut HashMap::new(),
        true,
        0.01,
    )
    .unwrap_err();
    assert_eq!(err.code(), "BAD_LAYOUT");
}

#[test]
fn bad_lines_are_counted_and_fail_past_the_share() {
    let mut text = String::from("session_id\titem_id\ttimestamp\n");
    for k in 0..98 {
        text.push_str(&format!("{}\ti{k}\t{k}\n", k / 4));
    }
    text.push_str("9\tx\tnot-a-time\n");
    text.push_str("9,y,3\n");
    let mut ids = HashMap::new();
    let log = parse_log(&text, "t", &mut ids, true, 0.05).expect("2% bad < 5%");
    assert_eq!((log.lines, log.skipped), (100, 2));
    let err = parse_log(&text, "t", &mut HashMap::new(), true, 0.01).unwrap_err();
    match &err {
        EvalError::TooManyBadLines {
            bad, total, first, ..
        } => {
            assert_eq!((*bad, *total), (2, 100));
            assert_eq!(first[0].0, 100, "1-based line number of the first bad line");
        }
        e => panic!("wrong error {e}"),
    }
    assert_eq!(err.code(), "TOO_MANY_BAD_LINES");
    // NaN / infinite timestamps are bad lines, not sessions sorted at random.
    let nan = "session_id\titem_id\ttimestamp\n1\ta\tNaN\n1\tb\t1\n";
    let log = parse_log(nan, "t", &mut HashMap::new(), true, 0.5).expect("50% allowed");
    assert_eq!(log.skipped, 1);
}

#[test]
fn unknown_items_outside_train_are_marked() {
    let mut ids = HashMap::new();
    parse_log(GOOD, "train", &mut ids, true, 0.0).unwrap();
    let test = "session_id\titem_id\ttimestamp\n5\ta\t1\n5\tzzz\t2\n";
    let log = parse_log(test, "test", &mut ids, false, 0.0).unwrap();
    assert_eq!(log.sessions[0][1].0, u32::MAX);
    assert_eq!(ids.len(), 3, "test files never add items");
}

#[test]
fn dataset_name_comes_from_the_flag_or_the_directory() {
    let mut c = SessionEvalConfig {
        data: "/data/tafeng_sessions".into(),
        ..Default::default()
    };
    assert_eq!(c.dataset(), "tafeng_sessions");
    c.dataset_name = Some("Mine".into());
    assert_eq!(c.dataset(), "Mine");
}
