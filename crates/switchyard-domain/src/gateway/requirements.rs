//! What a request needs of its model, checked before any upstream call: images need a model
//! that takes images, tools need `tool_calling`, a JSON response format needs `json_mode`, a chat
//! needs a chat model and embeddings an embedding model, `max_tokens` stays within the model's
//! most output, and values the catalog types (temperature, top_p, …) stay within their ranges.
//!
//! A model that declares no capabilities at all is taken at its word for none of them: the
//! capability rules apply only to models whose capabilities the catalog lists (a bare model an
//! operator added by hand still works); limits and typed parameters always apply.

use serde_json::Value;

use crate::catalog::capability::Modality;
use crate::catalog::model::{ModelType, SubType};
use crate::catalog::parameter::ParameterSpec;
use crate::gateway::chat::{ChatRequest, ResponseFormat};
use crate::gateway::embedding::EmbeddingRequest;
use crate::gateway::routing::RoutableModel;
use crate::kernel::error::DomainError;

/// The code of a request its model cannot serve, in the call log.
pub const UNSUPPORTED_BY_MODEL: &str = "unsupported_by_model";
/// The capability a request with tools needs.
pub const TOOL_CALLING: &str = "tool_calling";
/// The capability a JSON response format needs.
pub const JSON_MODE: &str = "json_mode";

fn is_embedding(model: &RoutableModel) -> bool {
    model.sub_type == SubType::Embedding || model.model_type == ModelType::Embedding
}

fn unsupported(field: &str, message: String) -> DomainError {
    DomainError::validation(field, UNSUPPORTED_BY_MODEL, message)
}

