//! What the translations to protocols other than OpenAI's share: tool arguments as objects,
//! the fields they drop, and merging messages of the same role.

use serde_json::{Map, Value};
use switchyard_domain::gateway::ProviderError;

/// A tool call's arguments as the JSON object these protocols want: OpenAI carries them as
/// text, which may be empty or (from a weak model) not JSON at all; both become `{}`.
pub fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ => Value::Object(Map::new()),
    }
}

/// Logs, at debug, the client's fields this protocol has no place for (they are dropped);
/// `used` are the ones the translation read.
pub fn log_dropped(protocol: &str, extra: &Map<String, Value>, used: &[&str]) {
    let dropped: Vec<&str> = extra
        .keys()
        .map(String::as_str)
        .filter(|name| !used.contains(name))
        .collect();
    if !dropped.is_empty() {
        tracing::debug!(protocol, fields = ?dropped, "fields the protocol cannot carry were dropped");
    }
}

/// Something the client sent that this protocol cannot carry.
pub fn unsupported(protocol: &str, what: &str) -> ProviderError {
    ProviderError::Unsupported {
        message: format!("the {protocol} protocol cannot carry {what}"),
    }
}

/// Appends a turn, merging it into the previous one when both have the same role (protocols
/// that want roles to alternate).
pub fn push_turn(turns: &mut Vec<(&'static str, Vec<Value>)>, role: &'static str, parts: Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(parts),
        _ => turns.push((role, parts)),
    }
}

/// OpenAI's `reasoning_effort`, read from the fields Switchyard passes through.
pub fn reasoning_effort(extra: &Map<String, Value>) -> Option<&str> {
    extra.get("reasoning_effort").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_that_are_not_an_object_become_an_empty_one() {
        assert_eq!(arguments_object(r#"{"city":"Paris"}"#), json!({"city": "Paris"}));
        assert_eq!(arguments_object(""), json!({}));
        assert_eq!(arguments_object("[1]"), json!({}));
        assert_eq!(arguments_object("{broken"), json!({}));
    }

    #[test]
    fn turns_of_the_same_role_merge_and_empty_ones_vanish() {
        let mut turns = Vec::new();
        push_turn(&mut turns, "user", vec![json!(1)]);
        push_turn(&mut turns, "user", vec![json!(2)]);
        push_turn(&mut turns, "model", Vec::new());
        push_turn(&mut turns, "model", vec![json!(3)]);
        assert_eq!(
            turns,
            vec![("user", vec![json!(1), json!(2)]), ("model", vec![json!(3)])]
        );
    }
}
