//! Replicate's predictions: a create (per model, or with a `version`) that answers the finished
//! prediction when asked to `Prefer: wait`, and otherwise a `starting` one whose URLs point back
//! here; the prediction's poll (finished, with its output pieces and token metrics); its SSE
//! stream (`output` events of plain text, then `done`); and its cancel, which is remembered.
//! Reasoning and tool calls have no place in Replicate's Llama models and are ignored.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::Protocol;
use crate::errors;
use crate::exchange::{Opening, begin, follow_up, parse};
use crate::scenario::{Split, count};
use crate::sse::{self, Events, Frame};
use crate::state::{Prediction, Shared};

/// `POST /replicate/v1/models/{owner}/{name}/predictions`.
pub(crate) async fn create_for_model(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    let info = request.match_info();
    let model = format!(
        "{}/{}",
        info.get("owner").unwrap_or_default(),
        info.get("name").unwrap_or_default()
    );
    create(Some(model), request, body, shared).await
}

/// `POST /replicate/v1/predictions` (the model or version in the body's `version`).
pub(crate) async fn create_for_version(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    create(None, request, body, shared).await
}

/// Whether the create asks to wait for the answer (`Prefer: wait` or `wait=N`).
fn prefers_wait(request: &HttpRequest) -> bool {
    request
        .headers()
        .get("prefer")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("wait"))
}

async fn create(model: Option<String>, request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    let body = parse(&body);
    let wait = prefers_wait(&request);
    let mut opening = Opening::new(Protocol::Replicate, false);
    if !wait {
        // A create that does not wait answers at once; the stream is what takes time.
        opening = opening.without_first_byte_delay();
    }
    let scenario = match begin(&shared, opening, &request, &body).await {
        Ok(scenario) => scenario,
        Err(response) => return response,
    };
    let model = model.or_else(|| {
        let version = body["version"].as_str()?;
        Some(version.split(':').next().unwrap_or(version).to_owned())
    });
    let Some(model) = model else {
        return errors::json(
            422,
            &json!({"title": "Invalid input", "detail": "- version: version is required", "status": 422}),
        );
    };
    let prediction = Prediction {
        model,
        scenario,
        canceled: false,
    };
    let id = shared.add_prediction(prediction.clone());
    let status = if wait { Status::Succeeded } else { Status::Starting };
    let answer = prediction_json(&id, &prediction, status, &base_url(&request));
    HttpResponse::Created()
        .content_type("application/json")
        .body(answer.to_string())
}

/// `GET /replicate/v1/predictions/{id}`: the prediction, finished (or canceled).
pub(crate) async fn get(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    if let Some(refusal) = follow_up(&shared, Protocol::Replicate, &request, &body) {
        return refusal;
    }
    let id = request.match_info().get("id").unwrap_or_default();
    match shared.prediction(id) {
        Some(prediction) => {
            let status = if prediction.canceled {
                Status::Canceled
            } else {
                Status::Succeeded
            };
            errors::json(200, &prediction_json(id, &prediction, status, &base_url(&request)))
        }
        None => not_found(),
    }
}

/// `POST /replicate/v1/predictions/{id}/cancel`: remembered, answered `canceled`.
pub(crate) async fn cancel(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    if let Some(refusal) = follow_up(&shared, Protocol::Replicate, &request, &body) {
        return refusal;
    }
    let id = request.match_info().get("id").unwrap_or_default();
    match shared.cancel_prediction(id) {
        Some(prediction) => errors::json(
            200,
            &prediction_json(id, &prediction, Status::Canceled, &base_url(&request)),
        ),
        None => not_found(),
    }
}

/// `GET /replicate/v1/streams/{id}`: the prediction's output as server-sent events, paced and
/// failing as its scenario says.
pub(crate) async fn stream(request: HttpRequest, body: Bytes, shared: Data<Shared>) -> HttpResponse {
    if let Some(refusal) = follow_up(&shared, Protocol::Replicate, &request, &body) {
        return refusal;
    }
    let id = request.match_info().get("id").unwrap_or_default();
    let Some(prediction) = shared.prediction(id) else {
        return not_found();
    };
    let scenario = &prediction.scenario;
    if !scenario.first_byte_delay.is_zero() {
        tokio::time::sleep(scenario.first_byte_delay).await;
    }
    let pacing = sse::Pacing::of(scenario);
    sse::respond(OutputEvents::new(prediction), pacing, shared.into_inner())
}

