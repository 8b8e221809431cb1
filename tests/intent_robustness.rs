//! Untrusted bytes and hostile text never panic; errors are typed.

use std::collections::HashMap;

use vitrine::error::Error;
use vitrine::format::{write_bundle, BundleParts, Dtype};
use vitrine::intent::train::{train, Example, TrainConfig};
use vitrine::intent::{IntentModel, TitleIndex, MAX_INPUT_CHARS};

fn small_model() -> IntentModel {
    let rows = [
        ("where is my order", "order"),
        ("track my parcel 12345", "order"),
        ("我的快递到哪了", "order"),
        ("订单状态", "order"),
        ("i want a refund", "refund"),
        ("return this item", "refund"),
        ("我要退货", "refund"),
        ("退款多久到账", "refund"),
        ("hello", "greet"),
        ("hi there", "greet"),
        ("你好", "greet"),
        ("在吗", "greet"),
    ];
    let ex: Vec<Example> = rows
        .iter()
        .map(|(t, i)| Example {
            text: t.to_string(),
            intent: Some(i.to_string()),
        })
        .collect();
    let mut cfg = HashMap::new();
    cfg.insert(
        "refund".to_string(),
        ("open_returns".to_string(), "Returns: ...".to_string()),
    );
    let (mut m, _) = train(&ex, &cfg, &TrainConfig::default()).unwrap();
    m.set_title_index(Some(
        TitleIndex::build(&["Red Wool Scarf", "蓝色羊毛围巾"]).unwrap(),
    ));
    m
}

#[test]
fn bytes_round_trip_exactly() {
    let m = small_model();
    let bytes = m.to_bytes();
    let back = IntentModel::from_bytes(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.to_bytes(), bytes);
    for t in [
        "where is my order 999999",
        "我要退货",
        "red wool scarf cheaper?",
    ] {
        assert_eq!(back.match_text(t), m.match_text(t));
    }
    assert_eq!(
        m.match_text("我想退货").action.as_deref(),
        Some("open_returns")
    );
}

#[test]
fn every_truncation_is_a_typed_error() {
    let bytes = small_model().to_bytes();
    for n in 0..bytes.len() {
        let e = IntentModel::from_bytes(&bytes[..n]).unwrap_err();
        assert!(
            matches!(e.code(), "TRUNCATED" | "BAD_SECTION"),
            "len {n}: {e}"
        );
    }
}

#[test]
fn every_byte_flip_is_rejected() {
    let bytes = small_model().to_bytes();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x5A;
        // A different minor version is compatible by design.
        if (10..12).contains(&i) {
            continue;
        }
        assert!(IntentModel::from_bytes(&b).is_err(), "flip at {i} accepted");
    }
}

/// Corruption behind a *valid* checksum (a buggy writer, not transit):
/// structural validation must still hold and matching must not panic.
#[test]
fn structural_corruption_with_valid_crc_never_panics() {
    let bytes = small_model().to_bytes();
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut accepted = 0;
    for round in 0..4000 {
        let mut b = bytes.clone();
        for _ in 0..1 + round % 3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let pos = 28 + (seed as usize % (b.len() - 28));
            b[pos] = (seed >> 32) as u8;
        }
        let crc = vitrine::format::crc32::hash(&b[28..]).to_le_bytes();
        b[16..20].copy_from_slice(&crc);
        if let Ok(m) = IntentModel::from_bytes(&b) {
            accepted += 1;
            for t in ["where is my order 12345", "退款", "red scarf", ""] {
                let r = m.match_text(t);
                assert!(r.confidence.is_finite());
            }
        }
    }
    // Most random edits land in weights or strings and stay valid models.
    assert!(accepted > 0);
}

