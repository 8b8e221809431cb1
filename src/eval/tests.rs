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

#[test]
fn shared_metrics_by_hand() {
    use super::metrics::*;
    // Relevant {5, 9}; top 4 = [1, 5, 2, 9]: hits at ranks 2 and 4.
    let m = at_k(&[1, 5, 2, 9, 7], 4, 2, |i| i == 5 || i == 9);
    assert_eq!(m.hits, 2);
    assert!((m.precision - 0.5).abs() < 1e-12);
    assert!((m.recall - 1.0).abs() < 1e-12);
    assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
    assert!((m.rr - 0.5).abs() < 1e-12);
    let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
    let idcg = 1.0 + 1.0 / 3f64.log2();
    assert!((m.ndcg - dcg / idcg).abs() < 1e-12);
    // Beyond K nothing counts; no hit, no relevant and K = 0 are all 0.
    assert_eq!(at_k(&[1, 2, 9], 2, 1, |i| i == 9), AtK::default());
    assert_eq!(precision(3, 0), 0.0);
    assert_eq!(recall(3, 0), 0.0);
    assert_eq!(f1(0.0, 0.0), 0.0);
    // One relevant item (next-item prediction): F1@20 of a hit is 2/21.
    let one = at_k(&[4, 8], 20, 1, |i| i == 8);
    assert!((one.f1 - 2.0 / 21.0).abs() < 1e-12);
    assert!((one.recall - 1.0).abs() < 1e-12);
}

#[test]
fn replay_splits_each_user_by_time() {
    use super::replay::*;
    let mut ds = crate::train::data::Dataset {
        users: vec!["a".into(), "b".into(), "c".into()],
        items: (0..10).map(|i| format!("i{i}")).collect(),
        ..Default::default()
    };
    // User a: 10 events given out of time order; b: 3 events; c: 2 events.
    let mut line = 0;
    let mut add = |user: u32, item: u32, time: i64| {
        line += 1;
        ds.interactions.push(crate::train::data::Interaction {
            user,
            item,
            weight: 1.0,
            time,
            line,
        });
    };
    for k in (0..10u32).rev() {
        add(0, k, 100 + i64::from(k));
    }
    add(1, 1, 5);
    add(1, 2, 6);
    add(1, 3, 7);
    add(2, 4, 1);
    add(2, 5, 2);
    let s = split_users(&ds, ReplaySplit::default()).unwrap();
    let items = |v: &Vec<(u32, i64)>| v.iter().map(|x| x.0).collect::<Vec<_>>();
    // a: last 20% (2 events) test, 10% before (1) valid, time-ordered.
    assert_eq!(items(&s[0].0), vec![0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(items(&s[0].1), vec![7]);
    assert_eq!(items(&s[0].2), vec![8, 9]);
    // b: one test event, one valid, one train; c: train and test only.
    assert_eq!((s[1].0.len(), s[1].1.len(), s[1].2.len()), (1, 1, 1));
    assert_eq!(items(&s[1].2), vec![3]);
    assert_eq!((s[2].0.len(), s[2].1.len(), s[2].2.len()), (1, 0, 1));
    // No test event is older than that user's training events.
    for (tr, _, te) in &s {
        if let (Some(a), Some(b)) = (tr.last(), te.first()) {
            assert!(a.1 <= b.1);
        }
    }
    assert!(split_users(
        &ds,
        ReplaySplit {
            valid_share: 0.5,
            test_share: 0.5
        }
    )
    .is_err());
    assert!(split_users(
        &ds,
        ReplaySplit {
            valid_share: 0.1,
            test_share: 0.0
        }
    )
    .is_err());
    assert!(split_users(
        &ds,
        ReplaySplit {
            valid_share: f64::NAN,
            test_share: 0.2
        }
    )
    .is_err());
}

/// Session-kNN through the prefix bitmap and dense scores gives the top 20
/// of the plain version (binary-searched intersections, a HashMap of
/// scores), kept here as the reference.
#[test]
fn sknn_matches_the_hashmap_reference() {
    use super::session::{top20, Sknn};
    use std::collections::HashMap;
    let mut rng = crate::synth::Rng::new(3);
    let n_items = 300usize;
    let train: Vec<Vec<(u32, f64)>> = (0..400)
        .map(|s| {
            let len = 2 + (rng.uniform() * 40.0) as usize;
            (0..len)
                .map(|k| {
                    // Skewed item draws, so sessions overlap and scores tie.
                    let u = rng.uniform();
                    ((u * u * n_items as f32) as u32, (s * 100 + k) as f64)
                })
                .collect()
        })
        .collect();
    let sknn = Sknn::new(&train, n_items);
    let reference = |prefix: &[u32]| -> Vec<u32> {
        let mut cur: Vec<u32> = prefix.to_vec();
        cur.sort_unstable();
        cur.dedup();
        // Candidates: the 500 most recent sessions sharing an item (all of
        // them here), in recency order as the merge yields them.
        let last = |s: &Vec<(u32, f64)>| s.last().map_or(0.0, |x| x.1);
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.sort_by(|&a, &b| last(&train[b]).total_cmp(&last(&train[a])));
        let sets: Vec<Vec<u32>> = train
            .iter()
            .map(|s| {
                let mut v: Vec<u32> = s.iter().map(|x| x.0).collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        let cand: Vec<usize> = order
            .into_iter()
            .filter(|&s| sets[s].iter().any(|i| cur.binary_search(i).is_ok()))
            .take(500)
            .collect();
        let mut sims: Vec<(f32, usize)> = cand
            .iter()
            .map(|&s| {
                let inter = sets[s]
                    .iter()
                    .filter(|i| cur.binary_search(i).is_ok())
                    .count();
                (
                    inter as f32 / ((sets[s].len() * cur.len()) as f32).sqrt().max(1.0),
                    s,
                )
            })
            .collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0));
        sims.truncate(100);
        let mut score: HashMap<u32, f32> = HashMap::new();
        for (sim, s) in sims {
            for &i in &sets[s] {
                *score.entry(i).or_insert(0.0) += sim;
            }
        }
        top20(score.into_iter())
    };
    for t in 0..200 {
        let len = 1 + t % 30;
        let prefix: Vec<u32> = (0..len)
            .map(|_| (rng.uniform() * n_items as f32) as u32)
            .collect();
        assert_eq!(
            sknn.recommend(&prefix),
            reference(&prefix),
            "prefix {prefix:?}"
        );
    }
    assert!(sknn.recommend(&[]).is_empty());
}
