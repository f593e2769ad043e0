//! A turn: a message sent into a conversation (or its last answer regenerated), answered by
//! the model through the gateway's own use cases (routing, checks, call log, usage), whole or
//! streamed. The question is stored before the call; the answer when it is done — `complete`,
//! or `failed` with whatever had arrived, or `incomplete` when the client went away — so
//! nothing is lost. Turns of one conversation run one at a time.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::lock::OwnedMutexGuard;

use crate::conversations::attachments::load;
use crate::conversations::context::{ContextBudget, assemble};
use crate::conversations::conversation::{
    Conversation, ConversationId, ConversationInput, ConversationPatch, ConversationSpec,
};
use crate::conversations::message::{Message, MessageId, MessageRole, MessageStatus, NewMessage, Part, Question};
use crate::conversations::pending::{Answer, Pending, failure_summary};
use crate::conversations::service::Conversations;
use crate::conversations::stream::TurnStream;
use crate::conversations::title::TitleJob;
use crate::gateway::chat::{ChatMessage, ChatRequest, ChatRole, MessageContent};
use crate::gateway::metering::estimate_message;
use crate::gateway::requirements::check_chat;
use crate::gateway::routing::RoutableModel;
use crate::gateway::service::{CallContext, Caller, auto_category};
use crate::kernel::error::{ConflictKind, DomainError};
use crate::kernel::page::PageRequest;
use crate::kernel::principal::Principal;

/// How a turn is to be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TurnOptions {
    pub stream: bool,
    /// The most tokens of the answer; the model's most output tokens when absent.
    pub max_tokens: Option<i64>,
}

/// A question and its stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub question: Message,
    pub answer: Message,
}

/// How a turn is answered.
#[derive(Debug)]
pub enum Reply {
    Whole(Box<Exchange>),
    Stream(Box<StreamedReply>),
}

/// A stored question and its answer on its way: stored under `answer_id` when the stream ends,
/// fails or is dropped.
#[derive(Debug)]
pub struct StreamedReply {
    pub question: Message,
    pub answer_id: MessageId,
    pub stream: TurnStream,
}

/// A one-shot chat: a message into a conversation of the caller's, or into a new one.
#[derive(Debug, Clone)]
pub struct OneShot {
    /// Continue this conversation; `None` starts one.
    pub conversation: Option<ConversationId>,
    /// The model: a new conversation's (`auto` when absent), or the continued one's from now on.
    pub model: Option<String>,
    /// A new conversation's system prompt.
    pub system_prompt: Option<String>,
    pub question: Question,
    pub options: TurnOptions,
}

impl Conversations {
    /// The one-shot chat: starts a conversation when none is named (or switches the named one's
    /// model), then sends the message; says which conversation it went into.
    pub async fn chat(
        &self,
        user: &Principal,
        context: &CallContext,
        chat: OneShot,
    ) -> Result<(ConversationId, Reply), DomainError> {
        let id = match chat.conversation {
            Some(id) => {
                let conversation = self.live(user, id).await?;
                if let Some(model) = chat.model.filter(|model| *model != conversation.spec.model) {
                    let patch = ConversationPatch {
                        model: Some(model),
                        ..ConversationPatch::default()
                    };
                    self.patch(user, id, patch).await?;
                }
                id
            }
            None => {
                let spec = ConversationSpec::parse(ConversationInput {
                    title: None,
                    model: chat.model.unwrap_or_else(|| "auto".to_owned()),
                    system_prompt: chat.system_prompt,
                })?;
                self.create(user, spec).await?.id
            }
        };
        let reply = self.send(user, context, id, chat.question, chat.options).await?;
        Ok((id, reply))
    }

    /// The caller's messages across their conversations, newest first.
    pub async fn recent(
        &self,
        user: &Principal,
        page: PageRequest,
    ) -> Result<crate::kernel::page::Page<Message>, DomainError> {
        Ok(self.ports.repo.recent(user.user_id(), page).await?)
    }

