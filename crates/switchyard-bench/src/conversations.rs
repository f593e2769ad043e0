//! `switchyard-bench conversations`: the database work of conversations at 10,000 messages, on
//! SQLite and PostgreSQL, through the repository the server uses (no HTTP, no model): the p50
//! and p99 of reading one page of messages at a random place, and of one turn's database work
//! (the conversation read before and after its lock, the context read a page at a time until
//! a 128k-token window is full, the question and the answer written with their counters).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use switchyard_domain::accounts::{DisplayName, NewUser, Role, UserId, UserRepo, Username};
use switchyard_domain::conversations::{
    ConversationId, ConversationRepo, ConversationSpec, Message, MessageId, MessageRole, MessageStatus,
    NewConversation, NewMessage, Order, Part,
};
use switchyard_domain::kernel::page::{Cursor, PageRequest};
use switchyard_persistence::{Database, DatabaseOptions, SqlConversationRepo, SqlUserRepo};

const MESSAGES: usize = 10_000;
const PAGE_READS: usize = 2_000;
const TURNS: usize = 300;
/// A 128k window less the reply, in the benchmark's rough token estimate (4 bytes a token).
const ROOM_TOKENS: usize = 124_000;

/// One backend's figures.
#[derive(Debug)]
pub struct Row {
    pub backend: &'static str,
    pub fill: Duration,
    pub page: (Duration, Duration),
    pub turn: (Duration, Duration),
    pub context_pages: usize,
}

fn quantiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

fn message(conversation: ConversationId, n: usize, role: MessageRole, at: chrono::DateTime<Utc>) -> Message {
    Message {
        id: MessageId::new(),
        conversation_id: conversation,
        role,
        // About 80 tokens: a realistic chat turn.
        parts: vec![Part::Text(format!(
            "message {n}: {}",
            "the quick brown fox jumps over the lazy dog and keeps on running ".repeat(5)
        ))],
        reasoning: None,
        tokens: 80,
        model: None,
        supplier: None,
        status: MessageStatus::Complete,
        error: None,
        finish_reason: None,
        request_id: None,
        superseded: false,
        deleted_at: None,
        created_at: at,
    }
}