#[test]
fn header_errors_have_stable_codes() {
    let bytes = small_model().to_bytes();
    let mut b = bytes.clone();
    b[0] = b'X';
    assert_eq!(IntentModel::from_bytes(&b).unwrap_err().code(), "BAD_MAGIC");
    let mut b = bytes.clone();
    b[8] = 9;
    assert_eq!(
        IntentModel::from_bytes(&b).unwrap_err().code(),
        "UNSUPPORTED_VERSION"
    );
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert_eq!(
        IntentModel::from_bytes(&b).unwrap_err().code(),
        "CHECKSUM_MISMATCH"
    );
    let mut b = bytes.clone();
    b.push(0);
    assert_eq!(
        IntentModel::from_bytes(&b).unwrap_err().code(),
        "BAD_SECTION"
    );
    assert_eq!(
        IntentModel::from_bytes(&[]).unwrap_err().code(),
        "TRUNCATED"
    );
}

fn bundle(intent: Option<Vec<u8>>) -> vitrine::engine::Model {
    let parts = BundleParts {
        ids: vec!["a".into(), "b".into()],
        dim: 2,
        factors: vec![1.0, 0.0, 0.0, 1.0],
        intent,
        ..Default::default()
    };
    vitrine::engine::Model::from_bytes(&write_bundle(&parts, Dtype::F32).unwrap()).unwrap()
}

#[test]
fn bundle_without_intent_section_is_no_intent_model() {
    let e = IntentModel::from_bundle(&bundle(None)).unwrap_err();
    assert_eq!(e, Error::NoIntentModel);
    assert_eq!(e.code(), "NO_INTENT_MODEL");
    let m = small_model();
    let back = IntentModel::from_bundle(&bundle(Some(m.to_bytes()))).unwrap();
    assert_eq!(back, m);
}

#[test]
fn hostile_text_has_defined_results() {
    let m = small_model();
    for t in ["", "   ", "\t\n\u{3000}", "!!!???"] {
        let r = m.match_text(t);
        assert_eq!(
            (r.intent, r.confidence, r.alternatives.len(), r.truncated),
            (None, 0.0, 0, false),
            "{t:?}"
        );
    }
    let long = "where is my order ".repeat(200);
    let r = m.match_text(&long);
    assert!(r.truncated);
    assert_eq!(r.intent.as_deref(), Some("order"));
    // Lone surrogates arrive from JS as U+FFFD; emoji, mixed scripts, controls,
    // combining marks and RTL text are all just text.
    let weird = [
        "\u{FFFD}\u{FFFD}",
        "👍👍👍",
        "订单 status 12345 ✨ where",
        "\u{0000}\u{0007}order\u{001B}",
        "e\u{0301}\u{0301}\u{0301}",
        "مرحبا أين طلبي",
        "𠀀𠀁𠀂 退款",
        "ｗｈｅｒｅ　ｉｓ　ｍｙ　ｏｒｄｅｒ",
    ];
    for t in weird {
        let r = m.match_text(t);
        assert!(
            r.confidence.is_finite() && (0.0..=1.0).contains(&r.confidence),
            "{t:?}"
        );
        assert!(r.alternatives.len() <= 3);
        assert!(!r.truncated);
    }
    assert_eq!(
        m.match_text("ｗｈｅｒｅ　ｉｓ　ｍｙ　ｏｒｄｅｒ")
            .intent
            .as_deref(),
        Some("order")
    );
    let exactly = "a".repeat(MAX_INPUT_CHARS);
    assert!(!m.match_text(&exactly).truncated);
    assert!(m.match_text(&format!("{exactly}a")).truncated);
}

#[test]
fn threshold_rejects_to_null_with_guesses() {
    let mut m = small_model();
    m.set_threshold(1.0).unwrap();
    let r = m.match_text("where is my order");
    assert_eq!(r.intent, None);
    assert_eq!(
        r.alternatives.first().map(|a| a.intent.as_str()),
        Some("order")
    );
    assert!(r.action.is_none());
    assert!(m.set_threshold(1.5).is_err());
    m.set_threshold(0.0).unwrap();
    assert_eq!(
        m.match_text("where is my order").intent.as_deref(),
        Some("order")
    );
}