    /// Sends a message into the caller's conversation and answers it.
    pub async fn send(
        &self,
        user: &Principal,
        context: &CallContext,
        id: ConversationId,
        question: Question,
        options: TurnOptions,
    ) -> Result<Reply, DomainError> {
        let (turn, conversation) = self.begin_turn(user, id).await?;
        let caller = caller(user);
        let (model, budget) = self.budget(&caller, &conversation.spec.model, options.max_tokens)?;
        let mut parts = question.parts;
        if !question.files.is_empty() {
            let found = self.ports.files.get_many(user, &question.files).await?;
            for wanted in &question.files {
                let file = found
                    .iter()
                    .find(|file| file.id == *wanted)
                    .ok_or(DomainError::NotFound { entity: "file" })?;
                parts.push(Part::File {
                    file_id: file.id,
                    name: file.name.clone(),
                    media_type: file.media_type,
                });
            }
        }
        let now = self.ports.clock.now();
        let mut asked = Message {
            id: MessageId::new(),
            conversation_id: id,
            role: MessageRole::User,
            parts,
            reasoning: None,
            tokens: 0,
            model: None,
            supplier: None,
            status: MessageStatus::Complete,
            error: None,
            finish_reason: None,
            request_id: Some(context.request_id.clone()).filter(|id| !id.is_empty()),
            superseded: false,
            deleted_at: None,
            created_at: now,
        };
        asked.tokens = self.ports.tokenizer.count(&asked.text());
        let history = self.history(&conversation, budget, None).await?;
        let request = self
            .request(user, &conversation, &history, &asked, budget, options)
            .await?;
        if let Some(model) = &model {
            check_chat(model, &request)?;
        }
        let question = self
            .ports
            .repo
            .add_message(
                &NewMessage {
                    message: asked,
                    supersedes: None,
                },
                now,
            )
            .await?;
        let pending = self.pending(&conversation, &caller, context, &question, None, turn);
        self.answer(&caller, context, question, request, pending, options).await
    }

    /// Answers the conversation's last question again: the last answer (`message`) is kept,
    /// marked superseded, and a new one stored.
    pub async fn regenerate(
        &self,
        user: &Principal,
        context: &CallContext,
        id: ConversationId,
        message: MessageId,
        options: TurnOptions,
    ) -> Result<Reply, DomainError> {
        let (turn, conversation) = self.begin_turn(user, id).await?;
        let last = self.ports.repo.last_message(id).await?;
        let not_last = || DomainError::Conflict {
            kind: ConflictKind::NotLastAnswer,
            message: "only the conversation's last answer can be regenerated".to_owned(),
        };
        if !last
            .as_ref()
            .is_some_and(|last| last.id == message && last.role == MessageRole::Assistant)
        {
            return Err(not_last());
        }
        let caller = caller(user);
        let (model, budget) = self.budget(&caller, &conversation.spec.model, options.max_tokens)?;
        let Some(last) = last else {
            return Err(not_last());
        };
        let mut history = self.history(&conversation, budget, Some(&last)).await?;
        let Some(question) = history.pop().filter(|message| message.role == MessageRole::User) else {
            return Err(not_last());
        };
        let request = self
            .request(user, &conversation, &history, &question, budget, options)
            .await?;
        if let Some(model) = &model {
            check_chat(model, &request)?;
        }
        let pending = self.pending(&conversation, &caller, context, &question, Some(message), turn);
        self.answer(&caller, context, question, request, pending, options).await
    }

    /// Takes the conversation's turn (waiting for one in flight), then reads it afresh.
    async fn begin_turn(
        &self,
        user: &Principal,
        id: ConversationId,
    ) -> Result<(OwnedMutexGuard<()>, Conversation), DomainError> {
        self.live(user, id).await?;
        let turn = self.turns.lock(id).await;
        let conversation = self.live(user, id).await?;
        Ok((turn, conversation))
    }

