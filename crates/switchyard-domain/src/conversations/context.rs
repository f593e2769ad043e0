//! A turn's context: the conversation's system prompt, then as much of its history as fits the
//! model's context window once the reply's budget is set aside — the newest turns kept, the
//! oldest dropped first, counted with the tokenizer — then the new message.
//!
//! The kept history is one unbroken run ending at the new message (an older, shorter message
//! is not slipped in past a gap), and it never starts with a tool result whose call was
//! dropped: suppliers refuse a `tool` message that answers nothing.

use crate::gateway::chat::{ChatMessage, ChatRole};
use crate::gateway::metering::{TOKENS_PER_REPLY, estimate_message};
use crate::gateway::ports::Tokenizer;
use crate::kernel::error::DomainError;

/// What the model can take: its context window, and the tokens kept for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextBudget {
    pub window: i64,
    pub reply: i64,
}

/// The messages to send, their estimated tokens, and how many of the history's were left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub messages: Vec<ChatMessage>,
    pub prompt_tokens: i64,
    pub dropped: usize,
}

/// The code of a new message that does not fit the model's window by itself.
pub const CONTEXT_TOO_SMALL: &str = "context_too_small";

/// Assembles the context of a turn: `history` is the conversation's messages oldest first,
/// `new` the message being sent.
pub fn assemble(
    tokenizer: &dyn Tokenizer,
    system: Option<ChatMessage>,
    history: &[ChatMessage],
    new: ChatMessage,
    budget: ContextBudget,
) -> Result<Context, DomainError> {
    let room = budget.window - budget.reply - TOKENS_PER_REPLY;
    let fixed =
        system.as_ref().map_or(0, |system| estimate_message(tokenizer, system)) + estimate_message(tokenizer, &new);
    if fixed > room {
        return Err(DomainError::validation(
            "content",
            CONTEXT_TOO_SMALL,
            format!(
                "the message and the system prompt take about {fixed} tokens; the model takes {} with {} kept for its reply",
                budget.window, budget.reply
            ),
        ));
    }
    let mut used = fixed;
    let mut first_kept = history.len();
    for (index, message) in history.iter().enumerate().rev() {
        let tokens = estimate_message(tokenizer, message);
        if used + tokens > room {
            break;
        }
        used += tokens;
        first_kept = index;
    }
    // A tool result whose call was left out answers nothing.
    while first_kept < history.len() && history[first_kept].role() == ChatRole::Tool {
        used -= estimate_message(tokenizer, &history[first_kept]);
        first_kept += 1;
    }
    let mut messages = Vec::with_capacity(history.len() - first_kept + 2);
    messages.extend(system);
    messages.extend_from_slice(&history[first_kept..]);
    messages.push(new);
    Ok(Context {
        messages,
        prompt_tokens: used + TOKENS_PER_REPLY,
        dropped: first_kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::chat::MessageContent;

    /// One token per word.
    #[derive(Debug)]
    struct Words;

    impl Tokenizer for Words {
        fn count(&self, text: &str) -> i64 {
            i64::try_from(text.split_whitespace().count()).unwrap_or(i64::MAX)
        }
    }

    fn said(role: ChatRole, text: &str) -> ChatMessage {
        ChatMessage {
            role: Some(role),
            content: MessageContent::Text(text.to_owned()),
            ..ChatMessage::default()
        }
    }

    fn text(message: &ChatMessage) -> String {
        message.content.text()
    }

    #[test]
    fn a_long_history_keeps_the_system_prompt_and_the_newest_turns_within_the_window() {
        // 30 turns of 10 words each: 14 tokens a message with the framing, 840 in all.
        let history: Vec<ChatMessage> = (0..60)
            .map(|n| {
                let role = if n % 2 == 0 {
                    ChatRole::User
                } else {
                    ChatRole::Assistant
                };
                said(role, &format!("turn {n} {}", "word ".repeat(8)))
            })
            .collect();
        let budget = ContextBudget {
            window: 300,
            reply: 100,
        };
        let context = assemble(
            &Words,
            Some(said(ChatRole::System, "be brief")),
            &history,
            said(ChatRole::User, "and now?"),
            budget,
        )
        .expect("a context");
        assert!(
            context.prompt_tokens <= budget.window - budget.reply,
            "{}",
            context.prompt_tokens
        );
        assert_eq!(text(&context.messages[0]), "be brief");
        assert_eq!(text(context.messages.last().expect("the new message")), "and now?");
        let kept = &context.messages[1..context.messages.len() - 1];
        assert_eq!(kept.len() + context.dropped, 60);
        assert!(
            text(&kept[kept.len() - 1]).starts_with("turn 59 "),
            "the newest turn is kept"
        );
        assert!(
            text(&kept[0]).starts_with(&format!("turn {} ", context.dropped)),
            "an unbroken run"
        );
        assert_eq!(kept.len(), 13, "(300 - 100 - 3 - 6 - 6) / 14 messages fit");
    }

    #[test]
    fn a_tool_result_whose_call_was_dropped_is_dropped_too() {
        let call = said(ChatRole::Assistant, "calling the weather tool now with many words here");
        let history = vec![
            call,
            said(ChatRole::Tool, "sunny"),
            said(ChatRole::Assistant, "it is sunny"),
        ];
        // Room for the last two messages, not the call: the orphan result goes as well.
        let budget = ContextBudget {
            window: 4 + 5 + 7 + 3 + 6 + 3,
            reply: 3,
        };
        let context = assemble(&Words, None, &history, said(ChatRole::User, "thanks"), budget).expect("a context");
        let roles: Vec<ChatRole> = context.messages.iter().map(ChatMessage::role).collect();
        assert_eq!(roles, vec![ChatRole::Assistant, ChatRole::User]);
        assert_eq!(context.dropped, 2);
    }

    #[test]
    fn a_message_too_large_for_the_window_by_itself_is_refused() {
        let refused = assemble(
            &Words,
            None,
            &[],
            said(ChatRole::User, &"word ".repeat(500)),
            ContextBudget {
                window: 400,
                reply: 100,
            },
        )
        .expect_err("too large");
        assert!(refused.to_string().contains("tokens"), "{refused}");
    }
}
