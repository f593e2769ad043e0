//! Conversations kept on the server: a user's chat history over any model, sent through the
//! gateway a turn at a time. So far: how a turn's context is assembled from the history.

pub mod context;