fn not_found() -> HttpResponse {
    errors::not_found(Protocol::Replicate, "Not found.")
}

/// Where this server's Replicate API is, for the prediction's URLs.
fn base_url(request: &HttpRequest) -> String {
    format!(
        "http://{}{}",
        request.app_config().local_addr(),
        Protocol::Replicate.base_path()
    )
}

/// The states a prediction is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Starting,
    Succeeded,
    Canceled,
}

fn prediction_json(id: &str, prediction: &Prediction, status: Status, base: &str) -> Value {
    let scenario = &prediction.scenario;
    let mut answer = json!({
        "id": id,
        "model": prediction.model,
        "version": "hidden",
        "input": {},
        "logs": "",
        "output": null,
        "error": null,
        "status": match status {
            Status::Starting => "starting",
            Status::Succeeded => "succeeded",
            Status::Canceled => "canceled",
        },
        "source": "api",
        "urls": {
            "get": format!("{base}/predictions/{id}"),
            "cancel": format!("{base}/predictions/{id}/cancel"),
            "stream": format!("{base}/streams/{id}"),
            "web": format!("https://replicate.com/p/{id}"),
        },
    });
    if status == Status::Succeeded {
        let split = Split::new(&scenario.text, scenario.chunks);
        let output: Vec<&str> = (0..split.len()).map(|piece| split.get(&scenario.text, piece)).collect();
        answer["output"] = json!(output);
        let predict_time =
            scenario.first_byte_delay.as_secs_f64() + scenario.chunk_interval.as_secs_f64() * split.len() as f64;
        answer["metrics"] = json!({
            "input_token_count": scenario.usage.prompt,
            "output_token_count": scenario.usage.completion,
            "predict_time": predict_time,
            "total_time": predict_time,
        });
    }
    answer
}

/// The prediction's output as `output` events, then `done`.
struct OutputEvents {
    prediction: Prediction,
    text: Split,
    next: usize,
    done: bool,
}

impl OutputEvents {
    fn new(prediction: Prediction) -> Self {
        // A canceled prediction streams nothing more and says why it is done.
        let text = if prediction.canceled {
            Split::default()
        } else {
            Split::new(&prediction.scenario.text, prediction.scenario.chunks)
        };
        Self {
            prediction,
            text,
            next: 0,
            done: false,
        }
    }
}

/// An `output` event: a piece with line breaks is sent as several `data:` lines, as SSE wants
/// (the client joins them with `\n`).
fn output_frame(piece: &str, index: usize) -> Frame {
    let mut frame = format!("event: output\nid: {}\n", count(index));
    for line in piece.split('\n') {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    Frame::raw(frame).content()
}

impl Events for OutputEvents {
    fn next_frame(&mut self) -> Option<Frame> {
        if self.next < self.text.len() {
            let piece = self.text.get(&self.prediction.scenario.text, self.next);
            let frame = output_frame(piece, self.next);
            self.next += 1;
            return Some(frame);
        }
        if self.done {
            return None;
        }
        self.done = true;
        let reason = if self.prediction.canceled {
            json!({"reason": "canceled"})
        } else {
            json!({})
        };
        Some(Frame::event("done", &reason))
    }

    fn content_total(&self) -> usize {
        self.text.len()
    }

    fn error_frame(&self) -> Frame {
        Frame::event("error", &json!({"detail": "mid-stream failure"}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_with_line_breaks_are_sent_as_several_data_lines() {
        let frame = output_frame("one\ntwo", 3);
        assert_eq!(
            frame,
            Frame::raw("event: output\nid: 3\ndata: one\ndata: two\n\n".into()).content()
        );
    }
}
