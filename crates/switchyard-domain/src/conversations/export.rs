//! A conversation as Markdown: its title, model and system prompt, then each message under
//! its role, images as links. Text is written as the user and the model wrote it.

use std::fmt::Write;

use crate::conversations::conversation::Conversation;
use crate::conversations::message::{Message, MessageRole, MessageStatus, Part};

fn heading(role: MessageRole) -> &'static str {
    match role {
        MessageRole::System => "System",
        MessageRole::User => "User",
        MessageRole::Assistant => "Assistant",
        MessageRole::Tool => "Tool",
    }
}

/// The conversation and its messages (oldest first) as one Markdown document.
pub fn markdown(conversation: &Conversation, messages: &[Message]) -> String {
    let mut out = String::new();
    let title = conversation.spec.title.as_deref().unwrap_or("Untitled conversation");
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(
        out,
        "- model: `{}`\n- created: {}\n- messages: {}\n",
        conversation.spec.model,
        conversation
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        messages.len()
    );
    if let Some(prompt) = &conversation.spec.system_prompt {
        let _ = writeln!(out, "## System prompt\n\n{prompt}\n");
    }
    for message in messages {
        let mut notes = Vec::new();
        if let Some(model) = &message.model {
            notes.push(format!("`{model}`"));
        }
        match message.status {
            MessageStatus::Complete => {}
            MessageStatus::Incomplete => notes.push("incomplete".to_owned()),
            MessageStatus::Failed => notes.push("failed".to_owned()),
        }
        if message.superseded {
            notes.push("superseded".to_owned());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        };
        let _ = writeln!(out, "## {}{notes}\n", heading(message.role));
        for part in &message.parts {
            match part {
                Part::Text(text) => {
                    let _ = writeln!(out, "{text}\n");
                }
                Part::Image { url, .. } if url.starts_with("data:") => {
                    let _ = writeln!(out, "*(an inline image)*\n");
                }
                Part::Image { url, .. } => {
                    let _ = writeln!(out, "![image](<{url}>)\n");
                }
                Part::File { name, media_type, .. } => {
                    let _ = writeln!(out, "*(file: {name}, {})*\n", media_type.as_str());
                }
            }
        }
        if let Some(error) = &message.error {
            let _ = writeln!(out, "> error: {error}\n");
        }
    }
    out
}