/// The request's values the catalog may type, by parameter name.
fn typed_values(request: &ChatRequest) -> [(&'static str, Option<Value>); 8] {
    [
        ("temperature", request.temperature.map(Value::from)),
        ("top_p", request.top_p.map(Value::from)),
        ("presence_penalty", request.presence_penalty.map(Value::from)),
        ("frequency_penalty", request.frequency_penalty.map(Value::from)),
        ("max_tokens", request.max_tokens.map(Value::from)),
        ("max_completion_tokens", request.max_completion_tokens.map(Value::from)),
        ("n", request.n.map(Value::from)),
        ("top_logprobs", request.top_logprobs.map(Value::from)),
    ]
}

/// A value against its parameter's range and allowed values.
fn within(parameter: &ParameterSpec, value: &Value) -> Result<(), DomainError> {
    let name = parameter.name.as_str();
    let number = value.as_f64();
    let bound = |bound: &Option<Value>| bound.as_ref().and_then(Value::as_f64);
    let (low, high) = (bound(&parameter.min_value), bound(&parameter.max_value));
    let outside =
        number.is_some_and(|number| low.is_some_and(|low| number < low) || high.is_some_and(|high| number > high));
    if outside {
        let range = match (&parameter.min_value, &parameter.max_value) {
            (Some(low), Some(high)) => format!("between {low} and {high}"),
            (Some(low), None) => format!("at least {low}"),
            (None, Some(high)) => format!("at most {high}"),
            (None, None) => String::new(),
        };
        return Err(DomainError::validation(
            name,
            "out_of_range",
            format!("{value} is outside this model's range: it must be {range}"),
        ));
    }
    if let Some(allowed) = &parameter.allowed_values {
        let matches =
            |candidate: &Value| candidate == value || candidate.as_f64().zip(number).is_some_and(|(a, b)| a == b);
        if !allowed.iter().any(matches) {
            let listed: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(DomainError::validation(
                name,
                "not_allowed",
                format!("{value} is not allowed for this model: one of {}", listed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Whether `model` can serve the chat `request`, or why not (naming the field).
pub fn check_chat(model: &RoutableModel, request: &ChatRequest) -> Result<(), DomainError> {
    if is_embedding(model) {
        return Err(unsupported(
            "model",
            format!("{} is an embedding model: call /v1/embeddings", model.name),
        ));
    }
    if !model.capabilities.is_empty() {
        let images = request.messages.iter().any(|message| message.content.has_images());
        if images && !model.input_types.contains(&Modality::Image) {
            return Err(unsupported("messages", format!("{} does not take images", model.name)));
        }
        let has = |capability: &str| model.capabilities.iter().any(|name| name == capability);
        if !request.tools.is_empty() && !has(TOOL_CALLING) {
            return Err(unsupported("tools", format!("{} cannot call tools", model.name)));
        }
        let json = matches!(
            request.response_format,
            Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })
        );
        if json && !has(JSON_MODE) {
            return Err(unsupported(
                "response_format",
                format!("{} has no JSON mode", model.name),
            ));
        }
    }
    if let (Some(asked), Some(most)) = (request.max_output(), model.max_output_tokens)
        && asked > most
    {
        let field = if request.max_completion_tokens.is_some() {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        return Err(DomainError::validation(
            field,
            "out_of_range",
            format!("{asked} is more than {}'s most output tokens, {most}", model.name),
        ));
    }
    for (name, value) in typed_values(request) {
        let (Some(value), Some(parameter)) = (value, model.parameters.iter().find(|parameter| parameter.name == name))
        else {
            continue;
        };
        within(parameter, &value)?;
    }
    Ok(())
}

/// Whether `model` can serve the embedding `request`.
pub fn check_embedding(model: &RoutableModel, _request: &EmbeddingRequest) -> Result<(), DomainError> {
    if !is_embedding(model) {
        return Err(unsupported(
            "model",
            format!("{} is not an embedding model", model.name),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::catalog::ids::ModelId;
    use crate::catalog::model::Pricing;
    use crate::catalog::parameter::ParameterType;
    use crate::gateway::chat::{ChatMessage, ContentPart, ImageSource, MessageContent, Tool};

    fn model(capabilities: &[&str], inputs: &[Modality]) -> RoutableModel {
        RoutableModel {
            id: ModelId(uuid::Uuid::now_v7()),
            name: "m".into(),
            display_name: "M".into(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            model_type: ModelType::Language,
            sub_type: SubType::Chat,
            context_window: None,
            max_output_tokens: Some(1000),
            api_version: None,
            pricing: Pricing {
                input: 0,
                cached_input: None,
                output: 0,
                currency: "USD".into(),
            },
            capabilities: capabilities.iter().map(|name| (*name).to_owned()).collect(),
            input_types: inputs.iter().copied().collect::<BTreeSet<_>>(),
            output_types: BTreeSet::new(),
            parameters: vec![ParameterSpec {
                name: "temperature".into(),
                parameter_type: ParameterType::Float,
                default_value: None,
                min_value: Some(json!(0)),
                max_value: Some(json!(1)),
                allowed_values: None,
                description: None,
            }],
            fallback_models: Vec::new(),
            categories: Vec::new(),
            routes: Vec::new(),
            rate_limit_per_minute: None,
            turns: Default::default(),
        }
    }

    fn with_image() -> ChatRequest {
        ChatRequest {
            messages: vec![ChatMessage {
                content: MessageContent::Parts(vec![ContentPart::Image {
                    source: ImageSource::Url("https://x/cat.png".into()),
                    detail: None,
                }]),
                ..ChatMessage::default()
            }],
            ..ChatRequest::default()
        }
    }

    fn field(outcome: Result<(), DomainError>) -> Option<String> {
        match outcome {
            Err(DomainError::Validation { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn images_tools_and_json_need_their_capabilities() {
        let text_only = model(&["text_generation"], &[Modality::Text]);
        assert_eq!(
            field(check_chat(&text_only, &with_image())).as_deref(),
            Some("messages")
        );
        let vision = model(&["text_generation", "vision"], &[Modality::Text, Modality::Image]);
        assert_eq!(check_chat(&vision, &with_image()), Ok(()));
        let tools = ChatRequest {
            tools: vec![Tool {
                name: "t".into(),
                description: None,
                parameters: json!({}),
                strict: None,
            }],
            ..ChatRequest::default()
        };
        assert_eq!(field(check_chat(&text_only, &tools)).as_deref(), Some("tools"));
        assert_eq!(check_chat(&model(&[TOOL_CALLING], &[]), &tools), Ok(()));
        let json = ChatRequest {
            response_format: Some(ResponseFormat::JsonObject),
            ..ChatRequest::default()
        };
        assert_eq!(field(check_chat(&text_only, &json)).as_deref(), Some("response_format"));
        // A model that declares nothing is not held to capabilities.
        assert_eq!(check_chat(&model(&[], &[]), &with_image()), Ok(()));
    }

    #[test]
    fn limits_and_typed_parameters_hold_for_every_model() {
        let bare = model(&[], &[]);
        let long = ChatRequest {
            max_completion_tokens: Some(1001),
            ..ChatRequest::default()
        };
        assert_eq!(
            field(check_chat(&bare, &long)).as_deref(),
            Some("max_completion_tokens")
        );
        let hot = ChatRequest {
            temperature: Some(1.5),
            ..ChatRequest::default()
        };
        let error = check_chat(&bare, &hot).expect_err("out of range");
        assert!(error.to_string().contains("between 0 and 1"), "{error}");
        let mut embedding = bare.clone();
        embedding.sub_type = SubType::Embedding;
        assert_eq!(
            field(check_chat(&embedding, &ChatRequest::default())).as_deref(),
            Some("model")
        );
        assert_eq!(check_embedding(&embedding, &EmbeddingRequest::default()), Ok(()));
        assert_eq!(
            field(check_embedding(&bare, &EmbeddingRequest::default())).as_deref(),
            Some("model")
        );
    }
}
