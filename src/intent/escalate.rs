//! When to hand a help-box conversation to a person: an explicit ask for
//! one, or an angry or repeated complaint. Rules over the normalized text
//! and the mood head's verdict; no second model.
//!
//! - **explicit ask**: the matched intent is `human_agent`, or the text asks
//!   for a person ("real person", "talk to a human", "agent", "人工", "转人工",
//!   "真人", "找客服") — always, whatever the mood;
//! - **angry**: mood `negative` with confidence ≥ [`ANGRY_CONFIDENCE`], or
//!   `negative` with an anger cue ("unacceptable", "ridiculous", "scam",
//!   "投诉", "气死", "垃圾", "!!");
//! - **repeated**: mood `negative` and a repetition cue ("again", "still",
//!   "already", "third time", "又", "还是", "多次", "第二次") in the text, or
//!   an earlier negative message in the same conversation (the caller counts
//!   them: `prior_negative`).

use super::slots::any_in;
use super::Mood;

/// A negative verdict at least this sure counts as angry on its own.
pub const ANGRY_CONFIDENCE: f32 = 0.9;

const ASK_PERSON: &[&str] = &[
    "real person",
    "human",
    "a person",
    "agent",
    "representative",
    "operator",
    "someone real",
    "speak to someone",
    "talk to someone",
    "customer service",
    "manager",
    "supervisor",
    "人工",
    "真人",
    "客服",
    "找人",
    "经理",
];

const ANGER: &[&str] = &[
    "unacceptable",
    "ridiculous",
    "scam",
    "furious",
    "angry",
    "outrageous",
    "disgrace",
    "worst",
    "useless",
    "fed up",
    "sick of",
    "!!",
    "?!",
    "投诉",
    "气死",
    "垃圾",
    "骗子",
    "太差",
    "恶心",
    "愤怒",
    "生气",
    "忍无可忍",
    "差评",
];

const REPEAT: &[&str] = &[
    "again",
    "still",
    "already",
    "second time",
    "third time",
    "times already",
    "how many times",
    "keep",
    "keeps",
    "又",
    "还是",
    "再次",
    "多次",
    "第二次",
    "第三次",
    "好几次",
    "一直",
    "仍然",
];

/// See the module docs. `chars` is the normalized text.
pub fn should_escalate(
    chars: &[char],
    intent: Option<&str>,
    mood: Option<Mood>,
    prior_negative: u32,
) -> bool {
    let n = chars.len();
    if intent == Some("human_agent") || any_in(chars, 0, n, ASK_PERSON) {
        return true;
    }
    let Some(m) = mood.filter(|m| m.label == "negative") else {
        return false;
    };
    m.confidence >= ANGRY_CONFIDENCE
        || any_in(chars, 0, n, ANGER)
        || any_in(chars, 0, n, REPEAT)
        || prior_negative > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::normalize::normalize;

    fn esc(text: &str, mood: Option<(&'static str, f32)>, prior: u32) -> bool {
        let c: Vec<char> = normalize(text).chars().collect();
        let mood = mood.map(|(label, confidence)| Mood { label, confidence });
        should_escalate(&c, None, mood, prior)
    }

    #[test]
    fn explicit_asks_escalate_whatever_the_mood() {
        assert!(esc(
            "can i talk to a real person",
            Some(("neutral", 0.9)),
            0
        ));
        assert!(esc("转人工", None, 0));
        assert!(esc("I want a HUMAN", Some(("positive", 0.8)), 0));
        let c: Vec<char> = "hi".chars().collect();
        assert!(should_escalate(&c, Some("human_agent"), None, 0));
    }

    #[test]
    fn angry_or_repeated_complaints_escalate() {
        assert!(esc("this is unacceptable", Some(("negative", 0.6)), 0));
        assert!(esc("the parcel is broken", Some(("negative", 0.95)), 0));
        assert!(esc("my parcel is late again", Some(("negative", 0.6)), 0));
        assert!(esc("快递还是没到", Some(("negative", 0.6)), 0));
        assert!(esc("the parcel is late", Some(("negative", 0.6)), 1));
    }

    #[test]
    fn calm_or_mild_messages_do_not() {
        assert!(!esc("the parcel is late", Some(("negative", 0.6)), 0));
        assert!(!esc("where is my order again?", Some(("neutral", 0.7)), 3));
        assert!(!esc("this is unacceptable", None, 0));
        assert!(!esc("thanks, great service!!", Some(("positive", 0.99)), 0));
        // Word boundaries: "agents" in a product name is not "agent"? It is
        // a prefix match only at word edges, so "reagent" does not count.
        assert!(!esc("reagent bottles", Some(("neutral", 0.9)), 0));
    }
}