/// Measures one backend at `url` (a fresh, empty database).
pub async fn measure(backend: &'static str, url: &str) -> anyhow::Result<Row> {
    let database = Database::connect(&DatabaseOptions::new(url))
        .await
        .with_context(|| format!("cannot connect to {backend}"))?;
    database.migrate_up().await?;
    let connection = database.connection().clone();
    let now = Utc::now();
    let user = SqlUserRepo::new(connection.clone())
        .create(
            &NewUser {
                id: UserId::new(),
                username: Username::parse("bench")?,
                display_name: DisplayName::parse("bench")?,
                email: None,
                password_hash: "not a hash: nobody logs in".to_owned(),
                role: Role::User,
                now,
            },
            None,
        )
        .await
        .map_err(|error| anyhow::anyhow!("cannot create the user: {error:?}"))?;
    let repo = SqlConversationRepo::new(connection);
    let id = ConversationId::new();
    repo.create(&NewConversation {
        id,
        user_id: user.id,
        spec: ConversationSpec {
            title: Some("bench".to_owned()),
            model: "gpt-4o".to_owned(),
            system_prompt: None,
        },
        now,
    })
    .await?;
    let first = now - chrono::Duration::days(30);
    let history: Vec<Message> = (0..MESSAGES)
        .map(|n| {
            let role = if n % 2 == 0 {
                MessageRole::User
            } else {
                MessageRole::Assistant
            };
            message(id, n, role, first + chrono::Duration::seconds(n as i64 * 60))
        })
        .collect();
    let started = Instant::now();
    repo.import(id, &history, now).await?;
    let fill = started.elapsed();
    eprintln!("bench: {backend}: {MESSAGES} messages written in {fill:?}; reading pages");

    let cursors: Vec<Cursor> = history
        .iter()
        .map(|message| Cursor {
            created_at: message.created_at,
            id: message.id.0,
        })
        .collect();
    let mut pages = Vec::with_capacity(PAGE_READS);
    for n in 0..PAGE_READS {
        // Spread over the whole conversation, both directions, the first page too.
        let after = (n % 10 != 0).then(|| cursors[(n * 7919) % cursors.len()]);
        let order = if n % 2 == 0 {
            Order::Descending
        } else {
            Order::Ascending
        };
        let page = PageRequest::new(Some(50), after)?;
        let started = Instant::now();
        let read = repo
            .messages(user.id, id, order, page)
            .await?
            .context("the conversation")?;
        pages.push(started.elapsed());
        anyhow::ensure!(!read.items.is_empty() || after.is_some(), "an empty first page");
    }
    eprintln!("bench: {backend}: {PAGE_READS} page reads done; timing {TURNS} turns' database work");

    let mut turns = Vec::with_capacity(TURNS);
    let mut context_pages = 0;
    for n in 0..TURNS {
        let started = Instant::now();
        repo.get(user.id, id).await?.context("the conversation")?;
        repo.get(user.id, id).await?.context("the conversation")?;
        let mut page = PageRequest::new(Some(PageRequest::MAX_LIMIT), None)?;
        let (mut tokens, mut read_pages) = (0, 0);
        loop {
            let read = repo.context_page(id, page).await?;
            read_pages += 1;
            tokens += read
                .items
                .iter()
                .map(|message| message.text().len() / 4 + 4)
                .sum::<usize>();
            match read.next {
                Some(next) if tokens < ROOM_TOKENS => page.after = Some(next),
                _ => break,
            }
        }
        let at = Utc::now();
        let question = message(id, MESSAGES + 2 * n, MessageRole::User, at);
        repo.add_message(
            &NewMessage {
                message: question,
                supersedes: None,
            },
            at,
        )
        .await?;
        let answer = message(id, MESSAGES + 2 * n + 1, MessageRole::Assistant, at);
        repo.add_message(
            &NewMessage {
                message: answer,
                supersedes: None,
            },
            at,
        )
        .await?;
        turns.push(started.elapsed());
        context_pages = read_pages;
    }
    database.close().await;
    Ok(Row {
        backend,
        fill,
        page: quantiles(pages),
        turn: quantiles(turns),
        context_pages,
    })
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// The section of `docs/benchmarks.md`.
pub fn markdown(rows: &[Row], missing: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Conversations at {MESSAGES} messages\n\nWritten by `cargo xtask bench conversations` (do not edit by hand; run it again). The release\n`switchyard-bench conversations` fills one conversation with {MESSAGES} messages (about 80 tokens each, a\nminute apart) through the repository the server uses, on a fresh database, then times, on one connection\nat a time: **a page read**, {PAGE_READS} reads of 50 messages at places spread over the conversation, newest or\noldest first; and **a turn's database work**, {TURNS} turns of what a send does besides calling the model — the\nconversation read before and after its lock, the context read 200 messages at a time until a 128k-token\nwindow is full, then the question and the answer written, each with its counters in one transaction.\n"
    );
    let _ = writeln!(
        out,
        "| backend | fill ({MESSAGES} messages) | page read p50 | page read p99 | turn's database work p50 | turn's database work p99 | context pages per turn |\n|---|---|---|---|---|---|---|"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.backend,
            ms(row.fill),
            ms(row.page.0),
            ms(row.page.1),
            ms(row.turn.0),
            ms(row.turn.1),
            row.context_pages
        );
    }
    for line in missing {
        let _ = writeln!(out, "\n{line}");
    }
    let _ = writeln!(
        out,
        "\n```sh\ncargo xtask bench conversations   # SQLite, and PostgreSQL at SWITCHYARD_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)\n```"
    );
    out
}

/// A fresh PostgreSQL or MySQL database for one run beside `admin_url`'s, dropped afterwards.
pub struct ScratchDatabase {
    admin: sea_orm::DatabaseConnection,
    name: String,
    pub url: String,
}

impl ScratchDatabase {
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(admin_url).await.with_context(|| {
            format!("cannot reach {admin_url}; set SWITCHYARD_BENCH_POSTGRES_URL or SWITCHYARD_BENCH_MYSQL_URL")
        })?;
        let name = format!("switchyard_bench_{}", std::process::id());
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await?;
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
        Ok(Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }

    pub async fn drop_now(self) -> anyhow::Result<()> {
        use sea_orm::ConnectionTrait;
        let force = match self.admin.get_database_backend() {
            sea_orm::DbBackend::Postgres => " WITH (FORCE)",
            _ => "",
        };
        self.admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {}{force}", self.name))
            .await?;
        Ok(())
    }
}