    fn pending(
        &self,
        conversation: &Conversation,
        caller: &Caller,
        context: &CallContext,
        question: &Message,
        supersedes: Option<MessageId>,
        turn: OwnedMutexGuard<()>,
    ) -> Pending {
        let title = match (&conversation.spec.title, &self.settings.title_model) {
            (None, Some(model)) => Some(TitleJob {
                gateway: self.ports.gateway.clone(),
                repo: self.ports.repo.clone(),
                clock: self.ports.clock.clone(),
                caller: caller.clone(),
                context: context.clone(),
                conversation_id: conversation.id,
                model: model.clone(),
                question: question.text(),
                answer: String::new(),
            }),
            _ => None,
        };
        Pending {
            repo: self.ports.repo.clone(),
            clock: self.ports.clock.clone(),
            tokenizer: self.ports.tokenizer.clone(),
            spawner: self.ports.spawner.clone(),
            conversation_id: conversation.id,
            answer_id: MessageId::new(),
            request_id: context.request_id.clone(),
            supersedes,
            title,
            turn,
        }
    }

    /// Calls the model and stores its answer (whole), or hands back the stream that will.
    async fn answer(
        &self,
        caller: &Caller,
        context: &CallContext,
        question: Message,
        request: ChatRequest,
        mut pending: Pending,
        options: TurnOptions,
    ) -> Result<Reply, DomainError> {
        let gateway = &self.ports.gateway;
        if options.stream {
            return match gateway.chat_stream(caller, context, request).await {
                Ok(stream) => Ok(Reply::Stream(Box::new(StreamedReply {
                    question,
                    answer_id: pending.answer_id,
                    stream: TurnStream::new(stream, pending),
                }))),
                Err(error) => {
                    let answer = Answer {
                        error: Some(failure_summary(&error)),
                        completion_tokens: Some(0),
                        ..Answer::default()
                    };
                    pending.store(answer, MessageStatus::Failed).await?;
                    Err(error)
                }
            };
        }
        match gateway.chat(caller, context, request).await {
            Ok(served) => {
                let choice = served.value.choices.into_iter().next().unwrap_or_default();
                let text = choice.message.content.unwrap_or_default();
                if let Some(job) = pending.title.as_mut() {
                    job.answer = text.clone();
                }
                let answer = Answer {
                    text,
                    reasoning: choice.message.reasoning_content.unwrap_or_default(),
                    completion_tokens: served.value.usage.map(|usage| usage.completion_tokens),
                    model: Some(served.by.model),
                    supplier: Some(served.by.supplier),
                    error: None,
                    finish_reason: choice.finish_reason.map(|reason| reason.as_str().to_owned()),
                };
                let answer = pending.store(answer, MessageStatus::Complete).await?;
                Ok(Reply::Whole(Box::new(Exchange { question, answer })))
            }
            Err(error) => {
                let answer = Answer {
                    error: Some(failure_summary(&error)),
                    completion_tokens: Some(0),
                    ..Answer::default()
                };
                pending.store(answer, MessageStatus::Failed).await?;
                Err(error)
            }
        }
    }

    /// The model's window and the reply's budget. For `auto`, the smallest window among the
    /// caller's models (any of them may answer).
    fn budget(
        &self,
        caller: &Caller,
        name: &str,
        asked: Option<i64>,
    ) -> Result<(Option<Arc<RoutableModel>>, ContextBudget), DomainError> {
        let settings = &self.settings;
        let (model, window, most) = if auto_category(name).is_some() {
            let window = self
                .ports
                .gateway
                .models(caller)
                .iter()
                .filter_map(|model| model.context_window)
                .min()
                .unwrap_or(settings.default_context_window);
            (None, window, None)
        } else {
            let model = self.ports.gateway.model(caller, name)?;
            let window = model.context_window.unwrap_or(settings.default_context_window);
            let most = model.max_output_tokens;
            (Some(model), window, most)
        };
        if let Some(asked) = asked
            && asked < 1
        {
            return Err(DomainError::validation(
                "max_tokens",
                "out_of_range",
                "must be at least 1",
            ));
        }
        let reply = asked
            .or(most)
            .unwrap_or(settings.default_reply_tokens)
            .min(window / 2)
            .max(1);
        Ok((model, ContextBudget { window, reply }))
    }

