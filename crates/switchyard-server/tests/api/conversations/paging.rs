//! A conversation of 10,000 messages: listed page by page in both directions (every message
//! once, in order), and a turn at that size still sends only what fits the model's window.

use std::collections::HashSet;

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use switchyard_domain::Clock;
use switchyard_domain::conversations::{ConversationId, Message, MessageId, MessageRole, MessageStatus, Part};
use switchyard_persistence::SqlConversationRepo;
use switchyard_testkit::{Protocol, Scenario};
use uuid::Uuid;

use super::{conversation, send, start};
use crate::gateway::{chat_model, world};

pub const MESSAGES: usize = 10_000;

/// `count` messages, questions and answers in turn, a second apart from `first`.
pub fn history(id: ConversationId, count: usize, first: chrono::DateTime<chrono::Utc>) -> Vec<Message> {
    (0..count)
        .map(|n| {
            let role = if n % 2 == 0 {
                MessageRole::User
            } else {
                MessageRole::Assistant
            };
            Message {
                id: MessageId(Uuid::now_v7()),
                conversation_id: id,
                role,
                parts: vec![Part::Text(format!("message {n}: some words of a long conversation"))],
                reasoning: None,
                tokens: 12,
                model: None,
                supplier: None,
                status: MessageStatus::Complete,
                error: None,
                finish_reason: None,
                request_id: None,
                superseded: false,
                deleted_at: None,
                created_at: first + Duration::seconds(i64::try_from(n).unwrap_or(0)),
            }
        })
        .collect()
}

fn numbers(page: &Value) -> Vec<usize> {
    page["data"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|message| {
            message["content"]
                .as_str()
                .and_then(|text| text.strip_prefix("message "))
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.parse().ok())
                .expect("a numbered message")
        })
        .collect()
}

#[tokio::test]
async fn a_ten_thousand_message_conversation_is_listed_page_by_page_both_ways() {
    let world = world().await;
    let id = start(&world, &world.user, json!({"model": chat_model(Protocol::OpenAi)})).await;
    let database = switchyard_server::startup::open_database(&world.app.settings)
        .await
        .expect("open the database");
    let repo = SqlConversationRepo::new(database.connection().clone());
    let conversation_id = ConversationId(Uuid::parse_str(&id).expect("a uuid"));
    let first = world.app.clock.now() - Duration::days(30);
    repo.import(
        conversation_id,
        &history(conversation_id, MESSAGES, first),
        world.app.clock.now(),
    )
    .await
    .expect("the history is written");
    assert_eq!(conversation(&world, &id).await["message_count"], MESSAGES);

    for (order, expected) in [
        ("asc", (0..MESSAGES).collect::<Vec<_>>()),
        ("desc", (0..MESSAGES).rev().collect::<Vec<_>>()),
    ] {
        let mut seen = Vec::with_capacity(MESSAGES);
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/api/v1/conversations/{id}/messages?order={order}&limit=200");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = world.app.call(Method::GET, &path, &world.user, None).await;
            assert_eq!(status, 200, "{page}");
            pages += 1;
            seen.extend(numbers(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, MESSAGES / 200, "{order}");
        assert_eq!(seen.len(), MESSAGES, "{order}");
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            MESSAGES,
            "{order}: none twice"
        );
        assert!(seen == expected, "{order}: in order");
    }

    world.fake.set(Scenario::text("Still here."));
    let (status, exchange) = send(&world, &id, json!({"content": "Do you remember message 0?"})).await;
    assert_eq!(status, 201, "{exchange}");
    let sent = world.fake.last_request().expect("a request").body;
    let sent = sent["messages"].as_array().expect("messages");
    assert!(sent.len() < MESSAGES, "trimmed to the window: {} messages", sent.len());
    assert_eq!(
        sent.last().expect("the question")["content"],
        "Do you remember message 0?"
    );
    assert_eq!(
        sent[sent.len() - 2]["content"],
        format!("message {}: some words of a long conversation", MESSAGES - 1),
        "the newest history kept"
    );
    assert_eq!(conversation(&world, &id).await["message_count"], MESSAGES + 2);
}