    /// The conversation's messages a context may use, oldest first, read newest first a page
    /// at a time until the window is full; `before` (an answer being regenerated, perhaps a
    /// failed one, which no context holds) and what came after it are left out.
    async fn history(
        &self,
        conversation: &Conversation,
        budget: ContextBudget,
        before: Option<&Message>,
    ) -> Result<Vec<Message>, DomainError> {
        let before = before.map(|message| (message.created_at, message.id));
        let tokenizer = self.ports.tokenizer.as_ref();
        let room = budget.window - budget.reply;
        let none = HashMap::new();
        let mut kept: Vec<Message> = Vec::new();
        let mut tokens = 0;
        let mut page = PageRequest::new(Some(PageRequest::MAX_LIMIT), None)?;
        'pages: loop {
            let read = self.ports.repo.context_page(conversation.id, page).await?;
            for message in read.items {
                if before.is_some_and(|before| (message.created_at, message.id) >= before) {
                    continue;
                }
                // Images and files count by a fixed cost and their size here (their text and
                // bytes load only for what is kept).
                tokens += estimate_message(tokenizer, &message.to_chat(&none)) + attachment_tokens(&message, room);
                kept.push(message);
                if tokens > room {
                    break 'pages;
                }
            }
            match read.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        kept.reverse();
        Ok(kept)
    }

    /// The chat request of a turn: the system prompt, the history that fits, the question;
    /// the files they hold loaded (a text document takes at most half the room).
    async fn request(
        &self,
        user: &Principal,
        conversation: &Conversation,
        history: &[Message],
        question: &Message,
        budget: ContextBudget,
        options: TurnOptions,
    ) -> Result<ChatRequest, DomainError> {
        let tokenizer = self.ports.tokenizer.as_ref();
        let holding: Vec<&Message> = history.iter().chain([question]).collect();
        let room = budget.window - budget.reply;
        let files = load(&self.ports.files, tokenizer, user, &holding, room / 2).await?;
        let system = conversation.spec.system_prompt.as_ref().map(|prompt| ChatMessage {
            role: Some(ChatRole::System),
            content: MessageContent::Text(prompt.clone()),
            ..ChatMessage::default()
        });
        let history: Vec<ChatMessage> = history.iter().map(|message| message.to_chat(&files)).collect();
        let context = assemble(tokenizer, system, &history, question.to_chat(&files), budget)?;
        Ok(ChatRequest {
            model: conversation.spec.model.clone(),
            messages: context.messages,
            // The reply's budget the context was cut for (the caller's ask, capped).
            max_tokens: options.max_tokens.map(|_| budget.reply),
            stream: options.stream,
            include_usage: options.stream,
            ..ChatRequest::default()
        })
    }
}

/// Tokens an image costs in a context (OpenAI's high-detail tile count for a large image).
const IMAGE_TOKENS: i64 = 1_105;

/// What a message's images and files take in a context, before they are loaded: a fixed cost
/// per image, a document's bytes over four (cut to half the room, as it will be).
fn attachment_tokens(message: &Message, room: i64) -> i64 {
    message
        .parts
        .iter()
        .map(|part| match part {
            Part::Text(_) => 0,
            Part::Image { .. } => IMAGE_TOKENS,
            Part::File { media_type, .. } if media_type.is_image() => IMAGE_TOKENS,
            Part::File { .. } => room / 2,
        })
        .sum()
}

/// The gateway's caller for a user's own session: every model, no gateway key.
fn caller(user: &Principal) -> Caller {
    Caller {
        user_id: user.user_id(),
        key_id: None,
        allowed_models: Vec::new(),
        // No key: only the user's limits (from the identity cache) apply.
        key_limits: Default::default(),
    }
}
